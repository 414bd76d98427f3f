"""Requests against bytes on the S3 emulator: the same data read as many small objects (a year of
daily state partitions, ~270 KB each, as `state_first_purchase` keeps them) or as a few large ones
(one per month, or one in all), with the parallelism the engine's snapshot uses.

It explains where the nightly build's time on moto goes (docs/benchmarks.md, "Nightly build of one
day"): a request costs the emulator milliseconds whatever its size, so reading 364 partitions is
bound by their number, not their bytes. Only loopback traffic; the emulator is stopped at the end.

    .venv/bin/python bench/s3_requests_bench.py [--files 364] [--kb 270] [--threads 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.append(str(BENCH.parent))

from benchlib import Proc, child_env, free_port, wait_http  # noqa: E402

from pipelines.lake.partitions.current import SNAPSHOT_THREADS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=364, help="small objects (days)")
    parser.add_argument("--kb", type=int, default=270, help="size of each small object")
    parser.add_argument("--threads", type=int, default=SNAPSHOT_THREADS, help="GETs in flight (the engine's)")
    parser.add_argument("--repeat", type=int, default=3, help="best of")
    args = parser.parse_args(argv)

    import boto3
    import pyarrow.fs as pafs

    work = Path(tempfile.mkdtemp(prefix="gitgoods-s3-requests-"))
    port = free_port()
    moto = Proc([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                work / "moto.log", env=child_env({}))  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/moto-api/", 60)
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench")  # fmt: skip
        s3.create_bucket(Bucket="requests-bench")
        size = args.kb << 10
        blob = os.urandom(size)  # incompressible, as 128-bit buyer hashes are
        months = 12
        layouts = {
            f"{args.files} objects of {args.kb} KB (daily partitions)": [f"day/{i}" for i in range(args.files)],
            f"{months} objects of {args.files * args.kb // months // 1024} MB (monthly)": [
                f"month/{i}" for i in range(months)],
            f"1 object of {args.files * args.kb // 1024} MB": ["all/0"],
        }  # fmt: skip
        for keys in layouts.values():
            per = args.files * size // len(keys)
            for key in keys:
                s3.put_object(Bucket="requests-bench", Key=key, Body=(blob * (per // size + 1))[:per])
        fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", access_key="bench",
                               secret_key="bench", region="us-east-1")  # fmt: skip

        def get(key: str) -> int:
            with fs.open_input_file(f"requests-bench/{key}") as fh:
                return len(fh.read())

        results = {}
        for label, keys in layouts.items():
            best = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                with ThreadPoolExecutor(args.threads) as pool:
                    total = sum(pool.map(get, keys))
                best = min(best, time.perf_counter() - t)
            results[label] = best
            print(f"{label:<45} {total / 1e6:7.1f} MB  {best:6.2f} s  {best / len(keys) * 1000:7.1f} ms/object")
        first, last = list(results.values())[0], list(results.values())[-1]
        load = os.getloadavg()[0]
        print(f"ratio, {args.files} small objects / 1 large: {first / last:.1f}x (load average {load:.2f})")
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
