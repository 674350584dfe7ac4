"""CPU per request without sockets: the app called as ASGI, in one process.

    .venv/bin/python -m bench.in_process [--programs 1500] [--requests 3000] [--callgrind]
        [--only decisions|reads|healthz]

The same database and requests as `bench.decisions` (approvals in blocks of
16 versions, so every eighth puts a version in force; reads of
GET /v1/versions/{id} as the secretariat), eight at a time, through the
app's whole middleware stack but no HTTP server: what ratify's own code, its
framework and its driver cost. Prints process CPU milliseconds per request.
`--only healthz` calls GET /healthz instead (no token, no database): what
the middleware chain and routing alone cost.

With --callgrind (Debian's valgrind) each run is under valgrind's
callgrind, counting the instructions of the requests only (counters zeroed
after start-up and warm-up, dumped after the last request). On a quiet
machine the same code gives the same count to within a percent, where CPU
time on a shared machine moves by a fifth between runs; a full garbage
collection that falls into a run adds more. About 60 times slower: use
--requests 300.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, env_for, fresh_database, report
from bench.decisions import BOARDS, prepare, tokens
from tests.raw_asgi import RawHeaders, raw_call

CONCURRENT = 8
MODES = ["decisions", "reads", "healthz"]
WARM_UP = 50
TEMPLATE = f"ratify_bench_{os.getpid()}"
"""Each run copies it (two runs at once have their own)."""
BODY = (
    '{"board_id":"%s","outcome":"approved","decided_on":"2019-06-10",'
    '"paragraph":"§ 60","case_number":"2019/KS 0260 005"}'
)


def approvals(versions: list[str]) -> list[tuple[str, str]]:
    """(version, board) pairs as bench/decisions.lua orders them for one wrk thread."""
    order = []
    for first in range(0, len(versions), 16):
        block = versions[first : first + 16]
        order += [(v, b) for b in BOARDS for v in block]
    return order


def bearer(token: str) -> RawHeaders:
    return [(b"authorization", f"Bearer {token}".encode())]


def child(mode: str, requests: int, data: dict[str, Any], callgrind: bool) -> None:
    """Run in the measured process: start the app, warm up, then time `requests`."""
    import uvloop

    from api.main import app_from_env

    app = app_from_env()
    versions: list[str] = data["versions"]
    order = approvals(versions)

    def request(n: int) -> Any:
        if mode == "decisions":
            version, board = order[n]
            body = (BODY % board).encode()
            headers = [
                *bearer(data["tokens"][board]),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            path = f"/v1/versions/{version}/decisions"
            return raw_call(app, "POST", path, headers=headers, body=body)
        if mode == "healthz":
            return raw_call(app, "GET", "/healthz")
        path = f"/v1/versions/{versions[n % len(versions)]}"
        return raw_call(app, "GET", path, headers=bearer(data["reader"]))

    async def main() -> dict[str, Any]:
        async with app.router.lifespan_context(app):
            for n in range(WARM_UP):
                assert (await request(n)).status in (200, 201), "warm-up failed"
            gate = asyncio.Semaphore(CONCURRENT)
            statuses: dict[int, int] = {}

            async def one(n: int) -> None:
                async with gate:
                    status = (await request(n)).status
                    statuses[status] = statuses.get(status, 0) + 1

            if callgrind:
                subprocess.run(["callgrind_control", "--zero", str(os.getpid())], check=True)
            cpu = time.process_time()
            await asyncio.gather(*(one(n) for n in range(WARM_UP, WARM_UP + requests)))
            cpu = time.process_time() - cpu
            if callgrind:
                dump = ["callgrind_control", "--dump=measured", str(os.getpid())]
                subprocess.run(dump, check=True)
            return {"cpu_ms_per_request": round(1000 * cpu / requests, 3), "statuses": statuses}

    print(json.dumps(uvloop.run(main())))


def measure(mode: str, requests: int, data: Path, callgrind: bool) -> dict[str, Any]:
    """One run of `mode` in a process of its own, on a copy of the template database."""
    argv = [sys.executable, "-m", "bench.in_process", "--child", mode, "--data", str(data)]
    argv += ["--requests", str(requests)]
    with tempfile.TemporaryDirectory() as out:
        if callgrind:
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p", *argv]
            argv.append("--callgrind")
        with fresh_database(f"{TEMPLATE}_{mode}", TEMPLATE) as url:
            done = subprocess.run(argv, env=env_for(url), cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        result: dict[str, Any] = {"mode": mode, **json.loads(done.stdout.splitlines()[-1])}
        if callgrind:
            for dump in Path(out).glob("cg.*"):
                text = dump.read_text()
                if "Trigger: dump measured" in text:
                    total = int(text.split("\nsummary: ")[1].split()[0])
                    result["instructions_per_request"] = round(total / requests)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=1500)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--only", choices=MODES)
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        data = json.loads(args.data.read_text())
        child(args.child, args.requests, data, args.callgrind)
        return
    if args.requests + WARM_UP > 8 * args.programs:
        parser.error("--programs must give at least (requests + 50) / 8 approvals to record")
    with fresh_database(TEMPLATE) as url:
        versions = prepare(url, args.programs)
        boards, reader = tokens(url)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as data:
            json.dump({"versions": versions, "tokens": boards, "reader": reader}, data)
            data.flush()
            runs = [
                measure(mode, args.requests, Path(data.name), args.callgrind)
                for mode in ([args.only] if args.only else ["decisions", "reads"])
            ]
    for run in runs:
        print(run)
    report("in_process", {"requests": args.requests, "runs": runs})


if __name__ == "__main__":
    main()
