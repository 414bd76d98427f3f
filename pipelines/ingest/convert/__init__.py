"""DynamoDB JSON items -> typed Arrow batches of the raw lake, with the contract's validation.

Items arrive as DynamoDB JSON (`{"qty": {"N": "2"}}`), either as Python dicts (`convert_page`,
`convert_items`) or as the raw bytes of a Query response (`convert_body`). Both are turned into a
*wire* `StructArray` in C++ (`pa.array` on the dicts; on the bytes `pipelines.dynamodb_wire`, the
decoder the federated SQL reads share: no per-item Python objects at all), whose columns are the
attributes and whose leaves are the DynamoDB type tags (`event_id.S`, `qty.N`,
`lines.L[].M.qty.N`). Every rule then runs vectorised on those
columns (RE2 patterns, integer and timestamp casts, ranges), and the clean rows are cast to the
schemas of `pipelines.ingest.schemas`.

An item that breaks any rule goes to quarantine, with *all* the reasons found and the item as it
was received (`item_json`), never into the clean batch and never dropped. For `order_events` the
rules are those of `gitgoods/contract/events.schema.json` (patterns, enums and bounds are read from
it), plus a few that are stricter than the schema and specific to ingesting a day partition:

- the timestamp must be a real instant inside the partition's UTC day (the schema only has a
  pattern), and `day_shard` must be one of that day's shards;
- integers are DynamoDB's normal form of a non-negative integer of at most 18 digits (the schema
  would also take `1.0`, `1e2` or a 20-digit number, which DynamoDB never sends as such for an
  integer and int64 cannot hold);
- patterns are matched with RE2, where `\\d` is ASCII and `$` is the end of the text (Python's `re`,
  which the JSON-schema validator uses, also takes other digits and a trailing newline).

Sales have no JSON schema; their rules are in `table_rules._sales`. Attributes a sale has beyond
the contract are not an error (they are reported in `PageResult.unknown_attributes` for a
schema-change check); an event with an unknown attribute breaks `additionalProperties: false` and
is quarantined.

The modules, each of one purpose (this package re-exports nothing: import from them):

- `rows`: the entry points (`convert_page`, `convert_items`, `convert_body`, `convert_wire`,
  `convert_wire_by_day`) and the row assembly behind them;
- `results`: `PageResult`, `quarantine_batch`, `merge_results`;
- `wire`: the wire types of each table, `contract_table`, `TIME_ATTRIBUTE`, `AMOUNT_ATTRIBUTE`,
  `read_wire_json`;
- `unknown`: attributes beyond the contract;
- `validation`: the validation toolkit (failures, typed attribute access and generic rules, days);
- `table_rules`: the rules of `order_events` and `sales`;
- `contract`: the patterns, enums and bounds read from the contract's schema;
- `integers`: `amount_cents` read for reconciliation (`readable_amount`, by
  `gitgoods.dynamodb.read_number`'s rule);
- `arrays`: small vectorised Arrow helpers.
"""
