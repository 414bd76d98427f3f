"""`make up`'s runs (pipelines/backfill.py) keep their event logs out of the terminal: every event
of a run, DEBUG included, goes to the run log file, and the run is the one `dg.materialize` makes."""

from __future__ import annotations

import dagster as dg

from pipelines.backfill import materialize


@dg.asset
def counted(context) -> None:  # noqa: ANN001 - Dagster reads the hint, which `annotations` turns into a string
    context.log.info("counted 3 numbers")


def test_a_run_writes_its_log_to_the_file_and_nothing_to_the_terminal(tmp_path, capfd):
    instance = dg.DagsterInstance.ephemeral()
    log = tmp_path / "logs" / "runs.log"
    result = materialize([counted], instance=instance, resources={}, tags={"gitgoods/reason": "test"}, log_file=log)
    assert result.success
    out, err = capfd.readouterr()
    assert out == "" and "counted 3 numbers" not in err and "RUN_SUCCESS" not in err
    text = log.read_text()
    assert "counted 3 numbers" in text and "RUN_SUCCESS" in text and "DEBUG" in text
    assert instance.get_run_by_id(result.run_id).tags["gitgoods/reason"] == "test"
    # the same job name as `dg.materialize`'s runs, and the same materialisation in the instance
    plain = dg.materialize([counted], instance=instance)
    assert result.dagster_run.job_name == plain.dagster_run.job_name
    assert instance.get_latest_materialization_event(dg.AssetKey("counted")).run_id == plain.run_id


def test_a_failed_run_is_reported_not_raised(tmp_path):
    @dg.asset
    def broken() -> None:
        raise ValueError("no numbers")

    log = tmp_path / "runs.log"
    result = materialize([broken], instance=dg.DagsterInstance.ephemeral(), resources={}, tags={}, log_file=log)
    assert not result.success
    assert "no numbers" in log.read_text()
