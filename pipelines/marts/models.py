"""The SQL models in `sql/`: found by file, documented by the YAML beside them.

`sql/dimensions/<name>.sql`, `sql/staging/<name>.sql` and `sql/marts/<name>.sql` are Athena-dialect
SELECTs with two named parameters, `:start` and `:end` (partition keys, `YYYY-MM-DD` strings),
returning the rows of every partition in that range with the partition column `dt` last. `models.yml` in the same folder
documents each model (description, partitioning, grain, every column with its Athena type) and
lists its checks. A `.sql` file without a YAML entry is still a model: its columns and types are
then whatever the query returns, and it is partitioned by day.

Lake names: dimension snapshots live in the zone `dim` (`dim_catalog`), staging models in the
zone `stg` (a model named `stg_sales` is the table `stg_sales`), state models in the zone `state`
(`state_first_purchase`), marts in the zone `marts` (`seller_daily_sales` is
`marts_seller_daily_sales`). The models read each other, and the raw tables, by those names.
Dimension models are snapshots: a day's partition, once taken after the day ended, is kept
(pipelines/marts/snapshots.py).

A model may read its own partitions before `:start` (a state table: first purchases, running
totals): that is not a cycle. Its columns must be documented, so that its first build - when it has
no partition before `:start` yet - reads its own table as an empty relation of those columns
(`without_own_history`). See docs/incremental.md.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot
import yaml
from sqlglot import exp

from pipelines.ingest.schemas import RAW_TABLES, UTC_MS
from pipelines.lake.partitions.layout import glue_table_name

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LAYERS = {"dimensions": "dim", "staging": "stg", "state": "state", "marts": "marts"}  # folder -> lake zone
PARTITIONINGS = ("day", "month")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Athena type -> the lake's Arrow type (what Glue and Athena read back as that type)
ATHENA_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "string": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "smallint": pa.int16(),
    "double": pa.float64(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": UTC_MS,
}


class ModelError(ValueError):
    """A model or its YAML is malformed."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str

    @property
    def arrow_type(self) -> pa.DataType:
        return ATHENA_TYPES[self.type]


@dataclass(frozen=True)
class Model:
    name: str
    layer: str  # dimensions | staging | state | marts
    path: Path
    sql: str
    description: str = ""
    partitioned_by: str = "day"
    grain: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    checks: dict[str, Any] = field(default_factory=dict, compare=False)
    documented: bool = False
    chunk: int | None = None  # partitions per query (models that read their history: many)
    packed: bool = False  # `packs: month`: each month's days also kept in one file (lake/partitions/packs.py)
    pack_keys: tuple[str, ...] = ()  # `pack_keys`: the columns it is looked up by, also kept alone beside each pack

    @property
    def zone(self) -> str:
        return LAYERS[self.layer]

    @property
    def snapshot(self) -> bool:
        """A dimension snapshot: its partitions are taken once (pipelines/marts/snapshots.py)."""
        return self.layer == "dimensions"

    @property
    def lake_name(self) -> str:
        """The name other models (and Athena) use for this model's table."""
        return glue_table_name(self.zone, self.name)

    @property
    def schema(self) -> pa.Schema | None:
        """The Arrow schema of the files (without `dt`), or None when the YAML does not say."""
        if not self.columns:
            return None
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns if c.name != "dt"])

    @functools.cached_property
    def reads(self) -> tuple[str, ...]:
        """Lake tables the SQL reads (lower-case names), CTEs excluded."""
        return tuple(sorted(n for n in _references(self.sql)[0]))

    @property
    def reads_itself(self) -> bool:
        """Whether the SQL reads the model's own earlier partitions (a state table)."""
        return self.lake_name in self.reads

    @functools.cached_property
    def federated(self) -> tuple[str, ...]:
        """DynamoDB tables the SQL reads through the federated catalog."""
        return tuple(sorted(_references(self.sql)[1]))


@functools.lru_cache(maxsize=256)
def _references(sql: str) -> tuple[frozenset[str], frozenset[str]]:
    try:
        tree = sqlglot.parse_one(sql, read="athena")
    except sqlglot.errors.ParseError as exc:
        raise ModelError(f"does not parse in Athena's dialect: {exc}") from exc
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    lake: set[str] = set()
    dynamo: set[str] = set()
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if not name:
            continue  # UNNEST and other table functions
        if table.catalog.lower() == "dynamodb":
            dynamo.add(name)
        elif not table.db and name in ctes:
            continue
        else:
            lake.add(name)
    return frozenset(lake), frozenset(dynamo)


def _load_yaml(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get("models") or []
    if not isinstance(entries, list):
        raise ModelError(f"{path}: `models` must be a list")
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ModelError(f"{path}: every model needs a name")
        out[entry["name"]] = entry
    return out


def _model(layer: str, path: Path, doc: dict[str, Any] | None) -> Model:
    name = path.stem
    if not NAME.match(name):
        raise ModelError(f"{path}: model names are lower-case letters, digits and _")
    sql = path.read_text()
    columns = _columns(path, doc or {})
    if not columns and glue_table_name(LAYERS[layer], name) in _references(sql)[0]:
        raise ModelError(f"{path.name}: a model that reads its own partitions must document its columns")
    if doc is None:
        return Model(name=name, layer=layer, path=path, sql=sql, description=_header(sql))
    partitioned_by = doc.get("partitioned_by", "day")
    if partitioned_by not in PARTITIONINGS:
        raise ModelError(f"{path.name}: partitioned_by must be one of {PARTITIONINGS}")
    return Model(
        name=name,
        layer=layer,
        path=path,
        sql=sql,
        description=doc.get("description") or _header(sql),
        partitioned_by=partitioned_by,
        grain=tuple(doc.get("grain") or ()),
        columns=tuple(columns),
        checks=dict(doc.get("checks") or {}),
        documented=True,
        chunk=_chunk(path, doc.get("chunk")),
        packed=_packed(path, doc.get("packs"), partitioned_by),
        pack_keys=_pack_keys(path, doc, columns),
    )


def _columns(path: Path, doc: dict[str, Any]) -> list[Column]:
    columns = []
    for c in doc.get("columns") or []:
        if c.get("type") not in ATHENA_TYPES:
            raise ModelError(f"{path.name}: column {c.get('name')!r} has unknown type {c.get('type')!r}")
        if not c.get("description"):
            raise ModelError(f"{path.name}: column {c.get('name')!r} is not documented")
        columns.append(Column(c["name"], c["type"], c["description"]))
    if columns and columns[-1].name != "dt":
        raise ModelError(f"{path.name}: the last column must be the partition column dt")
    return columns


def _chunk(path: Path, value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or value < 1:
        raise ModelError(f"{path.name}: chunk must be a positive number of partitions")
    return value


def _packed(path: Path, value: Any, partitioned_by: str) -> bool:
    if value is None:
        return False
    if value != "month" or partitioned_by != "day":
        raise ModelError(f"{path.name}: packs must be 'month', for a model partitioned by day")
    return True


def _pack_keys(path: Path, doc: dict[str, Any], columns: list[Column]) -> tuple[str, ...]:
    keys = doc.get("pack_keys")
    if keys is None:
        return ()
    if doc.get("packs") is None:
        raise ModelError(f"{path.name}: pack_keys needs packs")
    names = [c.name for c in columns]
    if not isinstance(keys, list) or not keys or any(k not in names or k == "dt" for k in keys):
        raise ModelError(f"{path.name}: pack_keys must list documented columns other than dt, not {keys!r}")
    return tuple(keys)


def _header(sql: str) -> str:
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(lines)


def discover(sql_dir: Path | str = SQL_DIR) -> dict[str, Model]:
    """Every model under `sql_dir`, in dependency order (a model after the models it reads)."""
    sql_dir = Path(sql_dir)
    found: dict[str, Model] = {}
    for layer in LAYERS:
        folder = sql_dir / layer
        if not folder.is_dir():
            continue
        docs = _load_yaml(folder / "models.yml")
        for path in sorted(folder.glob("*.sql")):
            model = _model(layer, path, docs.get(path.stem))
            if model.name in found:
                raise ModelError(f"two models named {model.name}")
            found[model.name] = model
        stray = set(docs) - {p.stem for p in folder.glob("*.sql")}
        if stray:
            raise ModelError(f"{folder / 'models.yml'} documents models without SQL: {sorted(stray)}")
    return _ordered(found)


def upstream(model: Model, models: dict[str, Model]) -> tuple[list[str], list[str]]:
    """(models it reads, raw tables it reads) by name; anything else it reads is an error."""
    by_lake_name = {m.lake_name: m.name for m in models.values()}
    deps, raw = [], []
    for name in model.reads:
        if name == model.lake_name:
            continue  # its own earlier partitions: state, not a cycle
        if name in by_lake_name:
            deps.append(by_lake_name[name])
        elif name in RAW_TABLES:
            raw.append(name)
        else:
            raise ModelError(f"{model.name} reads {name!r}, which is neither a model nor a raw table")
    return deps, raw


def _ordered(models: dict[str, Model]) -> dict[str, Model]:
    order: dict[str, Model] = {}
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ModelError(f"models read each other in a cycle through {name}")
        visiting.add(name)
        for dep in upstream(models[name], models)[0]:
            visit(dep)
        visiting.discard(name)
        order[name] = models[name]

    for name in models:
        visit(name)
    return order


def without_own_history(model: Model) -> str:
    """The model's SQL with every reference to its own table replaced by an empty relation of its
    documented columns: what its first build reads, when no partition before `:start` exists yet
    (the table may not even exist, in the lake or in Glue)."""
    columns = [exp.alias_(exp.cast(exp.null(), exp.DataType.build(c.type, dialect="athena")), c.name)
               for c in model.columns]  # fmt: skip
    empty = exp.select(*columns).from_(exp.values([(0,)], alias="nothing", columns=["x"])).where(exp.false())
    tree = sqlglot.parse_one(model.sql, read="athena")
    for table in list(tree.find_all(exp.Table)):
        if table.name.lower() != model.lake_name or table.catalog.lower() == "dynamodb":
            continue
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Subquery(this=empty.copy(), alias=alias.copy()))
    return tree.sql(dialect="athena", pretty=True, comments=False)
