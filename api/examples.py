"""Examples for the OpenAPI schema: one per request body model, and a problem document.

The schema puts each under its request body (`api/openapi.py`); Spectral checks
every example against its schema, and `tests/integration/test_openapi.py`
validates each against its model and fails for a request body without one.
They are keyed by the model's name (a model may live in a route module). The
values are the contract's: SUP 2035 and Tyresö's decision of 2019-06-10.
"""

from typing import Any

SUP_2013 = "a5d6e1f0-2013-4000-8000-000000002013"

REQUESTS: dict[str, dict[str, Any]] = {
    "PublicIn": {"public": True},
    "BoardIn": {
        "id": "tyreso",
        "municipality": "Tyresö kommun",
        "name": "Kommunstyrelsen",
        "municipality_code": "0138",
        "email": "kommunstyrelsen@tyreso.example",
    },
    "ProgramIn": {
        "id": "sup",
        "title": "Södertörns utvecklingsprogram",
        "owner": "Södertörns samarbetskommitté",
        "boards": [
            *("botkyrka", "haninge", "huddinge", "nykvarn"),
            *("nynashamn", "salem", "sodertalje", "tyreso"),
        ],
    },
    "VersionIn": {
        "label": "SUP 2035",
        "drafted_on": "2019-05-28",
        "valid_from": "2019-01-01",
        "valid_until": "2022-12-31",
        "replaces": SUP_2013,
        "document": {
            "title": "Södertörns utvecklingsprogram 2035",
            "url": "https://sodertorn.example/sup2035.pdf",
            "sha256": "9f2c6a1e4b7d3c5a8e0f1b2d4c6a8e0f1b3d5c7a9e1f2b4d6c8a0e2f4b6d8c0a",
        },
    },
    "SendOutIn": {"respond_by": "2019-06-30"},
    "WithdrawIn": {"reason": "Ersätts av en omarbetad version"},
    "DecisionIn": {
        "board_id": "tyreso",
        "outcome": "approved",
        "decided_on": "2019-06-10",
        "paragraph": "§ 60",
        "case_number": "2019/KS 0260 005",
        "minutes_attested_on": "2019-06-12",
        "announced_on": "2019-06-13",
    },
    "AnnouncementIn": {"minutes_attested_on": "2019-06-12", "announced_on": "2019-06-13"},
    "AppealIn": {
        "lodged_on": "2019-06-28",
        "court": "Förvaltningsrätten i Stockholm",
        "case_number": "12345-19",
    },
    "RulingIn": {
        "outcome": "rejected",
        "ruled_on": "2019-10-02",
        "ruling_final_on": "2019-10-24",
    },
    "WebhookIn": {
        "url": "https://w3d3.tyreso.example/ratify/hooks",
        "events": ["version.in_force", "decision.recorded"],
    },
    "CorrectionIn": {
        "changes": {"paragraph": "§ 61"},
        "reason": "Fel paragraf i protokollsutdraget",
    },
    "SignedCheckpoint": {
        "statement": {
            "kind": "ratify.audit-checkpoint",
            "version": 1,
            "at": "2026-11-30T06:00:00Z",
            "chains": {
                "_global": {"seq": 41, "hash": "3b8f…"},
                "sup": {"seq": 40, "hash": "c04e…"},
            },
        },
        "signature": {"algorithm": "Ed25519", "key_id": "4f1a…", "value": "MEUCIQ…"},
    },
}
"""The name of a request body's model → an example of that body."""

PROBLEM: dict[str, Any] = {
    "type": "https://ratify.example/problems/invalid_transition",
    "title": "Not allowed in the current state",
    "status": 409,
    "detail": "the version is drafted: decisions are accepted only while it is sent_out",
    "code": "invalid_transition",
}
