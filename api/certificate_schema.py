"""The certificate of adoption as the OpenAPI schema documents it (`ratify.certificate/1`).

`workflow.certificates` builds the statement and `workflow.certificate_check`
checks it; these models only say, for generated clients, what it holds. The
integration tests validate every certificate they are given against them.
"""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.responses import Signature
from workflow.states import DecisionStatus, Outcome, VersionState


class CertificateKey(BaseModel):
    """The public key the statement names (it must be the one the service publishes)."""

    algorithm: Literal["Ed25519"]
    key_id: str
    public_key: Annotated[str, Field(description="base64 of the raw 32 bytes")]


class CertificateProgram(BaseModel):
    """The program, and the boards whose approval every version needs."""

    id: str
    title: str
    owner: str
    boards: list[str]


class VersionRef(BaseModel):
    """Another version, by id and label."""

    id: str
    label: str


class CertificateDocument(BaseModel):
    """The document the boards decided on."""

    title: str | None
    url: str | None
    sha256: str | None


class CertificateVersion(BaseModel):
    """The version certified."""

    id: str
    label: str
    state: VersionState
    drafted_on: date
    valid_from: date
    valid_until: date | None
    replaces: VersionRef | None
    superseded_by: str | None
    sent_out_at: str | None
    respond_by: date | None
    in_force_from: date | None
    superseded_on: date | None
    final_on: date | None
    document: CertificateDocument | None


class CertificateBoard(BaseModel):
    """A member board."""

    id: str
    municipality: str
    name: str
    municipality_code: str


class RecordedBy(BaseModel):
    """Who recorded a decision: a key's name, or a person (with `subject` and `email`)."""

    name: str
    role: str
    board_id: str | None
    subject: str | None = None
    email: str | None = None


class CertificateDecision(BaseModel):
    """The decision that stands for a board, with its dates after the meeting."""

    id: str
    outcome: Outcome
    decided_on: date
    paragraph: str
    case_number: str | None
    document_sha256: str | None
    minutes_attested_on: date | None
    announced_on: date | None
    appeal_until: date | None
    final_on: date | None
    status: DecisionStatus
    corrected: bool
    note: str | None
    recorded_by: RecordedBy
    recorded_at: str


class CertificateMember(BaseModel):
    """One member board, its decision (null: none recorded) and the `seq` of the events that
    recorded it and everything that happened to it since."""

    board: CertificateBoard
    decision: CertificateDecision | None
    events: list[int]


class ChainEvent(BaseModel):
    """An audit event with every field its hash covers, so it can be re-hashed offline."""

    seq: int
    hash: str
    prev_hash: str
    chain: str
    at: str
    type: str
    actor: Annotated[
        list[str | None],
        Field(description="[name, role, board_id] (a person: then subject, e-mail)"),
    ]
    program_id: str | None
    version_id: str | None
    board_id: str | None
    data: dict[str, Any]


class CertificateHead(BaseModel):
    """The head of the program's chain when the certificate was issued."""

    seq: int
    hash: str


class CertificateChain(BaseModel):
    """The program's audit chain from the version's first event to the head at issue."""

    id: str
    from_seq: int
    head: CertificateHead
    events: list[ChainEvent]


class CertificateStatement(BaseModel):
    """What the certificate says (signed in its canonical JSON form)."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Annotated[
        Literal["ratify.certificate/1"], Field(alias="schema", description="the format")
    ]
    kind: Literal["adoption", "rejection"]
    issued_at: Annotated[str, Field(description="RFC 3339, UTC")]
    key: CertificateKey
    program: CertificateProgram
    version: CertificateVersion
    decisions: list[CertificateMember]
    chain: CertificateChain


class Certificate(BaseModel):
    """A certificate of adoption (or of rejection), signed with the service's key; check it
    offline with `ratify certificate verify FILE`."""

    statement: CertificateStatement
    signature: Signature
