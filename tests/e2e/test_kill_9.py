"""`kill -9` of a server in the middle of a burst of writes, then a restart on the
same database: every write that was answered 2xx is stored as answered,
nothing is half-written, the chains verify, and retrying each request with
its Idempotency-Key returns the stored answer or applies it once.
"""

import random
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from db.engine import Database
from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035
from tests.e2e.fleet import (
    Caller,
    Fleet,
    Process,
    approval,
    assert_audit_verifies,
    assert_invariants,
    caller,
    draft,
    members,
    respond_by,
)

# --- kill -9 in the middle of a burst -----------------------------------------


@dataclass
class Call:
    """One write of the burst, with its own Idempotency-Key, and what came of it."""

    who: str
    method: str
    path: str
    body: Any
    key: str = field(default_factory=lambda: f"burst-{uuid.uuid4()}")
    status: int | None = None
    answer: Any = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None


class Burst:
    """Calls on `lanes` threads, one client each, and a SIGKILL to the server mid-way."""

    def __init__(self, calls: Sequence[Call], lanes: int) -> None:
        self.calls = calls
        self.lanes = lanes
        self.answers = 0
        self.lock = threading.Lock()
        self.killed = threading.Event()

    def _lane(self, base_url: str, tokens: Mapping[str, str], calls: Sequence[Call]) -> None:
        with caller(base_url, tokens) as call:
            for item in calls:
                if self.killed.is_set():
                    return  # never sent
                try:
                    r = call(item.who, item.method, item.path, item.body, item.key)
                except httpx.TransportError as exc:
                    item.error = repr(exc)
                    continue
                item.status, item.answer = r.status_code, r.json()
                with self.lock:
                    self.answers += 1

    def run(
        self, server: Process, tokens: Mapping[str, str], kill_after: int, deadline: float
    ) -> None:
        """Fire the burst at `server` and kill its process group mid-way."""
        with ThreadPoolExecutor(max_workers=self.lanes) as pool:
            futures = [
                pool.submit(self._lane, server.base_url, tokens, self.calls[i :: self.lanes])
                for i in range(self.lanes)
            ]
            until = time.monotonic() + deadline
            while (
                self.answers < kill_after
                and not all(f.done() for f in futures)
                and time.monotonic() < until
            ):
                time.sleep(0.002)
            server.kill()
            self.killed.set()
            for future in futures:
                future.result(timeout=deadline)


def assert_stored(call: Caller, item: Call) -> None:
    """The resource a 2xx answer describes reads back with the same fields."""
    answer = item.answer
    if item.path.endswith("/decisions"):
        listed = call.ok("auditor", "GET", item.path)["items"]
        stored = [d for d in listed if d["id"] == answer["id"]]
        assert len(stored) == 1, (answer, listed)
        fields = set(answer) - {"version_state"}
        assert {k: stored[0][k] for k in fields} == {k: answer[k] for k in fields}
    elif item.path.endswith(("/versions", "/send-out")):
        # Nothing in the burst changes a version it drafts or sends out after that.
        assert call.ok("auditor", "GET", f"/v1/versions/{answer['id']}") == answer
    else:
        assert item.path == "/v1/programs"
        assert call.ok("auditor", "GET", f"/v1/programs/{answer['id']}") == answer


def test_kill_9_mid_burst_loses_no_answered_write_and_half_writes_nothing(
    seeded: Database, tokens: dict[str, str], fleet: Fleet
) -> None:
    first = fleet.server()
    fresh, successors, drafts = [], [], []
    with caller(first.base_url, tokens) as call:
        call.ok("secretariat", "POST", f"/v1/versions/{SUP_2035}/send-out", respond_by())
        for i in range(4):
            boards = members(2 * i)
            program = {"id": f"fresh-{i}", "title": "F", "owner": "O", "boards": boards}
            call.ok("secretariat", "POST", "/v1/programs", program)
            version = call.ok("secretariat", "POST", f"/v1/programs/fresh-{i}/versions", draft("F"))
            call.ok("secretariat", "POST", f"/v1/versions/{version['id']}/send-out", respond_by())
            fresh.append((version["id"], boards))
            later = call.ok("secretariat", "POST", f"/v1/programs/fresh-{i}/versions", draft("D"))
            drafts.append(later["id"])
        for i in range(3):
            boards = members(2 * i + 1)
            program = {"id": f"succ-{i}", "title": "S", "owner": "O", "boards": boards}
            call.ok("secretariat", "POST", "/v1/programs", program)
            old = call.ok("secretariat", "POST", f"/v1/programs/succ-{i}/versions", draft("A"))
            call.ok("secretariat", "POST", f"/v1/versions/{old['id']}/send-out", respond_by())
            for board in boards:
                call.ok(board, "POST", f"/v1/versions/{old['id']}/decisions", approval(board))
            new = call.ok(
                "secretariat", "POST", f"/v1/programs/succ-{i}/versions", draft("B", old["id"])
            )
            call.ok("secretariat", "POST", f"/v1/versions/{new['id']}/send-out", respond_by())
            successors.append((new["id"], boards))

    calls = [
        Call(board, "POST", f"/v1/versions/{version}/decisions", approval(board, f"2019-06-{n:02}"))
        for n, (version, boards) in enumerate([(SUP_2035, BOARD_IDS), *fresh, *successors], 10)
        for board in boards
    ]
    calls += [
        Call("secretariat", "POST", f"/v1/versions/{v}/send-out", respond_by()) for v in drafts
    ]
    calls += [
        Call("secretariat", "POST", f"/v1/programs/fresh-{k % 4}/versions", draft(f"Burst {k}"))
        for k in range(24)
    ]
    calls += [
        Call("admin", "POST", "/v1/programs", {"id": f"burst-{k}", "title": "B", "owner": "O"})
        for k in range(4)
    ]
    for k, program_call in enumerate(calls[-4:]):
        program_call.body["boards"] = members(k, 2 + k)
    random.Random(20190610).shuffle(calls)

    burst = Burst(calls, lanes=8)
    burst.run(first, tokens, kill_after=len(calls) // 3, deadline=120.0)

    answered = [c for c in calls if c.answered]
    unanswered = [c for c in calls if not c.answered]
    assert len(answered) >= len(calls) // 3
    assert unanswered, "the burst was over before the kill: nothing was cut short"
    assert all(c.status in (200, 201) for c in answered), [c.answer for c in answered]

    second = fleet.server()
    with caller(second.base_url, tokens) as call:
        # Every write that was answered 2xx is stored, exactly as answered.
        for item in answered:
            assert_stored(call, item)
        assert_invariants(seeded)
        assert_audit_verifies(call)

        # A retry with the same key replays the answer, or applies the write once.
        for item in calls:
            r = call(item.who, item.method, item.path, item.body, item.key)
            assert r.status_code in (200, 201), (item.path, r.text)
            if item.answered:
                assert (r.status_code, r.json()) == (item.status, item.answer)
                assert r.headers.get("idempotent-replayed") == "true"
            else:
                item.status, item.answer = r.status_code, r.json()
        for item in calls:
            assert_stored(call, item)
            again = call(item.who, item.method, item.path, item.body, item.key)
            assert (again.status_code, again.json()) == (item.status, item.answer)

        # Everything the burst asked for happened, once.
        for version, boards in [(SUP_2035, BOARD_IDS), *fresh, *successors]:
            view = call.ok("auditor", "GET", f"/v1/versions/{version}")
            assert view["state"] == "in_force", view
            listed = call.ok("auditor", "GET", f"/v1/versions/{version}/decisions")["items"]
            assert sorted(d["board_id"] for d in listed) == sorted(boards)
        for version in drafts:
            assert call.ok("auditor", "GET", f"/v1/versions/{version}")["state"] == "sent_out"
        for i in range(4):
            labels = [
                v["label"]
                for v in call.ok("auditor", "GET", f"/v1/programs/fresh-{i}/versions")["items"]
            ]
            assert sorted(labels) == sorted(["F", "D", *(f"Burst {k}" for k in range(i, 24, 4))])
        assert call.ok("auditor", "GET", f"/v1/versions/{SUP_2013}")["state"] == "superseded"
        assert_invariants(seeded)
        assert_audit_verifies(call)
    assert first.problems() == []
    assert second.problems() == []
