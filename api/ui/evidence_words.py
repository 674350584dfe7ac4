"""The words of the evidence pages (the public notice page, the printable certificate).

Swedish first, English second, like the status page's (`api.ui.i18n`), whose
labels of states and statuses they share, and whose words they use for every
key not listed here (municipality, §, diarienummer, the toggle …).
"""

from api.ui.i18n import LANGS, Lang, Words
from api.ui.i18n import both as i18n_both

_TEXT: dict[str, tuple[str, str]] = {
    # the public notice page
    "notice_board": ("Anslagstavla", "Public notice board"),
    "public_intro": (
        "Beslut om programmet i varje medlemskommun: paragraf, diarienummer, datum,"
        " överklagandetid och när beslutet vann laga kraft.",
        "Each member municipality's decisions on the program: paragraph, case number,"
        " dates, appeal period and when the decision gained legal force.",
    ),
    "document": ("Dokument", "Document"),
    "decisions_of": ("Beslut om {label}", "Decisions on {label}"),
    "outcome": ("Beslut", "Decision"),
    "minutes_attested_on": ("Protokollet justerat", "Minutes attested"),
    "announced_on": ("Anslaget", "Announced"),
    "appeal_until": ("Överklagandetid t.o.m.", "Appeal until"),
    "decision_status": ("Beslutets status", "Decision status"),
    "no_decision": ("Inget beslut", "No decision"),
    "calendar": ("Tidsfrister som kalender", "Deadlines as a calendar"),
    "calendar_hint": (
        "Prenumerera på adressen i din kalender för att få svarsdagar, överklagandetider"
        " och laga kraft-datum.",
        "Subscribe to this address in your calendar for answer dates, appeal periods and"
        " legal-force dates.",
    ),
    "not_public_title": ("Hittades inte", "Not found"),
    "not_public": (
        "Det finns inget offentligt program på den här adressen.",
        "There is no public program at this address.",
    ),
    # the certificate
    "certificate_adoption": ("Intyg om antagande", "Certificate of adoption"),
    "certificate_rejection": ("Intyg om avslag", "Certificate of rejection"),
    "program": ("Program", "Program"),
    "issued_at": ("Utfärdat", "Issued"),
    "recorded_by": ("Registrerat av", "Recorded by"),
    "recorded_at": ("Registrerat", "Recorded at"),
    "events": ("Händelser", "Events"),
    "chain": ("Händelsekedjan", "The audit chain"),
    "chain_intro": (
        "Varje händelse med sitt nummer och sin kontrollsumma (SHA-256), från versionens"
        " första händelse till kedjans huvud när intyget utfärdades.",
        "Every event with its number and hash (SHA-256), from the version's first event"
        " to the chain's head when the certificate was issued.",
    ),
    "head": ("Kedjans huvud", "Chain head"),
    "type": ("Händelse", "Event"),
    "at": ("Tid (UTC)", "Time (UTC)"),
    "signature": ("Signatur", "Signature"),
    "signature_intro": (
        "Intyget är signerat med tjänstens nyckel (Ed25519). Kontrollera JSON-versionen med"
        " `ratify certificate verify` eller Python-verifieraren i README.",
        "The certificate is signed with the service's key (Ed25519). Check its JSON form"
        " with `ratify certificate verify` or the plain-Python verifier in the README.",
    ),
    "key_id": ("Nyckel-id", "Key id"),
    "public_key": ("Publik nyckel", "Public key"),
    "signature_value": ("Signaturvärde", "Signature value"),
    "sha256": ("SHA-256", "SHA-256"),
}


class EvidenceWords:
    """The words of one language, as the evidence templates call them."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._index = LANGS.index(lang)
        self._labels = Words(lang)

    def __call__(self, key: str, **values: object) -> str:
        """The text for `key`, with `{name}` placeholders filled in."""
        if key not in _TEXT:
            return self._labels(key, **values)
        text = _TEXT[key][self._index]
        return text.format(**values) if values else text

    def label(self, kind: str, value: str) -> str:
        """A state or status in words (the status page's labels)."""
        return self._labels.label(kind, value)


def both(key: str) -> tuple[str, str]:
    """The Swedish and the English text for `key` (the certificate shows both)."""
    return _TEXT[key] if key in _TEXT else i18n_both(key)
