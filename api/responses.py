"""Response bodies that routes shape by hand, typed for the OpenAPI schema.

The routes answer with `json_response(view)` (a dict from `db/`), so these
models are documentation, not serializers: they say what the views hold.
`tests/integration/test_schema_fuzz.py` and the generated client
(`tests/integration/test_generated_client.py`) hold the views to them.
Request bodies and the resources of the contract are in `api/schemas.py`.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api import examples
from api.errors import problem_codes
from workflow.actors import Role
from workflow.delivery import DeliveryStatus
from workflow.events import EventType
from workflow.states import BoardStatus, DecisionStatus, VersionState

EVENT_TYPES = ", ".join(f"`{t}`" for t in EventType)

EventTypeName = Annotated[
    str,
    Field(
        description=f"The event type: {EVENT_TYPES}. New types may be added; treat an unknown"
        " one as informational.",
        examples=["decision.recorded"],
    ),
]


class Health(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether this process can serve: its database is reachable and at the schema's head."""

    status: Literal["ok", "unavailable"]
    database: Annotated[
        str | None,
        Field(description="what keeps the database from serving (`unreachable`, …)"),
    ] = None


class EventActor(BaseModel):
    """Who caused an event: an API key's name, a person (with `subject` and `email`), or the
    service itself (`system`)."""

    name: str
    role: Role
    board_id: str | None
    subject: Annotated[str | None, Field(description="a person's `sub` at the provider")] = None
    email: Annotated[str | None, Field(description="a person's e-mail address")] = None


class Event(BaseModel):
    """One event of the audit trail, hash-chained per program."""

    seq: int
    at: datetime
    type: EventTypeName
    actor: EventActor
    program_id: str | None
    version_id: str | None
    board_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class EventPage(BaseModel):
    """A page of events in `seq` order."""

    items: list[Event]
    next_cursor: str | None


class Verification(BaseModel):
    """What re-computing the hash chains found: `ok` with the `head`, or where it breaks."""

    ok: bool
    events: Annotated[int, Field(description="events in the trail")]
    checked: Annotated[int, Field(description="events re-hashed by this check")]
    incremental: bool
    head: Annotated[
        str | None, Field(description="when ok: SHA-256 over every chain's last hash")
    ] = None
    first_bad_seq: Annotated[int | None, Field(description="when broken")] = None
    chain: Annotated[str | None, Field(description="when broken: the chain")] = None
    reason: Annotated[str | None, Field(description="when broken: what is wrong")] = None


class CheckpointSeen(BaseModel):
    """The checkpoint a verification was held to."""

    at: str
    chains: Annotated[int, Field(description="how many chain heads it names")]


class VerificationAgainstCheckpoint(Verification):
    """A full check, held to the chain heads a signed checkpoint saw."""

    checkpoint: CheckpointSeen


class ChainHead(BaseModel):
    """A chain's last event when the checkpoint was taken."""

    seq: int
    hash: str


class CheckpointStatement(BaseModel):
    """What a checkpoint says (signed in its canonical JSON form)."""

    kind: Annotated[str, Field(description="`ratify.audit-checkpoint`")]
    version: Annotated[int, Field(description="1")]
    at: Annotated[str, Field(description="RFC 3339, UTC")]
    chains: dict[str, ChainHead]


class Signature(BaseModel):
    """An Ed25519 signature over the statement's canonical JSON."""

    algorithm: Annotated[str, Field(description="`Ed25519`")]
    key_id: str
    value: Annotated[str, Field(description="base64 of the 64-byte signature")]


class SignedCheckpoint(BaseModel):
    """A signed statement of every chain's head, to keep outside the database."""

    statement: CheckpointStatement
    signature: Signature


class PublicKey(BaseModel):
    """The public Ed25519 key that signs checkpoints (and certificates of adoption)."""

    algorithm: Annotated[str, Field(description="`Ed25519`")]
    key_id: str
    public_key: Annotated[str, Field(description="base64 of the raw 32 bytes")]
    pem: Annotated[str, Field(description="SubjectPublicKeyInfo, PEM")]


class RegisterRow(BaseModel):
    """One member board in the decision register: the decision that stands, or its status."""

    board_id: str
    municipality: str
    body: Annotated[str, Field(description="the deciding body, e.g. Kommunstyrelsen")]
    outcome: Annotated[
        BoardStatus, Field(description="the outcome that stands, or the board's open status")
    ]
    decided_on: date | None
    paragraph: str | None
    case_number: str | None
    minutes_attested_on: date | None
    announced_on: date | None
    appeal_until: date | None
    final_on: date | None
    status: DecisionStatus | None
    corrected: bool | None
    recorded_by: str | None
    recorded_at: datetime | None
    recorded_by_subject: str | None
    recorded_by_email: str | None


class Register(BaseModel):
    """The decision register of a version: one row per member board."""

    version_id: str
    label: str
    state: VersionState
    items: list[RegisterRow]


class Webhook(BaseModel):
    """A webhook subscription (never its secret)."""

    id: str
    url: str
    events: Annotated[list[str], Field(description="event types, or `*` for every type")]
    board_id: Annotated[
        str | None, Field(description="only events of versions this board is a member of")
    ]
    created_by: str
    created_at: datetime
    previous_secret_valid_until: Annotated[
        datetime | None, Field(description="after a rotation: until when the old secret signs")
    ]


class WebhookWithSecret(Webhook):
    """A subscription with its signing secret, shown in this answer only."""

    secret: Annotated[
        str | None,
        Field(
            description="`whsec_…`; null in the replay of a request with the same Idempotency-Key"
        ),
    ]
    secret_withheld: Annotated[
        str | None, Field(description="in a replay: why the secret is not shown")
    ] = None


class WebhookPage(BaseModel):
    """A page of subscriptions."""

    items: list[Webhook]
    next_cursor: str | None


class DeliveryAttempt(BaseModel):
    """One attempt at a delivery."""

    at: datetime
    status_code: Annotated[int | None, Field(description="the receiver's HTTP status")]
    error: str | None
    response: Annotated[str | None, Field(description="the first 1 kB of the answer")]
    duration_ms: int


class Delivery(BaseModel):
    """One event sent to one subscription, with its attempts."""

    id: int
    event_id: Annotated[str, Field(description="`webhook-id`: the same on every retry")]
    event_seq: int
    type: EventTypeName
    status: DeliveryStatus
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[DeliveryAttempt]


class DeliveryPage(BaseModel):
    """A page of deliveries in event order."""

    items: list[Delivery]
    next_cursor: str | None


class ValidationIssue(BaseModel):
    """One thing wrong with the request, as a 422 `validation_error` lists them."""

    loc: Annotated[list[str], Field(description="where: `body`, `query`, `path` or `header`, …")]
    msg: str
    type: Annotated[str, Field(description="the kind of error, e.g. `missing`")]


class Problem(BaseModel):
    """An RFC 9457 problem document: what went wrong, with a stable `code`."""

    model_config = ConfigDict(json_schema_extra={"examples": [dict(examples.PROBLEM)]})

    type: Annotated[str, Field(description="a URI naming the kind of problem")]
    title: str
    status: Annotated[int, Field(description="the HTTP status")]
    detail: Annotated[str, Field(description="what was wrong with this request")]
    code: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "enum": sorted(problem_codes()),
                "description": "Stable snake_case code; each operation lists those it gives.",
            }
        ),
    ]
    errors: Annotated[
        list[ValidationIssue],
        Field(description="a 422 `validation_error` of the request's form: each issue"),
    ] = []
