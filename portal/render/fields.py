"""A visual's fields parsed from its field wells: dimensions (category, date, number), measures
(every one an aggregate expression: `NumericalMeasureField` SUM of `{Gross}` is `sum({Gross})`,
row-level calculated fields inlined), sorts and the items limit."""

from __future__ import annotations

from portal.render import expressions as ex
from portal.render import formats
from portal.render.context import VisualContext, one_kind
from portal.render.errors import RenderError
from portal.render.model import Column, Dimension, Measure, Sort

GRANULARITIES = {"DAY", "WEEK", "MONTH"}
NUMERIC_AGGREGATIONS = {
    "SUM": "sum",
    "AVERAGE": "avg",
    "MIN": "min",
    "MAX": "max",
    "COUNT": "count",
    "DISTINCT_COUNT": "distinct_count",
}
AGGREGATION_LABELS = {
    "sum": "",
    "avg": " (Average)",
    "min": " (Min)",
    "max": " (Max)",
    "count": " (Count)",
    "distinct_count": " (Distinct count)",
}


def dimension(raw: dict, ctx: VisualContext, labels: dict[str, str]) -> Dimension:
    kind, body = one_kind(raw, ctx, "dimension field")
    kinds = {"CategoricalDimensionField": "category", "DateDimensionField": "date", "NumericalDimensionField": "number"}
    if kind not in kinds:
        raise ctx.error(f"dimension {kind} is not supported")
    field_id = body.get("FieldId") or ""
    column = ctx.column(body.get("Column"))
    expression = None
    calc = ctx.calc(column)
    if calc is not None:
        expression = ctx.resolved(calc, column, column.name)
        if ex.is_aggregate(expression):
            raise ctx.error(f"dimension {column.name!r} is an aggregate calculated field")
    granularity = None
    date_format = None
    if kind == "DateDimensionField":
        granularity = body.get("DateGranularity", "DAY")
        if granularity not in GRANULARITIES:
            raise ctx.error(f"DateGranularity {granularity} is not supported (DAY, WEEK, MONTH)")
        try:
            date_format = formats.date_format((body.get("FormatConfiguration") or {}).get("DateTimeFormat"))
        except RenderError as err:
            raise ctx.error(str(err)) from None
    # A `HierarchyId` (drill-down) only changes interaction: nothing to render for it.
    return Dimension(
        field_id=field_id,
        column=column,
        kind=kinds[kind],
        label=labels.get(field_id) or column.name,
        granularity=granularity,
        date_format=date_format,
        expression=expression,
    )


def measure(raw: dict, ctx: VisualContext, labels: dict[str, str]) -> Measure:
    kind, body = one_kind(raw, ctx, "measure field")
    field_id = body.get("FieldId") or ""
    if kind == "CalculatedMeasureField":
        text = body.get("Expression", "")
        try:
            node = ex.parse(text)
        except RenderError as err:
            raise ctx.error(str(err)) from None
        identifiers = ctx.datasets or set(ctx.d.datasets)
        if len(identifiers) != 1:
            raise ctx.error(f"CalculatedMeasureField {field_id!r}: cannot tell its data set")
        dataset = next(iter(identifiers))
        resolved = ctx.resolved(node, Column(dataset, field_id), text)
        if not ex.is_aggregate(resolved):
            raise ctx.error(f"CalculatedMeasureField {field_id!r}: {text!r} has no aggregation")
        return Measure(field_id, labels.get(field_id) or field_id, resolved)
    if kind == "NumericalMeasureField":
        column = ctx.column(body.get("Column"))
        function = body.get("AggregationFunction") or {}
        if function and set(function) != {"SimpleNumericalAggregation"}:
            raise ctx.error(f"aggregation {sorted(function)} of {column.name!r} is not supported")
        aggregation = function.get("SimpleNumericalAggregation")
        if aggregation is not None and aggregation not in NUMERIC_AGGREGATIONS:
            raise ctx.error(f"aggregation {aggregation} of {column.name!r} is not supported")
        fmt = formats.number_format(body.get("FormatConfiguration"), ctx)
        calc = ctx.calc(column)
        operand: ex.Node = ex.Ref(column.name)
        if calc is not None:
            operand = ctx.resolved(calc, column, column.name)
            if ex.is_aggregate(operand):
                if aggregation is not None:
                    raise ctx.error(f"{aggregation} of the aggregate calculated field {column.name!r}")
                return Measure(field_id, labels.get(field_id) or column.name, operand, fmt)
        func = NUMERIC_AGGREGATIONS[aggregation or "SUM"]
        label = labels.get(field_id) or column.name + AGGREGATION_LABELS[func]
        return Measure(field_id, label, ex.Agg(func, operand), fmt)
    if kind == "CategoricalMeasureField":
        column = ctx.column(body.get("Column"))
        aggregation = body.get("AggregationFunction", "COUNT")
        if aggregation not in ("COUNT", "DISTINCT_COUNT"):
            raise ctx.error(f"aggregation {aggregation} of {column.name!r} is not supported")
        calc = ctx.calc(column)
        operand = ctx.resolved(calc, column, column.name) if calc is not None else ex.Ref(column.name)
        func = NUMERIC_AGGREGATIONS[aggregation]
        return Measure(field_id, labels.get(field_id) or column.name + AGGREGATION_LABELS[func], ex.Agg(func, operand))
    raise ctx.error(f"measure {kind} is not supported")


def sorts(raw: list | None, ctx: VisualContext) -> tuple[Sort, ...]:
    out = []
    for item in raw or []:
        kind, body = one_kind(item, ctx, "sort")
        descending = body.get("Direction", "ASC") == "DESC"
        if kind == "FieldSort":
            out.append(Sort(descending, field_id=body.get("FieldId")))
        elif kind == "ColumnSort":
            column = ctx.column(body.get("SortBy"))
            function = body.get("AggregationFunction") or {}
            node: ex.Node
            calc = ctx.calc(column)
            operand: ex.Node = ctx.resolved(calc, column, column.name) if calc is not None else ex.Ref(column.name)
            if not function:
                if not ex.is_aggregate(operand):
                    # a sort by a dimension column itself
                    out.append(Sort(descending, expression=operand))
                    continue
                node = operand
            else:
                numerical = function.get("NumericalAggregationFunction", {}).get("SimpleNumericalAggregation")
                categorical = function.get("CategoricalAggregationFunction")
                name = numerical or categorical
                if name not in NUMERIC_AGGREGATIONS:
                    raise ctx.error(f"sort aggregation {function} is not supported")
                node = ex.Agg(NUMERIC_AGGREGATIONS[name], operand)
            out.append(Sort(descending, expression=node))
        else:
            raise ctx.error(f"sort {kind} is not supported")
    return tuple(out)


def items_limit(raw: dict | None) -> tuple[int | None, bool]:
    if not raw:
        return None, False
    limit = raw.get("ItemsLimit")
    return (int(limit) if limit is not None else None), raw.get("OtherCategories", "INCLUDE") == "INCLUDE"
