"""The definition's filters: the one date-range filter group the renderer understands (a
`TimeRangeFilter`, its default rolling window and its scope) and the date-range pickers bound to it."""

from __future__ import annotations

import re
from dataclasses import replace

from portal.render.context import DefinitionContext
from portal.render.errors import RenderError
from portal.render.model import DEFAULT_WINDOW_DAYS, Column, DateFilter, Sheet


def date_filter(groups: list, d: DefinitionContext) -> DateFilter | None:
    found: DateFilter | None = None
    for group in groups or []:
        group_id = group.get("FilterGroupId", "?")
        if group.get("Status", "ENABLED") == "DISABLED":
            continue
        filters = group.get("Filters") or []
        if len(filters) != 1 or set(filters[0]) != {"TimeRangeFilter"}:
            kinds = sorted(k for f in filters for k in f)
            raise RenderError(f"filter group {group_id!r}: {kinds} is not supported (one TimeRangeFilter only)")
        if found is not None:
            raise RenderError(f"filter group {group_id!r}: only one date-range filter group is supported")
        body = filters[0]["TimeRangeFilter"]
        column_raw = body.get("Column") or {}
        identifier = column_raw.get("DataSetIdentifier")
        if identifier not in d.datasets or not column_raw.get("ColumnName"):
            raise RenderError(f"filter group {group_id!r}: its column names no declared data set")
        if body.get("ExcludePeriodConfiguration"):
            raise RenderError(f"filter group {group_id!r}: ExcludePeriodConfiguration is not supported")
        cross = group.get("CrossDataset", "SINGLE_DATASET")
        if cross not in ("ALL_DATASETS", "SINGLE_DATASET"):
            raise RenderError(f"filter group {group_id!r}: CrossDataset {cross} is not supported")
        default_days = DEFAULT_WINDOW_DAYS
        rolling = ((body.get("RangeMinimumValue") or {}).get("RollingDate") or {}).get("Expression", "")
        match = re.search(r"addDateTime\(\s*-\s*(\d+)\s*,\s*'DD'", rolling or "")
        if match:
            default_days = int(match.group(1))
        visual_ids = _scope(group, group_id)
        found = DateFilter(
            column=Column(identifier, column_raw["ColumnName"]),
            cross_dataset=cross == "ALL_DATASETS",
            include_minimum=body.get("IncludeMinimum", True) is not False,
            include_maximum=body.get("IncludeMaximum", True) is not False,
            default_days=default_days,
            visual_ids=visual_ids,
        )
    return found


def _scope(group: dict, group_id: str) -> frozenset[str] | None | str:
    scope = group.get("ScopeConfiguration") or {}
    if "AllSheets" in scope or not scope:
        return None
    selected = scope.get("SelectedSheets") or {}
    ids: set[str] = set()
    for item in selected.get("SheetVisualScopingConfigurations") or []:
        if item.get("Scope", "ALL_VISUALS") == "ALL_VISUALS":
            ids.add("sheet:" + item.get("SheetId", ""))
        else:
            ids.update(item.get("VisualIds") or [])
    return frozenset(ids)


def filter_ids(groups: list) -> set[str | None]:
    """The FilterId of every filter of every group (a filter control must name one)."""
    ids = set()
    for group in groups or []:
        for f in group.get("Filters") or []:
            for body in f.values():
                ids.add(body.get("FilterId"))
    return ids


def check_filter_controls(sheet: dict, sheet_id: str, ids: set[str | None]) -> None:
    """A sheet's filter controls: DATE_RANGE pickers of a declared filter only."""
    for control in sheet.get("FilterControls") or []:
        kind, body = next(iter(control.items()))
        if kind != "DateTimePicker" or body.get("Type", "DATE_RANGE") != "DATE_RANGE":
            raise RenderError(f"sheet {sheet_id!r}: filter control {kind} is not supported (a DATE_RANGE picker)")
        if body.get("SourceFilterId") not in ids:
            raise RenderError(f"sheet {sheet_id!r}: filter control for an unknown filter")


def with_visual_scope(date_filter: DateFilter | None, sheets: list[Sheet]) -> DateFilter | None:
    """The filter with its scope as visual ids (a whole-sheet scope expanded to the sheet's visuals)."""
    if date_filter is None or date_filter.visual_ids is None:
        return date_filter
    expanded = set()
    for item in date_filter.visual_ids:
        if item.startswith("sheet:"):
            expanded.update(v.visual_id for s in sheets if s.sheet_id == item[6:] for v in s.visuals)
        else:
            expanded.add(item)
    return replace(date_filter, visual_ids=frozenset(expanded))
