"""The dashboard definition against its data sets' output columns, within the supported subset.

Part of `pipelines.publish.definitions.check_against_models`: every column a visual, calculated
field, filter or sort references exists in its data set (as an output column or a calculated field
of that data set), calculated-field expressions keep to arithmetic and the six aggregations, and the
visuals, fields, filters and controls are the kinds docs/seller-insights.md lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.publish.definitions import Definitions, Lineage

VISUALS = {"LineChartVisual", "BarChartVisual", "KPIVisual", "PieChartVisual", "TableVisual", "PivotTableVisual"}
DIMENSIONS = {"CategoricalDimensionField", "DateDimensionField", "NumericalDimensionField"}
MEASURES = {"NumericalMeasureField", "CalculatedMeasureField"}
FIELDS = DIMENSIONS | MEASURES | {"CategoricalMeasureField", "DateMeasureField"}
GRANULARITIES = {"DAY", "WEEK", "MONTH"}
AGGREGATIONS = {"SUM", "AVERAGE", "MIN", "MAX", "COUNT", "DISTINCT_COUNT"}
NUMERIC_ONLY = {"SUM", "AVERAGE", "MIN", "MAX"}
FUNCTIONS = {"sum", "avg", "min", "max", "count", "distinct_count"}
FILTERS = {"TimeRangeFilter"}
CONTROLS = {"DateTimePicker"}
TOKEN = re.compile(r"\s*(?:\{(?P<ref>[^{}]+)\}|(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/()]))")

Columns = Mapping[str, "Lineage"]
Resolved = tuple["str | None", "Lineage | None", "Expression | None"]
Resolver = Callable[[str, Mapping[str, Any]], Resolved]


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Expression:
    refs: frozenset[str]
    aggregated: bool  # uses an aggregation (then every column is inside one)


def parse_expression(text: str) -> Expression:
    """Parse a calculated-field expression of the subset: `+ - * /`, parentheses, numbers, `{Column}`
    references and `sum avg min max count distinct_count` of such arithmetic (not nested)."""
    tokens: list[tuple[str, str]] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unexpected {text[pos:].strip()[:20]!r} in {text!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    refs: set[str] = set()
    bare: set[str] = set()
    aggregated = False
    i = 0

    def peek() -> tuple[str, str]:
        return tokens[i] if i < len(tokens) else ("end", "")

    def take(value: str) -> None:
        nonlocal i
        if peek()[1] != value:
            raise ExpressionError(f"expected {value!r}, found {peek()[1] or 'the end'!r} in {text!r}")
        i += 1

    def expr(inside: bool) -> None:
        term(inside)
        while peek() in (("op", "+"), ("op", "-")):
            take(peek()[1])
            term(inside)

    def term(inside: bool) -> None:
        factor(inside)
        while peek() in (("op", "*"), ("op", "/")):
            take(peek()[1])
            factor(inside)

    def factor(inside: bool) -> None:
        nonlocal i, aggregated
        kind, value = peek()
        if kind == "num":
            i += 1
        elif kind == "ref":
            i += 1
            refs.add(value)
            if not inside:
                bare.add(value)
        elif (kind, value) == ("op", "-"):
            take("-")
            factor(inside)
        elif (kind, value) == ("op", "("):
            take("(")
            expr(inside)
            take(")")
        elif kind == "name":
            if value not in FUNCTIONS:
                raise ExpressionError(f"function {value!r} is outside the subset ({', '.join(sorted(FUNCTIONS))})")
            if inside:
                raise ExpressionError(f"nested aggregation {value!r} in {text!r}")
            i += 1
            aggregated = True
            take("(")
            expr(True)
            take(")")
        else:
            raise ExpressionError(f"unexpected {value or 'end'!r} in {text!r}")

    expr(False)
    if i != len(tokens):
        raise ExpressionError(f"unexpected {tokens[i][1]!r} in {text!r}")
    if aggregated and bare:
        raise ExpressionError(f"mixes row-level columns ({', '.join(sorted(bare))}) and aggregations in {text!r}")
    return Expression(frozenset(refs), aggregated)


def _walk(node: Any, context: str) -> Iterator[tuple[str, str, Any]]:
    """(context, key, value) of every dict entry below `node`; context names the nearest visual,
    filter or control."""
    if isinstance(node, dict):
        for key in ("VisualId", "FilterId", "FilterControlId"):
            if isinstance(node.get(key), str):
                context = f"{key.removesuffix('Id').lower().replace('filtercontrol', 'control')} {node[key]}"
        for key, value in node.items():
            yield context, key, value
            yield from _walk(value, context)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, context)


def check_dashboard(defs: Definitions, outputs: Mapping[str, Columns]) -> list[str]:
    """Problems of the dashboard's definition; `outputs` maps data set ids to their output columns."""
    source = defs.file("dashboard")
    definition = defs.dashboard.get("Definition")
    if not isinstance(definition, dict):
        return [f"{source}: no Definition (SourceEntity and templates are outside the subset)"]
    errors: list[str] = []
    datasets: dict[str, Columns] = {}
    labels: dict[str, str] = {}
    declared: set[str] = set()
    for declaration in definition.get("DataSetIdentifierDeclarations") or []:
        ident, arn = declaration.get("Identifier", ""), declaration.get("DataSetArn", "")
        declared.add(ident)
        dataset_id = arn.rsplit(":dataset/", 1)[-1]
        if dataset_id not in outputs:
            errors.append(f"{source}: data set identifier {ident!r} declares {arn}, none of the data sets")
            continue
        datasets[ident] = outputs[dataset_id]
        labels[ident] = f"data set {ident} ({dataset_id}, {defs.dataset_file(dataset_id)})"

    calculated: dict[str, dict[str, Expression | None]] = {ident: {} for ident in datasets}
    for item in definition.get("CalculatedFields") or []:
        ident, name, text = item.get("DataSetIdentifier", ""), item.get("Name", ""), item.get("Expression", "")
        where = f"{source}: calculated field {name!r} of data set {ident}"
        if ident not in datasets:
            if ident not in declared:
                errors.append(f"{where}: the data set identifier is not declared")
            continue
        if name in datasets[ident] or name in calculated[ident]:
            errors.append(f"{where}: the name is already a column or calculated field of {labels[ident]}")
        try:
            calculated[ident][name] = parse_expression(text)
        except ExpressionError as exc:
            calculated[ident][name] = None
            errors.append(f"{where}: {exc}")
    for ident, fields in calculated.items():
        for name, parsed in fields.items():
            for ref in sorted(parsed.refs if parsed else ()):
                if ref == name or (ref not in datasets[ident] and ref not in fields):
                    errors.append(
                        f"{source}: calculated field {name!r} references column {ref!r}, neither an "
                        f"output column nor a calculated field of {labels[ident]}"
                    )

    def column(context: str, ref: Mapping[str, Any], report: bool = True) -> Resolved:
        """The column a ColumnIdentifier names: its lineage, or its calculated field's expression."""
        ident, name = ref.get("DataSetIdentifier", ""), ref.get("ColumnName", "")
        if ident not in datasets:
            if ident not in declared and report:
                errors.append(f"{source}: {context}: column {name!r} of undeclared data set identifier {ident!r}")
            return None, None, None
        if name in datasets[ident]:
            return name, datasets[ident][name], None
        if name in calculated[ident]:
            return name, None, calculated[ident][name]
        if report:
            errors.append(
                f"{source}: {context}: column {name!r} is neither an output column nor a calculated "
                f"field of {labels[ident]}"
            )
        return None, None, None

    for context, _key, value in _walk(definition, "definition"):
        if isinstance(value, dict) and "ColumnName" in value and "DataSetIdentifier" in value:
            column(context, value)  # every reference, wherever it is (sorts, filters, configurations)

    def quiet(context: str, ref: Mapping[str, Any]) -> Resolved:
        return column(context, ref, report=False)  # the walk above reported the missing ones

    errors += [f"{source}: {e}" for e in _subset(definition, datasets, calculated, quiet)]
    return errors


def _subset(
    definition: dict[str, Any],
    datasets: Mapping[str, Columns],
    calculated: Mapping[str, Mapping[str, Expression | None]],
    resolve: Resolver,
) -> list[str]:
    errors: list[str] = []
    filter_ids = set()
    for group in definition.get("FilterGroups") or []:
        for item in group.get("Filters") or []:
            for kind, body in item.items():
                context = f"filter {body.get('FilterId')}"
                filter_ids.add(body.get("FilterId"))
                if kind not in FILTERS:
                    errors.append(f"{context}: {kind} is outside the subset ({', '.join(sorted(FILTERS))})")
                    continue
                _, lineage, _ = resolve(context, body.get("Column") or {})
                if lineage is not None and lineage.type != "DATETIME":
                    errors.append(f"{context}: column {lineage.name!r} is {lineage.type}, not DATETIME")
    for sheet in definition.get("Sheets") or []:
        ids: set[str] = set()
        for control in sheet.get("FilterControls") or []:
            for kind, body in control.items():
                context = f"control {body.get('FilterControlId')}"
                ids.add(body.get("FilterControlId"))
                if kind not in CONTROLS:
                    errors.append(f"{context}: {kind} is outside the subset ({', '.join(sorted(CONTROLS))})")
                elif body.get("SourceFilterId") not in filter_ids:
                    errors.append(f"{context}: filter {body.get('SourceFilterId')!r} does not exist")
        for visual in sheet.get("Visuals") or []:
            for kind, body in visual.items():
                ids.add(body.get("VisualId"))
                errors += _visual(kind, body, datasets, calculated, resolve)
        for layout in (sheet.get("Layouts") or []) + (sheet.get("SheetControlLayouts") or []):
            grid = (layout.get("Configuration") or {}).get("GridLayout") or {}
            errors += [
                f"sheet {sheet.get('SheetId')}: layout element {e.get('ElementId')!r} is no visual or "
                "control of the sheet"
                for e in grid.get("Elements") or []
                if e.get("ElementId") not in ids
            ]
    return errors


def _visual(
    kind: str,
    body: dict[str, Any],
    datasets: Mapping[str, Columns],
    calculated: Mapping[str, Mapping[str, Expression | None]],
    resolve: Resolver,
) -> list[str]:
    context = f"visual {body.get('VisualId')}"
    if kind not in VISUALS:
        return [f"{context}: {kind} is outside the subset ({', '.join(sorted(VISUALS))})"]
    errors: list[str] = []
    for part in ("Title", "Subtitle"):
        if "RichText" in ((body.get(part) or {}).get("FormatText") or {}):
            errors.append(f"{context}: {part} must be plain text")
    field_ids: set[str] = set()
    sorted_ids: list[str] = []
    visual_sets = {
        v.get("DataSetIdentifier") for _, _, v in _walk(body, context) if isinstance(v, dict) and "ColumnName" in v
    }
    for _, key, value in _walk(body, context):
        if key == "FieldSort" and isinstance(value, dict):
            sorted_ids.append(value.get("FieldId", ""))
        if key not in FIELDS or not isinstance(value, dict):
            continue
        field_ids.add(value.get("FieldId", ""))
        where = f"{context}: field {value.get('FieldId')}"
        if key not in DIMENSIONS | MEASURES:
            errors.append(f"{where}: {key} is outside the subset")
            continue
        if key == "CalculatedMeasureField":
            try:
                parsed = parse_expression(value.get("Expression", ""))
            except ExpressionError as exc:
                errors.append(f"{where}: {exc}")
                continue
            known = set().union(*[set(datasets.get(i, {})) | set(calculated.get(i, {})) for i in visual_sets])
            errors += [
                f"{where}: expression references column {r!r}, not a column of the visual's data sets"
                for r in sorted(parsed.refs - known)
            ]
            continue
        name, lineage, expression = resolve(where, value.get("Column") or {})
        if name is None:
            continue
        if key == "DateDimensionField":
            if value.get("DateGranularity", "DAY") not in GRANULARITIES:
                errors.append(f"{where}: granularity {value.get('DateGranularity')} is outside the subset")
            if lineage is not None and lineage.type != "DATETIME":
                errors.append(f"{where}: column {name!r} is {lineage.type}, not DATETIME")
        if key == "NumericalMeasureField":
            aggregation = value.get("AggregationFunction")
            simple = (aggregation or {}).get("SimpleNumericalAggregation")
            if aggregation is not None and (
                set(aggregation) != {"SimpleNumericalAggregation"} or simple not in AGGREGATIONS
            ):
                errors.append(f"{where}: aggregation {aggregation} is outside the subset")
            elif expression is not None and expression.aggregated and aggregation is not None:
                errors.append(f"{where}: {name!r} is already aggregated; it takes no aggregation")
            elif aggregation is None and not (expression is not None and expression.aggregated):
                errors.append(f"{where}: column {name!r} needs an aggregation")
            elif lineage is not None and simple in NUMERIC_ONLY and lineage.type not in ("INTEGER", "DECIMAL"):
                errors.append(f"{where}: {simple} of column {name!r}, which is {lineage.type}")
    errors += [f"{context}: sort on field {f!r}, not a field of the visual" for f in sorted_ids if f not in field_ids]
    return errors
