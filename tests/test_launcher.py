"""`make up`'s terminal stays quiet (launcher/): what a phase prints and Python's warnings go to the
log, each phase's seconds are kept in order and written as JSON."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from launcher.phases import Phases


def ticking(*times: float):
    it = iter(times)
    return lambda: next(it)


def test_each_phase_is_timed_in_order_and_written_as_json(tmp_path, capsys):
    log = io.StringIO()
    phases = Phases(log, clock=ticking(0.0, 2.25, 2.25, 10.0))
    with phases.timed("emulators"):
        print("DynamoDB Local is up")
    results = phases.steps("portal", [("seller portal", lambda: "http://127.0.0.1:8081")])
    assert results == ["http://127.0.0.1:8081"]
    assert phases.seconds == {"emulators": 2.2, "portal": 7.8} and list(phases.seconds) == ["emulators", "portal"]
    assert phases.total() == 10.0
    assert "DynamoDB Local is up" in log.getvalue() and "DynamoDB Local is up" not in capsys.readouterr().out
    phases.write(tmp_path / "up-timings.json")
    assert json.loads((tmp_path / "up-timings.json").read_text()) == {
        "phases": {"emulators": 2.2, "portal": 7.8}, "total_s": 10.0}
    assert [line.split() for line in phases.table()] == [["emulators", "2.2", "s"], ["portal", "7.8", "s"]]


def test_a_failed_phase_is_timed_too():
    phases = Phases(io.StringIO(), clock=ticking(0.0, 3.0))
    with pytest.raises(RuntimeError), phases.timed("services"):
        raise RuntimeError("the order service did not start")
    assert phases.seconds == {"services": 3.0}


def test_warnings_and_library_logs_go_to_the_log_not_the_terminal(tmp_path):
    """In a process of its own, as `make up` runs (pytest's own warning capture would otherwise
    take the warning first)."""
    log = tmp_path / "up.log"
    script = textwrap.dedent(f"""
        import logging, warnings
        import dagster as dg
        from launcher.up import send_logs_to
        send_logs_to(open({str(log)!r}, "a", buffering=1))
        warnings.simplefilter("always")
        warnings.warn("the asset is in preview", dg.PreviewWarning, stacklevel=1)
        logging.getLogger("botocore.credentials").warning("found credentials in the environment")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert "PreviewWarning: the asset is in preview" in log.read_text()
    assert "found credentials in the environment" in log.read_text()


@pytest.mark.parametrize("start", ["start_events", "start_sweep", "start_stream"])
def test_a_running_worker_is_kept_without_waiting(start, monkeypatch, tmp_path):
    """A second `make up` finds the events relay, the sweep and the stream consumer running: it
    neither starts them again nor waits the second a new one is given to fail at start; `make status`
    and `make down` know each of them."""
    from gitgoods.local import processes, stack
    from gitgoods.settings import Settings

    settings = Settings(home=tmp_path)
    waited = []
    monkeypatch.setattr(processes, "pid_of", lambda settings, name: 4242)
    monkeypatch.setattr(processes, "start", lambda *a, **k: pytest.fail("started again"))
    monkeypatch.setattr(stack.time, "sleep", waited.append)
    service = getattr(stack, start)(settings)
    assert waited == [] and service.name
    assert {"events", "sweep", "stream"} <= set(stack.state_summary(settings))


def test_the_pipeline_s_first_day_is_a_setting_the_launcher_fills_in(tmp_path, monkeypatch):
    """The pipeline never works its first day out (no clock, no disk): without the setting it
    refuses with the variable's name; `make up` sets it from the simulation's window, else 90
    days back, and the setting wins over both."""
    from gitgoods.settings import Settings, get_settings
    from launcher.up import DEFAULT_HISTORY_DAYS, set_pipeline_start
    from pipelines.pipeline_start import PipelineStartMissing, first_day

    monkeypatch.delenv("GITGOODS_PIPELINE_START", raising=False)
    monkeypatch.setenv("GITGOODS_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        bare = Settings(home=tmp_path, pipeline_start=None)
        with pytest.raises(PipelineStartMissing, match="GITGOODS_PIPELINE_START"):
            first_day(bare)

        today = dt.datetime.now(dt.UTC).date()
        assert set_pipeline_start(bare).pipeline_start == today - dt.timedelta(days=DEFAULT_HISTORY_DAYS)

        (tmp_path / "state").mkdir()
        (tmp_path / "state" / "simulation-7.json").write_text(json.dumps({"end": "2026-05-31T12:00:00Z", "days": 90}))
        (tmp_path / "state" / "simulation-8.json").write_text(json.dumps({"end": "2026-06-30T12:00:00Z", "days": 10}))
        started = set_pipeline_start(bare)
        assert started.pipeline_start == dt.date(2026, 3, 2)  # May 31 minus 90 days, the earlier window
        assert os.environ["GITGOODS_PIPELINE_START"] == "2026-03-02"  # what the Dagster processes inherit
        assert first_day(get_settings()) == dt.date(2026, 3, 2)

        fixed = Settings(home=tmp_path, pipeline_start=dt.date(2025, 12, 1))
        assert set_pipeline_start(fixed).pipeline_start == dt.date(2025, 12, 1)
    finally:
        get_settings.cache_clear()


def test_a_second_make_up_on_the_same_home_is_refused_while_one_runs(tmp_path, capsys):
    from gitgoods.settings import Settings
    from launcher.up import only_one_up, up

    settings = Settings(home=tmp_path)
    with only_one_up(settings) as alone:
        assert alone
        assert up(settings, seed=False, random_seed=1, days=1, ingest=False) == 1
    assert "another `make up` is running" in capsys.readouterr().err
    with only_one_up(settings) as alone:  # given back when the first ends
        assert alone
