"""The pipeline process's heap (pipelines/heap.py): frozen once, at its first build."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_first_build_of_a_process_freezes_its_heap_once() -> None:
    """In a fresh interpreter: nothing is frozen after the imports; the first build freezes what is
    alive (every imported module's objects); a second build freezes nothing more."""
    script = textwrap.dedent(
        """
        import gc
        from pipelines import heap
        from pipelines.marts import runner

        assert gc.get_freeze_count() == 0
        class Stop(Exception):
            pass
        def partition_keys(*args):
            raise Stop  # the build's first step after settling: stop there, nothing is written
        runner.partition_keys = partition_keys
        from pipelines.marts.models import discover
        model = discover()["seller_daily_sales"]
        for _ in range(2):
            try:
                runner.build(model, "2026-01-01", "2026-01-01", engine=None, lake=None)
            except Stop:
                pass
            print(gc.get_freeze_count())
        print(heap.settle())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    first, second, again = int(out[0]), int(out[1]), out[2]
    assert first > 100_000  # the imports: Dagster-free here, still pyarrow, sqlglot and the models
    assert second == first and again == "False"
