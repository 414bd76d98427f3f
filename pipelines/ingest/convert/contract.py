"""The contract's rules as constants: the event patterns, enums, bounds and required attributes
read from `gitgoods/contract/events.schema.json` (checked against the contract's own lists), and
the sale rules' bounds (sales have no JSON schema)."""

from __future__ import annotations

from gitgoods.contract.events import FUNNEL_EVENT_TYPES, ORDER_EVENT_TYPES, SCHEMA_VERSION, schema

# -- the contract's rules, read from the one schema file ----------------------------------------
_PROPS = schema()["properties"]
_LINE_PROPS = _PROPS["lines"]["items"]["properties"]

EVENT_ID_RE = _PROPS["event_id"]["pattern"]
ORDER_ID_RE = _PROPS["order_id"]["pattern"]
SELLER_ID_RE = _LINE_PROPS["seller_id"]["pattern"]
PRODUCT_ID_RE = _LINE_PROPS["product_id"]["pattern"]
CUSTOMER_RE = _PROPS["customer"]["pattern"]
COUNTRY_RE = _PROPS["country"]["pattern"]
CURRENCY_RE = _PROPS["currency"]["pattern"]
TIMESTAMP_RE = _PROPS["occurred_at"]["pattern"]
DAY_SHARD_RE = _PROPS["day_shard"]["pattern"]
EVENT_TYPES = tuple(_PROPS["event_type"]["enum"])
KINDS = tuple(_LINE_PROPS["kind"]["enum"])
MAX_LINES = _PROPS["lines"]["maxItems"]
SESSION_ID_LEN = (_PROPS["session_id"]["minLength"], _PROPS["session_id"]["maxLength"])
LINE_RANGE = (_LINE_PROPS["line"]["minimum"], _LINE_PROPS["line"]["maximum"])
EVENT_QTY_RANGE = (_LINE_PROPS["qty"]["minimum"], _LINE_PROPS["qty"]["maximum"])
PLATFORM_MIN_LEN = _LINE_PROPS["platform"]["minLength"]
EVENT_REQUIRED = tuple(schema()["required"])
LINE_REQUIRED = tuple(schema()["properties"]["lines"]["items"]["required"])
_BRANCH = schema()["allOf"][0]
FUNNEL_REQUIRED = tuple(_BRANCH["then"]["required"])
ORDER_REQUIRED = tuple(_BRANCH["else"]["required"])
assert set(EVENT_TYPES) == set(ORDER_EVENT_TYPES + FUNNEL_EVENT_TYPES), "event types differ from the schema"
assert set(_BRANCH["if"]["properties"]["event_type"]["enum"]) == set(FUNNEL_EVENT_TYPES)
assert _PROPS["schema_version"]["const"] == SCHEMA_VERSION

SALE_QTY_RANGE = (1, 10)
SALE_STATUSES = ("placed", "cancelled", "refunded")
