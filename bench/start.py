"""Cold start: `ratify serve` on an empty SQLite file until its first 200 on /readyz.

    .venv/bin/python -m bench.start [--runs 10] [--no-scheduler]

Each run gets a fresh temporary directory (the working directory, the SQLite
file and the maildir live there; nothing else is configured), a free port,
and `ratify serve` as a user starts it: the schema is created by the Alembic
migrations, the Södertörn seed is written, uvicorn starts (and the scheduler,
unless --no-scheduler). The clock starts just before the process is spawned
and stops at the first `200` from `GET /readyz`, polled every 5 ms. Target:
under 3 s. Also reported, for scale: `ratify --help` (the interpreter and the
CLI's imports, nothing else), median of five runs.
"""

import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import BIN, code_state, free_port, load_average, report


def one_start(no_scheduler: bool) -> dict[str, Any]:
    """Start `ratify serve` in a fresh directory; seconds to the first 200 on /readyz."""
    with tempfile.TemporaryDirectory(prefix="ratify-start-") as tmp:
        folder = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith("RATIFY_")}
        env["RATIFY_DATABASE_URL"] = f"sqlite:///{folder / 'ratify.db'}"
        env["RATIFY_MAILDIR"] = str(folder / "mail")
        port = free_port()
        url = f"http://127.0.0.1:{port}/readyz"
        args = [str(BIN / "ratify"), "serve", "--port", str(port)]
        if no_scheduler:
            args.append("--no-scheduler")
        attempts = 0
        started = time.perf_counter()
        proc = subprocess.Popen(
            args,
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            with httpx.Client(timeout=2) as client:
                while True:
                    attempts += 1
                    try:
                        if client.get(url).status_code == 200:
                            ready = time.perf_counter() - started
                            break
                    except httpx.TransportError:
                        pass
                    if proc.poll() is not None:
                        raise RuntimeError(f"ratify serve exited with {proc.returncode}")
                    if time.perf_counter() - started > 60:
                        raise RuntimeError("ratify serve did not become ready in 60 s")
                    time.sleep(0.005)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        size = (folder / "ratify.db").stat().st_size
    return {"ready_s": round(ready, 3), "polls": attempts, "db_bytes": size}


def help_seconds(runs: int = 5) -> float:
    """Median seconds of `ratify --help`: the interpreter and the CLI's imports."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([str(BIN / "ratify"), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-scheduler", action="store_true")
    args = parser.parse_args()
    load_before = load_average()
    one_start(args.no_scheduler)  # warm the OS file cache (the venv's files)
    runs = [one_start(args.no_scheduler) for _ in range(args.runs)]
    ready = [r["ready_s"] for r in runs]
    result = {
        "code": code_state(),
        "runs": args.runs,
        "scheduler": not args.no_scheduler,
        "median_s": round(statistics.median(ready), 3),
        "max_s": max(ready),
        "min_s": min(ready),
        "all_s": ready,
        "cli_help_median_s": help_seconds(),
        "target_under_3s": max(ready) < 3.0,
        "load_before": load_before,
        "load_after": load_average(),
        "detail": runs,
    }
    report("start", result)


if __name__ == "__main__":
    main()
