"""The status page's forms that act, each running the same command as its REST route.

| form              | path                          | command (`db/commands.py`) |
|-------------------|-------------------------------|----------------------------|
| record a decision | `/ui/versions/{id}/decisions` | `record_decision`          |
| send out          | `/ui/versions/{id}/send-out`  | `send_out`                 |
| withdraw          | `/ui/versions/{id}/withdraw`  | `withdraw`                 |
| draft a version   | `/ui/programs/{id}/versions`  | `create_version`           |

(the REST route of each is the same path under `/v1` instead of `/ui`).
Each takes the REST route's roles (its `auth.Allow`), its body schema and
its checks (`auth.check_board`), and runs through `api.writes.run_write`, so
one unit of work, the same audit events and per-person idempotency keys
(a hidden `idempotency_key` makes a double submit harmless). GET shows the
form, POST acts: 303 to the program page on success, else the form again
with the complaint next to its field.

Adding a form is one more `Action` in `ACTIONS`: its fields (named as the
REST body's), schema, `Allow`, when the program page offers it, and `run`.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api import auth, schemas
from api.deps import DbDep, RequestInfo, SessionDep
from api.errors import ApiError
from api.routing import Router
from api.ui import forms
from api.ui.forms import Choice, Field, FormState
from api.ui.i18n import Words
from api.ui.session import SignedIn
from api.ui.web import FormDep, LangDep, PageError, ViewerDep, not_found, page, redirect, require
from api.writes import Result, run_write
from db import commands, models, queries, repositories
from db.uow import UnitOfWork
from workflow.actors import Actor, Role
from workflow.decisions import Decision
from workflow.errors import DomainError
from workflow.states import UNDECIDED, Outcome, VersionState


@dataclass(frozen=True)
class Target:
    """What a form acts on: a version (and its program), or a program."""

    program: models.Program
    version: models.Version | None
    view: dict[str, Any] | None
    """The version as the contract shows it (boards and all), for a version's form."""
    in_force: str | None = None
    """The id of the program's version in force, for a program's form."""

    @property
    def label(self) -> str:
        """The version's label, or the program's title."""
        return self.version.label if self.version is not None else self.program.title


Run = Callable[[UnitOfWork, Target, Any, Actor], None]
Choices = Callable[[Session, Target, Actor, Words], dict[str, list[Choice]]]


def _no_choices(_s: Session, _t: Target, _a: Actor, _w: Words) -> dict[str, list[Choice]]:
    return {}


@dataclass(frozen=True)
class Action:
    """One form: what it posts, who may, when it is offered, and the command it runs."""

    key: str
    on: Literal["version", "program"]
    fields: tuple[Field, ...]
    schema: type[BaseModel]
    allowed: auth.Allow
    run: Run
    offered_in: frozenset[VersionState] = frozenset()
    """The version states in which the program page offers the form (program forms: always)."""
    choices: Choices = _no_choices
    defaults: Callable[[Target], dict[str, str]] = field(default=lambda _t: {})

    def path(self, target_id: str) -> str:
        """The form's address."""
        return f"/ui/{self.on}s/{target_id}/{self.key}"


# --- record a decision ---------------------------------------------------------------


def _decide(uow: UnitOfWork, target: Target, body: Any, actor: Actor) -> None:
    assert target.version is not None
    auth.check_board(actor, body.board_id)
    decision = Decision(id=commands.new_id(), **body.model_dump())
    commands.record_decision(uow, target.version.id, decision)


def decidable_boards(target: Target, actor: Actor) -> list[str]:
    """The boards the actor may record for on the version: their own, or (an
    administrator) every member that has not decided for good."""
    statuses = {b["board_id"]: b["status"] for b in (target.view or {}).get("boards", [])}
    if actor.role is Role.BOARD:
        return [b for b in statuses if b == actor.board_id]
    return [b for b, status in statuses.items() if status in UNDECIDED]


def _decision_choices(
    session: Session, target: Target, actor: Actor, words: Words
) -> dict[str, list[Choice]]:
    boards = queries.boards_by_id(session)
    return {
        "board_id": [
            Choice(b, boards[b].municipality)
            for b in decidable_boards(target, actor)
            if b in boards
        ],
        "outcome": [Choice(o.value, words.label("board_status", o.value)) for o in Outcome],
    }


DECIDE = Action(
    key="decisions",
    on="version",
    fields=(
        Field("board_id", "select", required=True),
        Field("outcome", "select", required=True),
        Field("decided_on", "date", required=True),
        Field("paragraph", required=True, hint="hint_paragraph", max_length=100),
        Field("case_number", required=True, hint="hint_case_number", max_length=100),
        Field("minutes_attested_on", "date"),
        Field("announced_on", "date"),
        Field("document_sha256", hint="hint_sha256", max_length=64),
        Field("note", "textarea", max_length=5000),
    ),
    schema=schemas.DecisionIn,
    allowed=auth.DECIDE,
    run=_decide,
    offered_in=frozenset({VersionState.SENT_OUT}),
    choices=_decision_choices,
)


# --- the secretariat's: send out, withdraw, draft ------------------------------------


def _send_out(uow: UnitOfWork, target: Target, body: Any, _actor: Actor) -> None:
    assert target.version is not None
    commands.send_out(uow, target.version.id, body.respond_by)


def _withdraw(uow: UnitOfWork, target: Target, body: Any, _actor: Actor) -> None:
    assert target.version is not None
    commands.withdraw(uow, target.version.id, body.reason)


def _draft(uow: UnitOfWork, target: Target, body: Any, _actor: Actor) -> None:
    document = body.document
    draft = commands.Draft(
        label=body.label,
        drafted_on=body.drafted_on,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        replaces=body.replaces,
        document_title=document.title if document else None,
        document_url=document.url if document else None,
        document_sha256=document.sha256 if document else None,
    )
    commands.create_version(uow, target.program.id, draft)


def _replaceable(
    session: Session, target: Target, _actor: Actor, words: Words
) -> dict[str, list[Choice]]:
    versions = queries.list_versions(session, target.program.id, 1000, None)["items"]
    return {
        "replaces": [
            Choice("", words("none_replaced")),
            *(Choice(v["id"], v["label"]) for v in reversed(versions)),
        ]
    }


def _replacing_in_force(target: Target) -> dict[str, str]:
    return {"replaces": target.in_force} if target.in_force else {}


SEND_OUT = Action(
    key="send-out",
    on="version",
    fields=(Field("respond_by", "date", required=True),),
    schema=schemas.SendOutIn,
    allowed=auth.WRITE_PROGRAMS,
    run=_send_out,
    offered_in=frozenset({VersionState.DRAFTED}),
)
WITHDRAW = Action(
    key="withdraw",
    on="version",
    fields=(Field("reason", "textarea", required=True, max_length=2000),),
    schema=schemas.WithdrawIn,
    allowed=auth.WRITE_PROGRAMS,
    run=_withdraw,
    offered_in=frozenset({VersionState.DRAFTED, VersionState.SENT_OUT}),
)
DRAFT = Action(
    key="versions",
    on="program",
    fields=(
        Field("label", required=True, max_length=200),
        Field("drafted_on", "date", required=True),
        Field("valid_from", "date", required=True),
        Field("valid_until", "date"),
        Field("replaces", "select"),
        Field("document.title", max_length=500),
        Field("document.url", hint="hint_url", max_length=2000),
        Field("document.sha256", hint="hint_sha256", max_length=64),
    ),
    schema=schemas.VersionIn,
    allowed=auth.WRITE_PROGRAMS,
    run=_draft,
    choices=_replaceable,
    defaults=_replacing_in_force,
)

ACTIONS = (DECIDE, SEND_OUT, WITHDRAW, DRAFT)


@dataclass(frozen=True)
class Offer:
    """A form the program page links to."""

    key: str
    href: str


def offers(viewer: Actor, version: dict[str, Any]) -> list[Offer]:
    """The forms the viewer may use on a version in its state (none for an auditor)."""
    found = []
    for action in ACTIONS:
        if action.on != "version" or viewer.role not in action.allowed.roles:
            continue
        if version["state"] not in action.offered_in:
            continue
        if action is DECIDE and viewer.role is Role.BOARD:
            statuses = {b["board_id"]: b["status"] for b in version["boards"]}
            if statuses.get(viewer.board_id) not in UNDECIDED:
                continue
        found.append(Offer(action.key, action.path(version["id"])))
    return found


def may_draft(viewer: Actor) -> bool:
    """Whether the viewer may draft a version (the program page then links to the form)."""
    return viewer.role in DRAFT.allowed.roles


# --- the routes ----------------------------------------------------------------------

router = Router(prefix="/ui", include_in_schema=False)


def _target(session: Session, action: Action, target_id: str, words: Words) -> Target:
    if action.on == "version":
        version = queries.version_row(session, target_id)
        if version is None:
            raise not_found(words, "what_version", target_id)
        program = session.get_one(models.Program, version.program_id)
        return Target(program, version, queries.version_view(session, version))
    row = queries.program_row(session, target_id)
    if row is None:
        raise not_found(words, "what_program", target_id)
    return Target(row, None, None, repositories.in_force_id(session, row.id))


def _show(
    request: Request,
    lang: Any,
    action: Action,
    target: Target,
    viewer: SignedIn,
    session: Session,
    state: FormState,
    idempotency_key: str,
    status: int = 200,
) -> Response:
    words = Words(lang)
    state.choices = action.choices(session, target, viewer.actor, words)
    context = {
        "action": action,
        "target": target,
        "post_to": action.path(target.version.id if target.version else target.program.id),
        "back_to": f"/ui/programs/{target.program.id}",
        "state": state,
        "idempotency_key": idempotency_key,
    }
    return page(request, lang, "form.html", context, status)


def _show_form(action: Action) -> Callable[..., Response]:
    def show(
        request: Request, target_id: str, lang: LangDep, found: ViewerDep, session: SessionDep
    ) -> Response:
        words = Words(lang)
        require(found, action.allowed.roles, words)
        target = _target(session, action, target_id, words)
        state = FormState(values=action.defaults(target))
        return _show(
            request, lang, action, target, found, session, state, secrets.token_urlsafe(24)
        )

    show.__doc__ = f"The form: {action.key}."
    return show


def _submit_form(action: Action) -> Callable[..., Response]:
    def submit(
        request: Request,
        target_id: str,
        lang: LangDep,
        found: ViewerDep,
        session: SessionDep,
        db: DbDep,
        posted: FormDep,
    ) -> Response:
        words = Words(lang)
        require(found, action.allowed.roles, words)
        if not found.csrf_ok(posted.get("csrf", "")):
            raise PageError(400, words("form_expired"), words("form_expired"))
        target = _target(session, action, target_id, words)
        key = posted.get("idempotency_key", "")
        if not (0 < len(key) <= 100 and key.isascii() and key.isprintable()):
            key = secrets.token_urlsafe(24)
        body, state = forms.validated(action.schema, action.fields, posted, words)
        if body is None:
            return _show(request, lang, action, target, found, session, state, key, 422)
        info = RequestInfo(
            method="POST",
            path=request.url.path,
            idempotency_key=key,
            if_match=None,
            client=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )

        def command(uow: UnitOfWork) -> Result:
            action.run(uow, target, body, found.actor)
            return Result(303, {"done": action.key})

        try:
            run_write(db, request.app.state.clock, found.actor, info, body, command)
        except (DomainError, ApiError) as exc:
            status = forms.refused(exc, action.fields, state, words)
            return _show(request, lang, action, target, found, session, state, key, status)
        return redirect(f"/ui/programs/{target.program.id}?done={action.key}")

    submit.__doc__ = f"Run the form's command: {action.key}."
    return submit


for _action in ACTIONS:
    _path = f"/{_action.on}s/{{target_id}}/{_action.key}"
    router.add_api_route(_path, _show_form(_action), methods=["GET"])
    router.add_api_route(_path, _submit_form(_action), methods=["POST"])
