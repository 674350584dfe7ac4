"""Entity tags: a strong ETag over a resource's representation, and `If-Match`."""

import hashlib

from api.encoding import dumps
from db.commands import Precondition
from db.queries import View
from workflow.errors import PreconditionFailed


def etag(view: View) -> str:
    """A strong ETag over the whole representation of a resource."""
    return '"' + hashlib.sha256(dumps(view, sort_keys=True)).hexdigest()[:32] + '"'


def if_match(header: str | None) -> Precondition | None:
    """The precondition an `If-Match` header sets on a version (None without one)."""
    if header is None:
        return None
    tags = {tag.strip() for tag in header.split(",")}

    def check(view: View) -> None:
        current = etag(view)
        if current not in tags and header.strip() != "*":
            raise PreconditionFailed(f"the version's ETag is {current}")

    return check
