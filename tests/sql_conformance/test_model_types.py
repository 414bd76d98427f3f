"""The type of every output column of every model in `sql/`, three ways, all equal:

- derived: Athena's (Trino's) type worked out from the SQL alone (`pipelines.sql.athena_types`:
  sqlglot's typing with Trino's decimal and integer rules), given the types of what the model
  reads: the raw tables' Glue types, the upstream models' declared types, and the DynamoDB
  connector's types of the dimension tables;
- declared: the `type` of the column in models.yml (what the lake stores, what Glue declares);
- embedded: the Arrow type DuckDB returns when the model runs on the hand-made lake of
  tests/marts_data.py (before the runner conforms it to the declared schema).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlglot import exp

from gitgoods.settings import Settings
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.catalog import glue_type
from pipelines.lake.fs import LakeFS
from pipelines.marts.models import Model, discover
from pipelines.marts.runner import build, model_sql, partition_keys
from pipelines.sql.athena_types import output_types
from pipelines.sql.dialects import parse
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.marts_data import D1, D3, put_dimensions, write_raw
from tests.sql_conformance.harness import normal_type, trino_type

MODELS = discover()

# The DynamoDB connector's types of the attributes the dimension models read (tests/marts_data.py
# puts them: S -> varchar, N of whole numbers -> bigint, BOOL -> boolean; pipelines/sql/federated.py)
DYNAMODB = {
    "catalog": {"product_id": "varchar", "seller_id": "varchar", "title": "varchar", "kind": "varchar",
                "platform": "varchar", "genre": "varchar", "currency": "varchar", "price_cents": "bigint",
                "stock": "bigint", "active": "boolean"},
    "sellers": {"seller_id": "varchar", "display_name": "varchar", "country": "varchar", "currency": "varchar",
                "category": "varchar"},
}  # fmt: skip
# Athena's names of the Glue types (the raw tables' types come from their Arrow schemas via Glue)
_GLUE_NAMES = {"string": "varchar", "int": "integer"}


def _athena(name: str) -> str:
    return normal_type(_GLUE_NAMES.get(name, name))


def _inputs() -> dict[str, dict[str, str]]:
    """The Athena types of every table a model may read."""
    tables = {name: {f.name: glue_type(f.type) for f in schema} | {"dt": "string"}
              for name, (_, schema, _) in RAW_TABLES.items()}  # fmt: skip
    tables |= {f"dynamodb_{name}": columns for name, columns in DYNAMODB.items()}
    for model in MODELS.values():
        if model.columns:
            tables[model.lake_name] = {c.name: c.type for c in model.columns}
    return tables


def _local_names(model: Model) -> exp.Expr:
    """The model's tree with `dynamodb.default.x` read as the table `dynamodb_x`."""
    tree = parse(model.sql)[0]
    for table in tree.find_all(exp.Table):
        if table.catalog.lower() == "dynamodb":
            table.replace(exp.table_(f"dynamodb_{table.name}", alias=table.alias or None))
    return tree


def derived(model: Model) -> dict[str, str]:
    return {name: _athena(kind) for name, kind in output_types(_local_names(model), _inputs()).items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_derived_types_are_the_declared_types(name: str) -> None:
    model = MODELS[name]
    declared = {c.name: _athena(c.type) for c in model.columns}
    assert declared, f"{name}: models.yml declares no column types"
    assert derived(model) == declared


@pytest.fixture(scope="module")
def lake_engine(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LakeFS, DuckDBEngine]]:
    s = settings.model_copy(update={"table_prefix": f"t{uuid.uuid4().hex[:8]}-"})
    put_dimensions(s)
    lake = LakeFS.from_uri(f"file://{tmp_path_factory.mktemp('types')}/lake", s)
    write_raw(lake)
    with DuckDBEngine(s, lake=lake) as engine:
        for model in MODELS.values():
            end = "2030-02-01" if model.partitioned_by == "month" else D3
            build(model, D1, end, engine=engine, lake=lake)
        yield lake, engine


@pytest.mark.parametrize("name", list(MODELS))
def test_the_embedded_engine_returns_the_declared_types(name: str, lake_engine: tuple[LakeFS, DuckDBEngine]) -> None:
    lake, engine = lake_engine
    model = MODELS[name]
    keys = partition_keys(model, D1, "2030-02-01" if model.partitioned_by == "month" else D3)
    result = engine.query(model_sql(model, lake, keys[0]), {"start": keys[0], "end": keys[-1]})
    assert result.num_rows > 0, f"{name}: the test lake gives it no rows"
    returned = {f.name: normal_type(trino_type(f.type)) for f in result.schema}
    declared = {c.name: _athena(c.type) for c in model.columns}
    assert returned == declared
