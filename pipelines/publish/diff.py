"""Field-level differences between what is published and what the definitions want.

Paths read like the definitions themselves: `LogicalTableMap.seller_daily_sales.DataTransforms[3]
.RenameColumnOperation.NewColumnName`. Lists of objects that carry an id (`VisualId`, `SheetId`,
`FilterGroupId`, `ColumnId`, ...) are matched by that id, so inserting one visual reads as one
added visual, not as every later visual changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ID_KEYS = ("VisualId", "SheetId", "FilterGroupId", "FilterId", "ParameterControlId", "FilterControlId",
           "ElementId", "FieldId", "Identifier", "Name", "ColumnName", "DataSetIdentifier")
MAX_TEXT = 120


@dataclass(frozen=True)
class FieldDiff:
    path: str
    op: str  # "+" added, "-" removed, "~" changed
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        if self.op == "+":
            return f"+ {self.path} = {_short(self.after)}"
        if self.op == "-":
            return f"- {self.path} (was {_short(self.before)})"
        return f"~ {self.path}: {_short(self.before)} -> {_short(self.after)}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _id_of(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    for key in ID_KEYS:
        if isinstance(item.get(key), str):
            return f"{key}={item[key]}"
    if len(item) == 1:  # a one-member union such as {"LineChartVisual": {...}}
        (kind, inner), = item.items()
        inner_id = _id_of(inner)
        return f"{kind}:{inner_id}" if inner_id else kind  # e.g. the one ProjectOperation
    return None


def diff(before: Any, after: Any, path: str = "") -> list[FieldDiff]:
    """Every difference from `before` (published) to `after` (wanted)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[FieldDiff] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else key
            if key not in before:
                out.append(FieldDiff(sub, "+", after=after[key]))
            elif key not in after:
                out.append(FieldDiff(sub, "-", before=before[key]))
            else:
                out += diff(before[key], after[key], sub)
        return out
    if isinstance(before, list) and isinstance(after, list):
        return _diff_lists(before, after, path)
    if before != after:
        return [FieldDiff(path, "~", before, after)]
    return []


def _diff_lists(before: list, after: list, path: str) -> list[FieldDiff]:
    before_ids = [_id_of(x) for x in before]
    after_ids = [_id_of(x) for x in after]
    keyed = all(before_ids) and all(after_ids) and len(set(before_ids)) == len(before) and len(set(after_ids)) == len(
        after
    )
    if not keyed and not any(isinstance(x, dict | list) for x in [*before, *after]):
        # a list of plain values (projected columns, principals): what came and what went
        out = [FieldDiff(f"{path}[{json.dumps(x)}]", "+", after=x) for x in after if x not in before]
        out += [FieldDiff(f"{path}[{json.dumps(x)}]", "-", before=x) for x in before if x not in after]
        if not out and before != after:
            out.append(FieldDiff(f"{path} (order)", "~", before, after))
        return out
    if not keyed:
        if len(before) == len(after):
            out: list[FieldDiff] = []
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                out += diff(b, a, f"{path}[{i}]")
            return out
        return [FieldDiff(path, "~", before, after)] if before != after else []
    old = dict(zip(before_ids, before, strict=True))
    new = dict(zip(after_ids, after, strict=True))
    out = []
    for key in after_ids:
        if key not in old:
            out.append(FieldDiff(f"{path}[{key}]", "+", after=new[key]))
        else:
            out += diff(old[key], new[key], f"{path}[{key}]")
    out += [FieldDiff(f"{path}[{key}]", "-", before=old[key]) for key in before_ids if key not in new]
    if not out and before_ids != after_ids:
        out.append(FieldDiff(f"{path} (order)", "~", before_ids, after_ids))
    return out
