"""Parse a dashboard `Definition` (DescribeDashboardDefinition's shape) into typed visuals.

Only the subset of docs/seller-insights.md ("What the offline renderer and the local SPICE
understand") is accepted. Whatever changes what a visual shows and is outside it (another visual
type, a filter type, reference lines, small multiples, conditional formatting, rich text, ...)
raises `RenderError` naming the visual and the construct: nothing is skipped silently. Purely
presentational options (fonts, legends, tooltips, palettes, axis display, interactions) do not
change the figures and are accepted without being reproduced.

Every measure becomes an aggregate expression (`NumericalMeasureField` SUM of `{Gross}` is
`sum({Gross})`), so the data step evaluates one kind of thing; row-level calculated fields are
inlined into the expressions and dimensions that use them.

This module reads the definition as a whole (data sets, calculated fields, sheets, options); the
parts live in `visuals` (a visual), `fields` (its field wells), `formats` (number and date
formats), `filters` (the date range) and `model` (the typed result, re-exported here).
"""

from __future__ import annotations

from portal.render import expressions as ex
from portal.render import filters
from portal.render.context import DefinitionContext
from portal.render.errors import RenderError
from portal.render.fields import AGGREGATION_LABELS, GRANULARITIES, NUMERIC_AGGREGATIONS
from portal.render.model import (
    DEFAULT_WINDOW_DAYS,
    Column,
    Dashboard,
    DateFilter,
    Dimension,
    Measure,
    NumberFormat,
    Sheet,
    Sort,
    Visual,
    dataset_id_from_arn,
)
from portal.render.visuals import VISUAL_KINDS, parse_visual

_SHEET_KEYS = {
    "SheetId",
    "Title",
    "Description",
    "Name",
    "FilterControls",
    "Visuals",
    "Layouts",
    "SheetControlLayouts",
    "ContentType",
    "ParameterControls",
    "TextBoxes",
    "Images",
    "CustomActionDefaults",
}
_DEFINITION_KEYS = {
    "DataSetIdentifierDeclarations",
    "Sheets",
    "CalculatedFields",
    "ParameterDeclarations",
    "FilterGroups",
    "ColumnConfigurations",
    "AnalysisDefaults",
    "Options",
}


def _datasets(definition: dict) -> dict[str, str]:
    """identifier -> data set ARN of the DataSetIdentifierDeclarations."""
    datasets: dict[str, str] = {}
    for declaration in definition.get("DataSetIdentifierDeclarations") or []:
        identifier, arn = declaration.get("Identifier"), declaration.get("DataSetArn")
        if not identifier or not arn:
            raise RenderError("a DataSetIdentifierDeclaration without Identifier or DataSetArn")
        dataset_id_from_arn(arn)
        datasets[identifier] = arn
    if not datasets:
        raise RenderError("dashboard definition: no DataSetIdentifierDeclarations")
    return datasets


def _calculated(definition: dict, datasets: dict[str, str]) -> dict[str, dict[str, ex.Node]]:
    """identifier -> name -> parsed expression of the CalculatedFields (cycles and level errors
    show up here, before any visual uses them)."""
    texts: dict[str, dict[str, str]] = {}
    for calc in definition.get("CalculatedFields") or []:
        identifier = calc.get("DataSetIdentifier")
        if identifier not in datasets:
            name = calc.get("Name")
            raise RenderError(f"calculated field {name!r}: data set identifier {identifier!r} is not declared")
        texts.setdefault(identifier, {})[calc["Name"]] = calc.get("Expression", "")
    calculated: dict[str, dict[str, ex.Node]] = {}
    for identifier, fields in texts.items():
        parsed = {}
        for name, text in fields.items():
            try:
                parsed[name] = ex.parse(text)
            except RenderError as err:
                raise RenderError(f"calculated field {name!r}: {err}") from None
        calculated[identifier] = parsed
        for name, node in parsed.items():
            try:
                ex.resolve(node, parsed, fields[name])
            except RenderError as err:
                raise RenderError(f"calculated field {name!r}: {err}") from None
    return calculated


def _sheet(sheet: dict, d: DefinitionContext, filter_ids: set[str | None]) -> Sheet:
    sheet_id = sheet.get("SheetId", "?")
    unknown = set(sheet) - _SHEET_KEYS
    if unknown:
        raise RenderError(f"sheet {sheet_id!r}: {sorted(unknown)} are not supported")
    for key in ("TextBoxes", "Images", "ParameterControls"):
        if sheet.get(key):
            raise RenderError(f"sheet {sheet_id!r}: {key} are not supported")
    filters.check_filter_controls(sheet, sheet_id, filter_ids)
    visuals = tuple(parse_visual(v, sheet_id, d) for v in sheet.get("Visuals") or [])
    return Sheet(sheet_id, sheet.get("Name", "") or "", sheet.get("Title", "") or "", visuals)


def parse_definition(raw: dict) -> Dashboard:
    """A Definition (or a CreateDashboard / DescribeDashboardDefinition body holding one) → Dashboard."""
    if not isinstance(raw, dict):
        raise RenderError("the dashboard definition is not an object")
    definition = raw.get("Definition", raw)
    unknown = set(definition) - _DEFINITION_KEYS
    if unknown:
        raise RenderError(f"dashboard definition: {sorted(unknown)} are not supported")
    datasets = _datasets(definition)
    calculated = _calculated(definition, datasets)

    d = DefinitionContext(datasets, calculated)
    groups = definition.get("FilterGroups") or []
    date_filter = filters.date_filter(groups, d)
    filter_ids = filters.filter_ids(groups)
    sheets = [_sheet(sheet, d, filter_ids) for sheet in definition.get("Sheets") or []]
    ids = [v.visual_id for s in sheets for v in s.visuals]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RenderError(f"visual ids used twice: {sorted(duplicates)}")
    date_filter = filters.with_visual_scope(date_filter, sheets)
    week_start = (definition.get("Options") or {}).get("WeekStart", "SUNDAY")
    if week_start not in ("SUNDAY", "MONDAY"):
        raise RenderError(f"WeekStart {week_start} is not supported (SUNDAY or MONDAY)")
    return Dashboard(tuple(sheets), datasets, calculated, date_filter, week_start)


__all__ = [
    "AGGREGATION_LABELS",
    "DEFAULT_WINDOW_DAYS",
    "GRANULARITIES",
    "NUMERIC_AGGREGATIONS",
    "VISUAL_KINDS",
    "Column",
    "Dashboard",
    "DateFilter",
    "Dimension",
    "Measure",
    "NumberFormat",
    "Sheet",
    "Sort",
    "Visual",
    "dataset_id_from_arn",
    "parse_definition",
]
