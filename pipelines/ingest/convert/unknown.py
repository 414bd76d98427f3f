"""Unknown-attribute detection: attribute names an item has beyond its table's wire type (`"foo"`,
`"lines[1].bar"`), found in Python dicts or in the fields `pyarrow.json` inferred."""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.ingest.convert.arrays import _child, _np, _parent_positions
from pipelines.ingest.convert.wire import _KNOWN, _LINE_KEYS


# -- unknown attributes ---------------------------------------------------------------------------
def _unknown_in_items(items: Sequence[Any], table: str, malformed: dict[int, str]) -> dict[int, list[str]]:
    """Attribute names beyond the contract, per item (`"foo"`, `"lines[1].bar"`).

    The common case (nothing unknown) costs two C-level subset checks per item; the exact listing
    runs only for the items that fail them.
    """
    known = _KNOWN[table]
    known_all = known.issuperset
    line_ok = _LINE_KEYS.issuperset
    get_m = operator.itemgetter("M")
    lines = table == "order_events"
    suspects = []
    for i, item in enumerate(items):
        if i in malformed:
            continue
        if not known_all(item):
            suspects.append(i)
        elif lines:
            try:
                if not all(map(line_ok, map(get_m, item["lines"]["L"]))):
                    suspects.append(i)
            except (KeyError, TypeError, AttributeError):
                suspects.append(i)  # no list of maps here: look closer (the rules report the shape)
    unknown: dict[int, list[str]] = {}
    for i in suspects:
        item = items[i]
        names = sorted(item.keys() - known)
        wrapper = item.get("lines") if lines else None
        seq = wrapper.get("L") if isinstance(wrapper, dict) else None
        if isinstance(seq, list):
            for k, element in enumerate(seq):
                m = element.get("M") if isinstance(element, dict) else None
                if isinstance(m, dict):
                    names += [f"lines[{k}].{n}" for n in sorted(m.keys() - _LINE_KEYS)]
        if names:
            unknown[i] = sorted(names)
    return unknown


def _unknown_in_wire(wire: pa.StructArray, table: str) -> dict[int, list[str]]:
    """Attributes `pyarrow.json` found beyond the wire type (it adds them as inferred fields)."""
    unknown: dict[int, list[str]] = defaultdict(list)
    known = _KNOWN[table]
    children = dict(zip(wire.type.names, wire.flatten(), strict=True)) if len(wire.type) else {}
    for name, child in children.items():
        if name not in known:
            for i in np.flatnonzero(_np(child.is_valid())):
                unknown[int(i)].append(name)
    if table == "order_events" and "lines" in children:
        wrapper = children["lines"]
        if "L" in wrapper.type.names:
            seq = wrapper.field("L")
            if pa.types.is_list(seq.type) and pa.types.is_struct(seq.type.value_type):
                elements = seq.flatten()
                if "M" in elements.type.names and pa.types.is_struct(elements.type.field("M").type):
                    m = _child(elements, "M")
                    extra = [f for f in m.type.names if f not in _LINE_KEYS]
                    if extra:
                        parent, pos = _parent_positions(seq)
                        for f in extra:
                            for j in np.flatnonzero(_np(_child(m, f).is_valid())):
                                unknown[int(parent[j])].append(f"lines[{pos[j]}].{f}")
    return {i: sorted(v) for i, v in unknown.items()}
