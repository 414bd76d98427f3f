"""great-expectations suites for the models, built from the `checks` of their YAML.

- `grain`: every grain column not null; the grain plus `dt` unique (compound);
- `not_null: [c]`: `ExpectColumnValuesToNotBeNull`;
- `not_negative: [c]`: `ExpectColumnValuesToBeBetween(min_value=0)`;
- `rates: [c]`: `ExpectColumnValuesToBeBetween(0, 1)`;
- `currencies: [c]`: `ExpectColumnValuesToBeInSet` of the contract's currencies (nulls allowed);
- `values_in: {c: [...]}`: `ExpectColumnValuesToBeInSet`;
- `equals: {c: "a - b"}`: `ExpectColumnPairValuesToBeEqual(c, <a - b computed per row>)`;
- `known_sellers: [c]`, `known_products: [c]`: `ExpectColumnValuesToBeInSet` of the ids in the
  live `sellers` / `catalog` tables;
- `row_count_band: {days, low, high}`: `ExpectTableRowCountToBeBetween` per partition, between
  `low` x the smallest and `high` x the largest of the previous `days` partitions (when at least 7
  non-empty ones exist).

great_expectations is imported only when a suite runs (its import takes seconds).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from gitgoods.contract.money import SUPPORTED_CURRENCIES
from pipelines.marts.models import Model

log = logging.getLogger(__name__)

BAND_MIN_HISTORY = 7
_EXPR = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*([-+])\s*([a-z_][a-z0-9_]*)\s*$")


@dataclass
class Outcome:
    """The result of one model's suite over the partitions of a run."""

    passed: bool
    evaluated: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    partitions: int = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "expectations": self.evaluated,
            "failed_expectations": len(self.failures),
            "rows_validated": self.rows,
            "partitions_validated": self.partitions,
            "failures": self.failures,
        }


@dataclass
class Dimensions:
    """Ids the live dimension tables know (read through the federated catalog)."""

    sellers: frozenset[str] | None = None
    products: frozenset[str] | None = None


def needs(model: Model) -> tuple[bool, bool]:
    """(needs the seller ids, needs the product ids)."""
    return bool(model.checks.get("known_sellers")), bool(model.checks.get("known_products"))


def band(counts: Sequence[int], low: float, high: float) -> tuple[int, int] | None:
    """The allowed rows of a partition from the previous partitions' rows (None: too little history).

    Empty partitions (days before the shop had data) do not count as history."""
    counts = [c for c in counts if c > 0]
    if len(counts) < BAND_MIN_HISTORY:
        return None
    return int(low * min(counts)), int(high * max(counts) + 0.999999)


def _expectations(gx: Any, model: Model, dims: Dimensions) -> list[Any]:
    E = gx.expectations
    checks = model.checks
    out: list[Any] = []
    for col in model.grain:
        out.append(E.ExpectColumnValuesToNotBeNull(column=col))
    if model.grain:
        out.append(E.ExpectCompoundColumnsToBeUnique(column_list=[*model.grain, "dt"]))
    for col in checks.get("not_null", []):
        out.append(E.ExpectColumnValuesToNotBeNull(column=col))
    for col in checks.get("not_negative", []):
        out.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=0))
    for col in checks.get("rates", []):
        out.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=1))
    for col in checks.get("currencies", []):
        out.append(E.ExpectColumnValuesToBeInSet(column=col, value_set=sorted(SUPPORTED_CURRENCIES)))
    for col, values in (checks.get("values_in") or {}).items():
        out.append(E.ExpectColumnValuesToBeInSet(column=col, value_set=list(values)))
    for col in checks.get("equals") or {}:
        out.append(E.ExpectColumnPairValuesToBeEqual(column_A=col, column_B=f"_expected_{col}"))
    for key, ids in (("known_sellers", dims.sellers), ("known_products", dims.products)):
        for col in checks.get(key, []):
            if ids is None:
                raise ValueError(f"{model.name}: {key} needs the ids of the dimension table")
            out.append(E.ExpectColumnValuesToBeInSet(column=col, value_set=sorted(ids)))
    return out


def _frame(model: Model, table: pa.Table) -> Any:
    df = table.to_pandas(types_mapper=None)
    for col, expr in (model.checks.get("equals") or {}).items():
        match = _EXPR.match(expr)
        if not match:
            raise ValueError(f"{model.name}: equals.{col} must be `a - b` or `a + b`, got {expr!r}")
        a, op, b = match.groups()
        df[f"_expected_{col}"] = df[a] - df[b] if op == "-" else df[a] + df[b]
    return df


def _failure(result: Any) -> dict[str, Any]:
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id", "value_set")}
    if "value_set" in cfg.kwargs and len(cfg.kwargs["value_set"]) <= 12:
        kwargs["value_set"] = list(cfg.kwargs["value_set"])
    r = result.result or {}
    return {
        "expectation": cfg.type,
        **kwargs,
        "unexpected_count": r.get("unexpected_count"),
        "unexpected_percent": r.get("unexpected_percent"),
        "partial_unexpected_list": [str(v) for v in (r.get("partial_unexpected_list") or [])[:10]],
        "observed_value": r.get("observed_value"),
    }


def _context() -> tuple[Any, Any]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context


def validate(
    model: Model,
    table: pa.Table,
    *,
    dims: Dimensions | None = None,
    history: dict[str, list[int]] | None = None,
) -> Outcome:
    """Run the model's suite over `table` (the rows of the run's partitions, with `dt`).

    `history` maps each partition of the run to the row counts of its previous partitions (for
    `row_count_band`); partitions of the run with no rows are validated too (through the band).
    """
    dims = dims or Dimensions()
    gx, context = _context()
    source = context.data_sources.add_pandas(f"{model.name}_source")
    batch = source.add_dataframe_asset(model.name).add_batch_definition_whole_dataframe("run")
    suite = context.suites.add(gx.ExpectationSuite(name=f"{model.name}_suite"))
    for expectation in _expectations(gx, model, dims):
        suite.add_expectation(expectation)
    results = []
    if suite.expectations:
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(data=batch, suite=suite, name=f"{model.name}_run")
        )
        results += definition.run(batch_parameters={"dataframe": _frame(model, table)},
                                  result_format="SUMMARY").results
    band_cfg = model.checks.get("row_count_band")
    if band_cfg and history:
        results += _band_results(gx, context, model, table, history, band_cfg)
    failures = [_failure(r) for r in results if not r.success]
    dts = set(history or ()) | set(table["dt"].unique().to_pylist() if table.num_rows else [])
    return Outcome(passed=not failures, evaluated=len(results), failures=failures, rows=table.num_rows,
                   partitions=len(dts))


def _band_results(gx: Any, context: Any, model: Model, table: pa.Table, history: dict[str, list[int]],
                  cfg: dict[str, Any]) -> list[Any]:
    import pandas as pd

    counts = {}
    if table.num_rows:
        for row in table.group_by("dt").aggregate([([], "count_all")]).to_pylist():
            counts[row["dt"]] = row["count_all"]
    results = []
    source = context.data_sources.add_pandas(f"{model.name}_counts_source")
    batch = source.add_dataframe_asset("counts").add_batch_definition_whole_dataframe("run")
    for dt, previous in sorted(history.items()):
        limits = band(previous[-int(cfg.get("days", 28)):], float(cfg.get("low", 0.25)), float(cfg.get("high", 4.0)))
        if limits is None:
            continue
        suite = context.suites.add(gx.ExpectationSuite(name=f"{model.name}_band_{dt}"))
        suite.add_expectation(gx.expectations.ExpectTableRowCountToBeBetween(min_value=limits[0],
                                                                             max_value=limits[1]))
        frame = pd.DataFrame({"rows": [1] * counts.get(dt, 0)})
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(data=batch, suite=suite, name=f"{model.name}_band_{dt}")
        )
        for r in definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY").results:
            r.expectation_config.kwargs["dt"] = dt
            results.append(r)
    return results
