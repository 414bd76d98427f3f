"""Change capture: DynamoDB Streams of `sales` and `order_events` into the lake's day partitions.

Modules: `shards` (reading a stream's shards in order, from stored positions), `apply` (a
micro-batch of records -> the affected day partitions, write-audit-publish), `checkpoint` (where a
stream's reading stands), `consumer` (the process that polls, applies, compacts, refreshes the day's
models and reports to Dagster). See docs/streams.md.
"""
