"""Throughput and peak memory of the quality-check Lambda, on JSON lines and CSV.

For each format, writes an orders file of ``--mb`` megabytes (the sample feed repeated with
fresh ids) and scores it in a fresh child process that imports only what the Lambda imports
(boto3 and ``etl.lambdas.quality_check``). The handler reads the object with its ordinary
boto3 calls; a botocore ``before-call`` hook answers ``HeadObject``/``GetObject`` (ranges
included) from the local file and ``PutMetricData`` with nothing, so no moto, no network and
no Spark are in the measured process. Its peak RSS (``VmHWM``) is what Lambda reports as
"Max Memory Used"; MB/s (wall clock) gives the projected time for the 5 GB validation
allows, and MB per CPU-second shows the work itself when the machine is shared.

    .venv/bin/python benchmarks/bench_quality_lambda.py [--mb 1000] [--format json csv]
    .venv/bin/python benchmarks/bench_quality_lambda.py --mb 200 --long-line-mb 50
    .venv/bin/python benchmarks/bench_quality_lambda.py --mb 200 --keys 300000 --format json

``--long-line-mb N`` puts one N MB record after the first thousand lines; ``--keys K`` puts
K records that each carry a key no other record has in front of the JSON lines file.
The measured process finds the dataset's spec as the deployed Lambda does: the
``dataset.json`` that ``etl export`` writes into the bundle (``$ETL_DATASETS_DIR`` points at
a copy made the same way), not ``dataset.yaml``, whose schema check imports jsonschema (about
1 s, which the bundle never pays). ``--spec-from-yaml`` measures the YAML path instead.

Exits 1 when a run is over the targets (peak RSS, response size); prints one JSON object
per run, then a table. Its last column is the handler's MB per CPU-second over the
machine's yardstick (``machine_yardstick``: ``orjson.loads`` alone on the sample's records),
so a slower machine of the same kind can be told from slower code.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PEAK_RSS_LIMIT_MB = 200
PAYLOAD_LIMIT_BYTES = 256 * 1024  # Step Functions' limit for a task result
FIVE_GB_MB = 5 * 1024**3 / 1e6
BUCKET = "bench-raw"


def _orders():
    from etl.local.samples.orders import generate_orders

    return generate_orders(1000, as_of=date(2026, 11, 26))


def _fields() -> tuple[str, ...]:
    """The sample's columns (imported here: the measured child imports only the Lambda)."""
    from etl.local.samples.orders import FIELDS

    return FIELDS


def _json_block(records: list[dict], offset: int) -> str:
    return "".join(
        json.dumps({**r, "id": None if r["id"] is None else r["id"] + offset}) + "\n"
        for r in records
    )


def _csv_block(records: list[dict], offset: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in records:
        row = {**r, "id": None if r["id"] is None else r["id"] + offset}
        writer.writerow(["" if row.get(f) is None else row[f] for f in _fields()])
    return out.getvalue()


def write_file(path: Path, fmt: str, target_mb: float, long_line_mb: float, keys: int) -> int:
    """The benchmark object: the sample feed repeated until ``target_mb`` is written.

    Written under a temporary name and renamed when complete, so ``--keep`` never reuses a
    file an interrupted run left half written.
    """
    records = _orders()
    block = _json_block if fmt == "json" else _csv_block
    target = int(target_mb * 1e6)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        if fmt == "csv":
            out.write(",".join(_fields()) + "\n")
        for n in range(keys):  # each record carries a key of its own
            out.write(json.dumps({"id": n, f"attribute_{n}": n}) + "\n")
        offset = 0
        while out.tell() < target:
            out.write(block(records, offset))
            offset += 1000
            if offset == 1000 and long_line_mb:
                big = {**records[0], "id": -1, "name": "x" * int(long_line_mb * 1e6)}
                out.write(block([big], 0))
    partial.replace(path)
    return path.stat().st_size


def _local_s3(path: Path) -> None:
    """Answer the handler's S3 and CloudWatch calls from ``path`` (no network, no moto)."""
    import boto3

    class Response:
        status_code, headers, content, text = 200, {}, b"", ""
        raw = io.BytesIO()

    class Body:
        def __init__(self, handle, length: int) -> None:
            self.handle, self.left = handle, length

        def read(self, size: int = -1) -> bytes:
            size = self.left if size is None or size < 0 or size > self.left else size
            data = self.handle.read(size)
            self.left -= len(data)
            return data

        def close(self) -> None:
            self.handle.close()

    calls = {}

    def remember(params, context, **_):
        context["bench_params"] = params

    def answer(model, context, **_):
        params = context.get("bench_params") or {}
        size = path.stat().st_size
        if model.name == "HeadObject":
            return Response(), {"ContentLength": size, "ETag": '"bench"'}
        if model.name == "GetObject":
            start, end = 0, size - 1
            if params.get("Range"):
                first, _, last = params["Range"].removeprefix("bytes=").partition("-")
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            handle = path.open("rb")
            handle.seek(start)
            length = max(0, end - start + 1)
            calls["GetObject"] = calls.get("GetObject", 0) + 1
            return Response(), {"Body": Body(handle, length), "ContentLength": length}
        return Response(), {}  # PutMetricData

    boto3.setup_default_session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    events = boto3.DEFAULT_SESSION._session.get_component("event_emitter")
    events.register("provide-client-params.*.*", remember)
    events.register("before-call.*.*", answer)


def peak_rss_mb() -> float:
    """This process's peak resident set size.

    Linux's ``VmHWM`` belongs to the process image, so it starts afresh at ``exec``;
    ``ru_maxrss`` would carry over the parent's size at fork (the parent may just have
    built a 50 MB record).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, fmt: str) -> dict:
    """Inside the measured process: score ``path`` as the Lambda would."""
    _local_s3(Path(path))
    from etl.lambdas import quality_check

    event = {
        "inputData": {"bucket": BUCKET, "key": f"incoming/{Path(path).name}"},
        "validationResult": {"dataFormat": fmt},
    }
    before = resource.getrusage(resource.RUSAGE_SELF)
    before_mb = peak_rss_mb()
    started = time.perf_counter()
    result = quality_check.handler(event, None)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_handler_mb": round(before_mb, 1),
        "response_bytes": len(json.dumps(result)),
        "totalRecords": result["totalRecords"],
        "qualityScore": result["qualityScore"],
        "defectRecords": result.get("defectRecords"),
        "parser": result.get("parser"),
    }


YARDSTICK_MB = 32
YARDSTICK_PASSES = 5


def machine_yardstick() -> float:
    """This machine's speed: MB per CPU-second of ``orjson.loads`` alone on 32 MB of the
    sample's records as JSON lines (the fastest of five passes). Machines of one kind differ (one session's ran Python at
    half another's), so the handler's MB per CPU-second over this tells the code's cost from
    the machine's speed, for either format."""
    import orjson

    records = _orders()
    lines: list[bytes] = []
    while sum(map(len, lines)) < YARDSTICK_MB * 1e6:
        lines += _json_block(records, len(lines)).encode("utf-8").splitlines()
    fastest = float("inf")
    for _ in range(YARDSTICK_PASSES):  # the fastest pass: the others met other work
        started = time.process_time()
        for line in lines:
            orjson.loads(line)
        fastest = min(fastest, time.process_time() - started)
    return round(sum(map(len, lines)) / 1e6 / max(fastest, 1e-3), 1)


def exported_specs(root: Path) -> Path:
    """The datasets' specs as ``etl export`` bundles them (``<name>/dataset.json``)."""
    from etl.core.datasets import REPO_DATASETS
    from etl.deploy.export import PACKAGED_DATASETS, dataset_entries

    folder = root / "exported-datasets"
    prefix = f"etl/{PACKAGED_DATASETS}/"
    for name, data in dataset_entries(REPO_DATASETS, with_files=False).items():
        target = folder / name.removeprefix(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def run_once(path: Path, fmt: str, specs: Path | None) -> dict:
    env = dict(os.environ)
    if specs is not None:
        env["ETL_DATASETS_DIR"] = str(specs)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--format", fmt],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env=env,
    )
    if done.returncode:
        raise SystemExit(f"the measured process failed: {done.stderr.strip()[-400:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    size_mb = path.stat().st_size / 1e6
    figures["format"], figures["object_mb"] = fmt, round(size_mb, 1)
    figures["mb_per_second"] = round(size_mb / figures["seconds"], 1)
    figures["mb_per_cpu_second"] = round(size_mb / max(figures["cpu_seconds"], 0.01), 1)
    figures["projected_5gb_seconds"] = round(FIVE_GB_MB / figures["mb_per_second"], 1)
    figures["within_targets"] = (
        figures["peak_rss_mb"] <= PEAK_RSS_LIMIT_MB
        and figures["response_bytes"] <= PAYLOAD_LIMIT_BYTES
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1000, help="object size in MB (default 1000)")
    parser.add_argument("--format", nargs="+", default=["json", "csv"], choices=["json", "csv"])
    parser.add_argument("--long-line-mb", type=float, default=0, help="one record this long")
    parser.add_argument("--keys", type=int, default=0, help="records with a key of their own")
    parser.add_argument("--repeat", type=int, default=1, help="runs per format (default 1)")
    parser.add_argument("--keep", help="folder to reuse/keep the objects in (default: temp)")
    parser.add_argument(
        "--spec-from-yaml",
        action="store_true",
        help="read the spec from dataset.yaml (validated) instead of the exported dataset.json",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.format[0])))
        return 0
    if args.keys and "csv" in args.format:
        parser.error("--keys applies to JSON lines only: use --format json")
    root = Path(args.keep or tempfile.mkdtemp(prefix="bench-quality-"))
    root.mkdir(parents=True, exist_ok=True)
    runs = []
    specs = None if args.spec_from_yaml else exported_specs(root)
    yardstick = machine_yardstick()
    try:
        for fmt in args.format:
            name = f"orders-{args.mb:g}mb-long{args.long_line_mb:g}-keys{args.keys}.{fmt}"
            path = root / name
            if not path.exists():
                write_file(path, fmt, args.mb, args.long_line_mb, args.keys)
            for _ in range(args.repeat):
                runs.append(run_once(path, fmt, specs))
                runs[-1]["yardstick_mb_per_cpu_second"] = yardstick
                print(json.dumps(runs[-1]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"\n{'format':6} {'MB':>7} {'s':>7} {'MB/s':>7} {'MB/cpu-s':>8} {'5 GB s':>7} "
        f"{'peak RSS':>9} {'resp B':>7} {'/ yardstick':>11}"
    )
    for r in runs:
        print(
            f"{r['format']:6} {r['object_mb']:>7} {r['seconds']:>7} {r['mb_per_second']:>7} "
            f"{r['mb_per_cpu_second']:>8} {r['projected_5gb_seconds']:>7} "
            f"{r['peak_rss_mb']:>8}M {r['response_bytes']:>7} "
            f"{r['mb_per_cpu_second'] / yardstick:>11.2f}"
        )
    print(
        f"yardstick: orjson.loads alone parses {yardstick} MB of the sample's records per "
        "CPU-second on this machine"
    )
    return 0 if all(r["within_targets"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
