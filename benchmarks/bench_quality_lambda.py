"""Peak memory and throughput of the quality-check Lambda on a large object.

Writes a JSON-lines orders file of ``--gb`` gigabytes (default 2) into a scratch lake, then,
in a fresh child process, calls ``etl.lambdas.quality_check.handler`` on it through the
local S3 stand-in (the handler streams it with ordinary boto3 ``GetObject`` calls) and
reports the process's peak RSS, which is what Lambda's "Max Memory Used" measures.

    .venv/bin/python benchmarks/bench_quality_lambda.py [--gb 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

LIMIT_MB = 256


def write_big_file(path: Path, target_bytes: int) -> int:
    """Repeat the sample feed (fresh ids each round) until ``target_bytes`` are written."""
    from etl.local.samples.orders import generate_orders

    records = generate_orders(1000, as_of=date(2026, 11, 26))
    written, offset = 0, 0
    with path.open("w", encoding="utf-8") as out:
        while written < target_bytes:
            block = "".join(
                json.dumps({**r, "id": None if r["id"] is None else r["id"] + offset}) + "\n"
                for r in records
            )
            out.write(block)
            written += len(block.encode("utf-8"))
            offset += 1000
    return path.stat().st_size


def measure(lake_root: str) -> dict:
    """Run inside the child: score ``raw/incoming/big.json`` and report memory and time."""
    from etl.lambdas import quality_check
    from etl.local.moto_adapter import local_step_functions
    from etl.local.services import LocalServices
    from etl.storage.lake import Lake

    services = LocalServices(Lake.local(lake_root), spark_factory=lambda: None)
    s3_only = {k: v for k, v in services.handlers().items() if k[0] == "s3"}
    event = {
        "inputData": {"bucket": services.names.bucket("raw"), "key": "incoming/big.json"},
        "validationResult": {"dataFormat": "json"},
    }
    with local_step_functions(s3_only):
        baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        result = quality_check.handler(event, None)
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_before_handler_mb": round(baseline_mb, 1),
        "totalRecords": result["totalRecords"],
        "qualityScore": result["qualityScore"],
        "duplicatesEstimated": result["duplicatesEstimated"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="object size in GB (default 2)")
    parser.add_argument("--keep", help="lake folder to reuse/keep (default: a temp folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    root = Path(args.keep or tempfile.mkdtemp(prefix="bench-quality-"))
    big = root / "raw/incoming/big.json"
    big.parent.mkdir(parents=True, exist_ok=True)
    if not big.exists() or big.stat().st_size < args.gb * 1e9:
        size = write_big_file(big, int(args.gb * 1e9))
    else:
        size = big.stat().st_size
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures["object_mb"] = round(size / 1e6)
    figures["mb_per_second"] = round(size / 1e6 / figures["seconds"], 1)
    figures["within_limit"] = figures["peak_rss_mb"] <= LIMIT_MB
    print(json.dumps(figures, indent=2))
    if not args.keep:
        shutil.rmtree(root)
    return 0 if figures["within_limit"] else 1


if __name__ == "__main__":
    sys.exit(main())
