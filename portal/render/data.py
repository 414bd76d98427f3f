"""A visual's data from the local SPICE snapshot of its data set.

Order of the steps (privacy first): the RLS rules of the viewer, then the viewed seller, then the
date range; only then calculated columns, grouping and aggregation, so no figure ever mixes
another seller's rows. The result is a small pyarrow table, one column per field of the visual
(named by FieldId), sorted and limited as the definition says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from portal.render import expressions as ex
from portal.render.errors import RenderError, visual_error
from portal.render.model import CHART_KINDS, Dashboard, Dimension, Measure, Sort, Visual, dataset_id_from_arn

SELLER_COLUMN = "seller_id"
RLS_USER, RLS_GROUP = "UserName", "GroupName"
OTHER = "Other"


class AllSellers:
    """An RLS grant of every seller (a matching rule with an empty seller_id)."""

    def __contains__(self, seller_id: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "AllSellers()"


ALL_SELLERS = AllSellers()
Grant = AllSellers | frozenset


def granted_sellers(rls: pa.Table | None, username: str, groups: frozenset[str] | set[str]) -> Grant:
    """The sellers the RLS rules grant a user: the rows with its UserName or one of its groups;
    a matching row with an empty or null seller_id grants every seller; no row grants nothing."""
    if rls is None or rls.num_rows == 0:
        return frozenset()
    missing = {RLS_USER, RLS_GROUP, SELLER_COLUMN} - set(rls.column_names)
    if missing:
        raise RenderError(f"RLS data set: columns {sorted(missing)} are missing")
    extra = set(rls.column_names) - {RLS_USER, RLS_GROUP, SELLER_COLUMN}
    if extra:
        raise RenderError(f"RLS data set: rule columns {sorted(extra)} are not supported (seller_id only)")
    user = pc.fill_null(pc.equal(rls[RLS_USER], username), False) if username else pa.scalar(False)
    in_groups = pc.fill_null(pc.is_in(rls[RLS_GROUP], value_set=pa.array(sorted(groups), pa.string())), False)
    mask = pc.or_(user, in_groups)
    values = pc.filter(rls[SELLER_COLUMN], mask).to_pylist()
    if any(v is None or str(v).strip() == "" for v in values):
        return ALL_SELLERS
    return frozenset(str(v) for v in values)


@dataclass(frozen=True)
class Column:
    """One output column of a visual's data."""

    field_id: str
    label: str
    role: str  # dimension | color | measure | target
    field: Dimension | Measure


@dataclass(frozen=True)
class VisualData:
    visual: Visual
    columns: tuple[Column, ...]
    table: pa.Table  # one column per `columns`, named by field id

    def rows(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    def column(self, field_id: str) -> list[Any]:
        return self.table[field_id].to_pylist()

    def by_role(self, role: str) -> list[Column]:
        return [c for c in self.columns if c.role == role]


def shown_columns(data: VisualData) -> list[Column]:
    """The columns the visual shows (not its hidden fields): on the page, in the PDF and the CSV."""
    hidden = data.visual.hidden_fields
    return [c for c in data.columns if c.field_id not in hidden]


def empty_data(visual: Visual) -> VisualData:
    """The visual's data when its data set has no snapshot yet: its columns, no rows."""
    columns = _output_columns(visual)
    return VisualData(visual, tuple(columns), pa.table({c.field_id: pa.array([], pa.null()) for c in columns}))


def _chunked(value: Any, num_rows: int) -> pa.ChunkedArray:
    """An evaluated expression as a column: a scalar repeated on every row, an array chunked."""
    if isinstance(value, pa.Scalar):
        value = pa.chunked_array([pa.array([value.as_py()] * num_rows, value.type)])
    if isinstance(value, pa.Array):
        value = pa.chunked_array([value])
    return value


def _as_timestamp(values: pa.ChunkedArray | pa.Array, what: str) -> pa.ChunkedArray | pa.Array:
    kind = values.type
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            values = pc.cast(values, pa.timestamp(kind.unit, tz="UTC"))
            values = pc.local_timestamp(values)
        return pc.cast(values, pa.timestamp("ms"))
    if pa.types.is_date(kind):
        return pc.cast(values, pa.timestamp("ms"))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.strptime(pc.utf8_slice_codeunits(values, 0, 10), format="%Y-%m-%d", unit="ms", error_is_null=True)
    raise RenderError(f"{what} is {kind}, not a date")


def _ts(day: date) -> pa.Scalar:
    return pa.scalar(datetime(day.year, day.month, day.day), pa.timestamp("ms"))


def _truncate(values: pa.ChunkedArray, granularity: str, week_start: str) -> pa.ChunkedArray:
    if granularity == "DAY":
        floored = pc.floor_temporal(values, unit="day")
    elif granularity == "WEEK":
        floored = pc.floor_temporal(values, unit="week", week_starts_monday=week_start == "MONDAY")
    else:
        floored = pc.floor_temporal(values, unit="month")
    return pc.cast(floored, pa.date32())


def applies_date_filter(dashboard: Dashboard, visual: Visual, table: pa.Table) -> bool:
    """The date-range filter applies to the visual: in scope, and its data set has the column
    (ALL_DATASETS: any data set with a column of that name; else the filter's own data set)."""
    f = dashboard.date_filter
    if f is None:
        return False
    if f.visual_ids is not None and visual.visual_id not in f.visual_ids:
        return False
    if not f.cross_dataset and visual.dataset != f.column.dataset:
        return False
    return f.column.name in table.column_names


def filter_rows(
    dashboard: Dashboard,
    visual: Visual,
    table: pa.Table,
    grant: Grant,
    seller_id: str,
    start: date | None,
    end: date | None,
) -> pa.Table:
    """RLS, then the seller, then the date range: the rows a visual of that seller may use."""
    if SELLER_COLUMN not in table.column_names:
        raise RenderError(
            f"visual {visual.visual_id!r}: data set {visual.dataset!r} has no {SELLER_COLUMN} column; "
            "a seller-facing visual must be filterable by seller"
        )
    sellers = table[SELLER_COLUMN]
    if not isinstance(grant, AllSellers):
        table = table.filter(pc.fill_null(pc.is_in(sellers, value_set=pa.array(sorted(grant), pa.string())), False))
        sellers = table[SELLER_COLUMN]
    table = table.filter(pc.fill_null(pc.equal(sellers, seller_id), False))
    if applies_date_filter(dashboard, visual, table) and (start is not None or end is not None):
        f = dashboard.date_filter
        assert f is not None
        days = _as_timestamp(table[f.column.name], f"column {f.column.name!r}")
        mask = pc.is_valid(days)
        if start is not None:
            low = start if f.include_minimum else start + timedelta(days=1)
            mask = pc.and_(mask, pc.greater_equal(days, _ts(low)))
        if end is not None:
            high = end + timedelta(days=1) if f.include_maximum else end
            mask = pc.and_(mask, pc.less(days, _ts(high)))
        table = table.filter(pc.fill_null(mask, False))
    return table


class _Builder:
    """Row-level columns, aggregations and post-aggregation expressions of one visual."""

    def __init__(self, visual: Visual, table: pa.Table, week_start: str) -> None:
        self.visual = visual
        self.table = table
        self.week_start = week_start
        self.columns: dict[str, pa.ChunkedArray] = {}
        self.aggs: dict[ex.Agg, str] = {}

    def error(self, what: str) -> RenderError:
        return visual_error(self.visual.visual_id, self.visual.type_name, what)

    def source(self, name: str) -> pa.ChunkedArray:
        if name not in self.table.column_names:
            raise self.error(f"column {name!r} is not in the data set {self.visual.dataset!r}")
        return self.table[name]

    def row_level(self, node: ex.Node) -> pa.ChunkedArray:
        return _chunked(ex.evaluate(node, self.source), self.table.num_rows)

    def dimension(self, index: int, dim: Dimension) -> str:
        name = f"__d{index}"
        values = self.row_level(dim.expression) if dim.expression is not None else self.source(dim.column.name)
        if dim.kind == "date":
            values = _truncate(
                _as_timestamp(values, f"column {dim.column.name!r}"), dim.granularity or "DAY", self.week_start
            )
        self.columns[name] = values
        return name

    def agg(self, node: ex.Agg) -> str:
        if node not in self.aggs:
            i = len(self.aggs)
            operand = node.operand
            values = self.source(operand.name) if isinstance(operand, ex.Ref) else self.row_level(operand)
            if node.func in ("sum", "avg") and not (
                pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_null(values.type)
            ):
                raise self.error(f"{node.func}() of a {values.type} column")
            self.columns[f"__o{i}"] = values
            self.aggs[node] = f"__o{i}"
        return self.aggs[node]


def _group(builder: _Builder, keys: list[str], table_columns: dict[str, pa.ChunkedArray]) -> pa.Table:
    base = pa.table(table_columns) if table_columns else pa.table({"__n": pa.nulls(builder.table.num_rows)})
    specs = [(col, ex.ARROW_AGGREGATE[agg.func]) for agg, col in builder.aggs.items()]
    grouped = base.group_by(keys, use_threads=False).aggregate(specs)
    if builder.table.num_rows == 0 and not keys:
        return grouped.slice(0, 0)
    return grouped


def _evaluate_measure(measure: Measure, grouped: pa.Table, builder: _Builder) -> pa.ChunkedArray:
    def aggregated(node: ex.Agg) -> pa.ChunkedArray:
        col = builder.aggs[node]
        return grouped[f"{col}_{ex.ARROW_AGGREGATE[node.func]}"]

    def no_column(name: str) -> Any:
        raise builder.error(f"{{{name}}} outside an aggregation in a measure")

    return _chunked(ex.evaluate(measure.expression, no_column, aggregated), grouped.num_rows)


def compute(
    dashboard: Dashboard,
    visual: Visual,
    rows: pa.Table,
) -> VisualData:
    """Group the (already filtered) rows by the visual's dimensions and aggregate its measures."""
    columns = _output_columns(visual)
    if visual.kind == "table" and not visual.measures and not visual.dimensions:
        raise visual_error(visual.visual_id, visual.type_name, "no fields")
    result = _aggregate(dashboard, visual, rows, columns)
    limit_dims = visual.dimensions if visual.kind in CHART_KINDS else ()
    if visual.limit is not None and limit_dims:
        order = result[columns[0].field_id].to_pylist()
        top: list[Any] = []
        for value in order:
            if value not in top:
                top.append(value)
        keep = top[: visual.limit]
        if len(top) > len(keep):
            dim = visual.dimensions[0]
            if visual.other_categories and dim.kind == "category":
                relabel = _relabel_other(rows, dim, keep)
                result = _aggregate(dashboard, replace(visual, limit=None), relabel, columns, other_last=True)
            else:
                mask = pc.is_in(result[columns[0].field_id], value_set=pa.array(keep, result[columns[0].field_id].type))
                result = result.filter(mask)
    return VisualData(visual, tuple(columns), result)


def _relabel_other(rows: pa.Table, dim: Dimension, keep: list[Any]) -> pa.Table:
    name = dim.column.name
    values = rows[name] if dim.expression is None else None
    if values is None:  # a calculated category: label on the evaluated column
        raise RenderError(f"'Other' categories of a calculated dimension {name!r} are not supported")
    strings = pc.cast(values, pa.string())
    kept = pc.fill_null(
        pc.is_in(strings, value_set=pa.array([str(k) for k in keep if k is not None], pa.string())), False
    )
    relabelled = pc.if_else(kept, strings, pa.scalar(OTHER))
    return rows.set_column(rows.column_names.index(name), name, relabelled)


def _output_columns(visual: Visual) -> list[Column]:
    out = [Column(d.field_id, d.label, "dimension", d) for d in visual.dimensions]
    out += [Column(d.field_id, d.label, "color", d) for d in visual.colors]
    out += [Column(m.field_id, m.label, "measure", m) for m in visual.measures]
    out += [Column(m.field_id, m.label, "target", m) for m in visual.targets]
    ids = [c.field_id for c in out]
    if len(set(ids)) != len(ids):
        raise RenderError(f"visual {visual.visual_id!r}: a FieldId is used twice")
    return out


def _aggregate(
    dashboard: Dashboard, visual: Visual, rows: pa.Table, columns: list[Column], other_last: bool = False
) -> pa.Table:
    builder = _Builder(visual, rows, dashboard.week_start)
    keys = []
    for i, dim in enumerate((*visual.dimensions, *visual.colors)):
        keys.append(builder.dimension(i, dim))
    measures = [*visual.measures, *visual.targets]
    for measure in measures:
        for node in ex.aggregations(measure.expression):
            builder.agg(node)
    sort_nodes: list[tuple[Sort, str]] = []
    for i, sort in enumerate(visual.sort):
        if sort.expression is not None and ex.is_aggregate(sort.expression):
            for node in ex.aggregations(sort.expression):
                builder.agg(node)
            sort_nodes.append((sort, f"__s{i}"))
    grouped = _group(builder, keys, {**builder.columns})
    out: dict[str, pa.ChunkedArray] = {}
    for key, dim in zip(keys, (*visual.dimensions, *visual.colors), strict=True):
        out[dim.field_id] = grouped[key]
    for measure in measures:
        out[measure.field_id] = _evaluate_measure(measure, grouped, builder)
    hidden: dict[str, pa.ChunkedArray] = {}
    for sort, name in sort_nodes:
        hidden[name] = _evaluate_measure(Measure(name, name, sort.expression), grouped, builder)  # type: ignore[arg-type]
    table = pa.table({**out, **hidden}) if out or hidden else pa.table({})
    if table.num_rows > 1:
        table = _sort(
            visual,
            table,
            keys_by_field=[d.field_id for d in (*visual.dimensions, *visual.colors)],
            sort_nodes=sort_nodes,
            other_last=other_last,
        )
    return table.select([c.field_id for c in columns])


def _sort(
    visual: Visual, table: pa.Table, keys_by_field: list[str], sort_nodes: list[tuple[Sort, str]], other_last: bool
) -> pa.Table:
    sort_keys: list[tuple[str, str]] = []
    if other_last and visual.dimensions:
        flag = pc.fill_null(pc.equal(pc.cast(table[visual.dimensions[0].field_id], pa.string()), OTHER), False)
        table = table.append_column("__other", flag)
        sort_keys.append(("__other", "ascending"))
    hidden = dict((id(s), n) for s, n in sort_nodes)
    for sort in visual.sort:
        direction = "descending" if sort.descending else "ascending"
        if sort.field_id is not None:
            sort_keys.append((sort.field_id, direction))
        elif id(sort) in hidden:
            sort_keys.append((hidden[id(sort)], direction))
        else:  # a ColumnSort by a dimension's own column
            match = next(
                (d.field_id for d in (*visual.dimensions, *visual.colors) if ex.Ref(d.column.name) == sort.expression),
                None,
            )
            if match is None:
                raise RenderError(f"visual {visual.visual_id!r}: sort by a column that is not one of its fields")
            sort_keys.append((match, direction))
    for name in keys_by_field:
        if all(name != k for k, _ in sort_keys):
            sort_keys.append((name, "ascending"))
    if not sort_keys:
        return table
    indices = pc.sort_indices(table, sort_keys=[(name, order, "at_end") for name, order in sort_keys])
    return table.take(indices)


def dataset_rls_id(visual: Visual, datasets: dict[str, dict]) -> str:
    """The id of the RLS data set attached to the visual's data set (required: a seller-facing
    data set without row-level security is refused)."""
    described = datasets.get(visual.dataset_arn)
    if described is None:
        raise RenderError(f"visual {visual.visual_id!r}: data set {visual.dataset_arn} is not described")
    rls = described.get("RowLevelPermissionDataSet") or {}
    if not rls.get("Arn") or rls.get("Status", "ENABLED") != "ENABLED":
        raise RenderError(f"visual {visual.visual_id!r}: data set {visual.dataset_arn} has no row-level security")
    if rls.get("PermissionPolicy", "GRANT_ACCESS") != "GRANT_ACCESS":
        raise RenderError(
            f"visual {visual.visual_id!r}: RLS PermissionPolicy {rls.get('PermissionPolicy')} is not supported"
        )
    if rls.get("FormatVersion", "VERSION_2") != "VERSION_2":
        raise RenderError(f"visual {visual.visual_id!r}: RLS FormatVersion {rls.get('FormatVersion')} is not supported")
    return dataset_id_from_arn(rls["Arn"])
