"""Domain errors, one small tree.

    DomainError
    ├── InvalidTransition        the machine forbids this in the current state
    │   ├── AlreadyDecided       the board has already decided for good
    │   ├── AlreadyAnnounced     the decision's announcement has other dates
    │   ├── AlreadyRuled         the appeal has its ruling
    │   └── PredecessorNotInForce the replaced version is no longer in force
    ├── NotAMember               the board is not one of the program's boards
    ├── DocumentMismatch         the decision names another document
    ├── InvalidValue             a value breaks a rule (a date in the future …)
    │   └── NotCorrectable       a correction names a field that is no slip (outcome …)
    ├── NotFound                 no such board, program or version
    ├── AlreadyExists            an id or label that is taken
    ├── PreconditionFailed       `If-Match` names another revision
    ├── BadSignature             a signed statement is not signed by this server's key
    └── TooManyWebhooks          the board has as many subscriptions as it may

`api/errors.py` maps each class to an HTTP status and a problem `code`.
"""


class DomainError(Exception):
    """Base class: the command was refused and nothing changed."""


class InvalidTransition(DomainError):
    """The state machine has no such transition from the current state."""


class AlreadyDecided(InvalidTransition):
    """The board has already approved, rejected or amended this version."""


class AlreadyAnnounced(InvalidTransition):
    """The decision's announcement was recorded with other dates (correct it instead)."""


class AlreadyRuled(InvalidTransition):
    """The appeal already has its ruling."""


class PredecessorNotInForce(InvalidTransition):
    """The version this one replaces is not in force, so it cannot be superseded."""


class NotAMember(DomainError):
    """The board is not among the boards whose approval the program needs."""


class DocumentMismatch(DomainError):
    """The decision was taken on a different document than the version's."""


class InvalidValue(DomainError):
    """A value breaks a domain rule, such as a decision dated in the future."""


class NotCorrectable(InvalidValue):
    """A correction names a field that is not a slip in the record (the outcome, the board)."""


class NotFound(DomainError):
    """No board, program or version has that id."""


class AlreadyExists(DomainError):
    """The id (or a version's label within its program) is already taken."""


class PreconditionFailed(DomainError):
    """The caller's `If-Match` does not match the version's current ETag."""


class BadSignature(DomainError):
    """A signed statement (an audit checkpoint) was not signed by this server's key,
    or was changed after it was signed."""


class TooManyWebhooks(DomainError):
    """The board already has as many live webhook subscriptions as it may have."""
