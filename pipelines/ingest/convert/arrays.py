"""Small vectorised helpers on Arrow arrays shared by the converter's modules: boolean masks as
numpy, struct fields with the parent's nulls, list element positions, an exact int64 sum."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


# -- vectorised helpers -------------------------------------------------------------------------
def _np(mask: pa.Array | np.ndarray) -> np.ndarray:
    if isinstance(mask, np.ndarray):
        return mask
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    return mask.to_numpy(zero_copy_only=False)


def _child(struct: pa.StructArray, name: str) -> pa.Array:
    """A struct field with the parent's nulls merged in."""
    idx = struct.type.get_field_index(name)
    child = struct.field(idx)
    if struct.null_count:
        child = pc.if_else(struct.is_valid(), child, pa.scalar(None, child.type))
    return child


def _parent_positions(seq: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
    """For each element of `seq.flatten()`: its row and its position in that row's list."""
    parent = pc.list_parent_indices(seq).to_numpy()
    lengths = _np(pc.fill_null(pc.list_value_length(seq), 0)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    pos = np.arange(len(parent), dtype=np.int64) - starts[parent] if len(parent) else np.zeros(0, np.int64)
    return parent, pos


def _int_sum(values: pa.Array | pa.ChunkedArray) -> int:
    """Exact sum of an int64 column (Python ints: no int64 wrap-around on absurd values)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        values = values.drop_null()
    return int(values.to_numpy().sum(dtype=object)) if len(values) else 0


_NULL_S = pa.scalar(None, pa.string())
