"""Shared pieces of the benchmarks: a PostgreSQL database, a server, keys, wrk."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN = os.environ.get("RATIFY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def machine() -> str:
    """One line about the machine the figures come from."""
    cpu = "unknown cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    pg = subprocess.run(
        ["psql", ADMIN, "-tAc", "SHOW server_version"], capture_output=True, text=True
    )
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, PostgreSQL {pg.stdout.strip()}"


@contextmanager
def fresh_database(name: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of `template`, if given; dropped afterwards);
    yields its SQLAlchemy URL."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ratify(*args: str, env: dict[str, str]) -> str:
    """Run the CLI; its stdout."""
    out = subprocess.run(
        [str(BIN / "ratify"), *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def env_for(url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "RATIFY_DATABASE_URL": url, "RATIFY_LOG_LEVEL": "WARNING", **extra}


def session_cpu_seconds(session: int) -> float:
    """CPU seconds (user + system) of the live processes of a session: a server and its workers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[3]) == session:  # fields[3]: the session id (field 6 of proc(5))
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


@dataclass(frozen=True)
class Served:
    """A server under test: its base URL and the session id of its processes."""

    base: str
    session: int

    def cpu_seconds(self) -> float:
        return session_cpu_seconds(self.session)


@contextmanager
def server(url: str, workers: int, *extra: str, asgi: str = "uvicorn") -> Iterator[Served]:
    """`ratify serve` on a free port until the block ends (its own session).

    With `asgi="granian"`, the same app (`api.main:app_from_env`) under granian
    instead, to compare the two servers (`pip install granian` first; the
    database must be upgraded and seeded, as `bench.decisions` leaves it).
    """
    port = free_port()
    env = env_for(url)
    if asgi == "granian":
        assert not extra, "extra arguments are for `ratify serve`"
        argv = [str(BIN / "granian"), "--interface", "asgi", "--factory", "--loop", "uvloop"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        argv += ["--no-access-log", "--log-level", "warning", "api.main:app_from_env"]
        env["RATIFY_RUN_SCHEDULER"] = "false"
    else:
        argv = [str(BIN / "ratify"), "serve", "--port", str(port), "--workers", str(workers)]
        argv += ["--no-scheduler", *extra]
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not become ready")
        yield Served(base, proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def wrk(url: str, script: Path, connections: int, seconds: int, threads: int = 2) -> dict[str, Any]:
    """Run wrk with a Lua script; requests per second and latency percentiles (ms)."""
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=script.parent,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rate": rate,
        "requests": int(total.group(1)) if total else None,
        "p50_ms": pct.get("50"),
        "p99_ms": pct.get("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "raw": out,
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def pgbench(url: str, script: Path, clients: int, seconds: int, variables: dict[str, str]) -> float:
    """Transactions per second of a custom pgbench script."""
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    args = ["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", str(script)]
    for k, v in variables.items():
        args += ["-D", f"{k}={v}"]
    out = subprocess.run([*args, libpq], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]


def report(name: str, result: dict[str, Any]) -> None:
    """Print a result as one JSON line and keep it under bench/results/."""
    result = {"bench": name, "machine": machine(), **result}
    print(json.dumps(result, indent=2))
    folder = ROOT / "bench" / "results"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


T = TypeVar("T")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def code_state() -> str:
    """The commit measured, and the files changed since (`git status --short`)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--short", "--", "db", "notifications", "api", "workflow"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.split("\n")
    return " ".join([head, *(line.strip() for line in changed if line.strip())])


def postmaster_started() -> str:
    """When PostgreSQL last started, waiting (up to a minute) while it is down."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(ADMIN, connect_timeout=5) as conn:
                row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
                assert row is not None
                return str(row[0])
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


class Disturbed(RuntimeError):
    """PostgreSQL restarted during every try of a step."""


def steady(name: str, step: Callable[[], T], disturbed: list[str], attempts: int = 3) -> T:
    """Run a measurement; run it again when PostgreSQL restarted meanwhile.

    Other work on a shared machine (tests that restart the cluster) must not
    end a run or leave a figure that includes a restart.
    """
    for _attempt in range(attempts):
        before = postmaster_started()
        try:
            value = step()
        except Exception:
            if postmaster_started() == before:
                raise
            disturbed.append(name)
            continue
        if postmaster_started() == before:
            return value
        disturbed.append(name)
    raise Disturbed(f"PostgreSQL restarted during each of {attempts} tries of {name}")


@contextmanager
def bench_database(name: str) -> Iterator[str]:
    """`fresh_database`, dropped even when PostgreSQL was restarted under the run."""
    try:
        with fresh_database(name) as url:
            yield url
    finally:
        postmaster_started()  # waits until it is back
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
