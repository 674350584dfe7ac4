"""The status page's words, in Swedish (the default) and English."""

from collections.abc import Callable
from typing import Literal, get_args

from api.ui import words_people

Lang = Literal["sv", "en"]
LANGS: tuple[Lang, ...] = get_args(Lang)
DEFAULT: Lang = "sv"

_TEXT: dict[str, tuple[str, str]] = {
    # chrome
    "app": ("ratify – beslutsläge", "ratify – decision status"),
    "skip": ("Hoppa till innehållet", "Skip to content"),
    "toggle": ("English", "Svenska"),
    "signed_in_as": ("Inloggad som", "Signed in as"),
    "logout": ("Logga ut", "Sign out"),
    "programs": ("Program", "Programs"),
    "back_to_program": ("Tillbaka till programmet", "Back to the program"),
    # login
    "login_title": ("Logga in", "Sign in"),
    "login_intro": (
        "Logga in med din API-nyckel. Nyckeln sparas inte i webbläsaren; "
        "du får en sessionscookie som gäller i högst åtta timmar.",
        "Sign in with your API key. The key is not stored in the browser; "
        "you get a session cookie that lasts at most eight hours.",
    ),
    "token": ("API-nyckel", "API key"),
    "token_hint": ("Börjar med rat_", "Starts with rat_"),
    "login_button": ("Logga in", "Sign in"),
    "login_failed": (
        "Nyckeln är okänd eller återkallad.",
        "The key is unknown or revoked.",
    ),
    "form_expired": (
        "Formuläret hade gått ut. Försök igen.",
        "The form had expired. Please try again.",
    ),
    "logged_out": ("Du är utloggad.", "You are signed out."),
    # programs
    "program_list_title": ("Program", "Programs"),
    "no_programs": ("Inga program ännu.", "No programs yet."),
    "owner": ("Ägare", "Owner"),
    "in_force_now": ("Gäller nu", "In force now"),
    "in_force_since": ("gällande sedan", "in force since"),
    "none_in_force": ("Ingen version gäller i dag.", "No version is in force today."),
    "versions": ("Versioner", "Versions"),
    "version": ("Version", "Version"),
    "state": ("Status", "State"),
    "drafted_on": ("Upprättad", "Drafted"),
    "valid": ("Giltighet", "Validity"),
    "respond_by": ("Svar senast", "Respond by"),
    "in_force_from": ("Gällande från", "In force from"),
    "superseded_on": ("Ersatt", "Superseded"),
    "audit_link": ("Händelser", "Events"),
    "out_for_decision": ("Ute för beslut", "Out for decision"),
    "latest_round": ("Senaste versionen", "Latest version"),
    "approved_count": ("{n} av {total} har godkänt", "{n} of {total} have approved"),
    "respond_by_line": ("Svar senast {date}", "Answers due by {date}"),
    "municipality": ("Kommun", "Municipality"),
    "meeting": ("Sammanträde", "Meeting"),
    "paragraph": ("§", "§"),
    "case_number": ("Diarienummer", "Case number"),
    "days_left": ("Dagar kvar", "Days left"),
    "appeal_until": ("Överklagandetid", "Appeal period"),
    "final_on": ("Laga kraft", "Legal force"),
    "appealed_mark": ("överklagat", "appealed"),
    "corrected_mark": ("rättat", "corrected"),
    "decisions_title": (
        "Beslut, överklaganden och rättelser",
        "Decisions, appeals and corrections",
    ),
    "no_decisions": ("Inga beslut registrerade.", "No decisions recorded."),
    "recorded": ("Registrerat", "Recorded"),
    "appeals": ("Överklaganden", "Appeals"),
    "corrections": ("Rättelser", "Corrections"),
    "reason": ("Skäl", "Reason"),
    "pending_ruling": ("väntar på dom", "awaiting the ruling"),
    "n_days_left": ("{n} dagar kvar", "{n} days left"),
    "one_day_left": ("1 dag kvar", "1 day left"),
    "due_today": ("Sista dagen i dag", "Due today"),
    "n_days_late": ("{n} dagar försenad", "{n} days overdue"),
    "one_day_late": ("1 dag försenad", "1 day overdue"),
    "answered": ("Besvarad", "Answered"),
    "no_round": (
        "Ingen version har hanterats i ratify ännu.",
        "No version has been handled in ratify yet.",
    ),
    # diagram
    "diagram_title": ("Tillståndsdiagram", "State diagram"),
    "diagram_intro": (
        "Ritat ur samma regeltabell som tjänsten tillämpar. Den aktuella "
        "versionens tillstånd är markerat.",
        "Drawn from the same rules table the service enforces. The current "
        "version's state is marked.",
    ),
    "version_machine": ("Programversion", "Program version"),
    "board_machine": ("Kommunens beslut", "A board's decision"),
    "from": ("Från", "From"),
    "event": ("Händelse", "Event"),
    "to": ("Till", "To"),
    "condition": ("Villkor", "Condition"),
    "current_state": ("aktuellt tillstånd", "current state"),
    "mermaid_source": ("Mermaid-källa", "Mermaid source"),
    # audit
    "audit_title": ("Händelser för {label}", "Events for {label}"),
    "newest_first": ("Nyaste först.", "Newest first."),
    "no_events": ("Inga händelser.", "No events."),
    "older": ("Äldre händelser", "Older events"),
    "newest": ("Till de nyaste", "Back to the newest"),
    "seq": ("Nr", "Seq"),
    "actor": ("Utförd av", "By"),
    "details": ("Uppgifter", "Details"),
    "hash": ("Kontrollsumma", "Hash"),
    "verify_title": ("Kontroll av händelsekedjan", "Audit chain check"),
    "verify_ok": (
        "Obruten: {n} händelser kontrollerade (huvud {head})",
        "Intact: {n} events checked (head {head})",
    ),
    "verify_broken": (
        "BRUTEN vid händelse nr {seq}: {reason}",
        "BROKEN at event {seq}: {reason}",
    ),
    "verify_incremental": (
        "{n} nya händelser omräknade sedan förra kontrollen; det som redan kontrollerats"
        " räknas bara om vid en fullständig kontroll.",
        "{n} new events re-hashed since the last check; what was already checked is"
        " re-hashed only by a full check.",
    ),
    "verify_full_link": ("Kontrollera hela kedjan", "Verify everything"),
    "verify_full_done": (
        "Fullständig kontroll: alla {n} händelser omräknade.",
        "Full check: all {n} events re-hashed.",
    ),
    "verify_not_allowed": (
        "Kontrollen av kedjan visas för granskare och administratörer.",
        "The chain check is shown to auditors and administrators.",
    ),
    # errors
    "not_found_title": ("Hittades inte", "Not found"),
    "not_found": ("Det finns inget {what} med id {id}.", "There is no {what} with id {id}."),
    "what_program": ("program", "program"),
    "what_version": ("version", "version"),
    "forbidden_title": ("Ingen behörighet", "Not allowed"),
    "forbidden": (
        "Din nyckel (roll {role}) får inte se den här sidan.",
        "Your key (role {role}) may not see this page.",
    ),
}

_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "board_status": {
        "pending": ("Ej beslutat", "Not decided"),
        "approved": ("Godkänd", "Approved"),
        "rejected": ("Avslagen", "Rejected"),
        "amended": ("Ändrad", "Amended"),
        "referred_back": ("Återremitterad", "Referred back"),
        "tabled": ("Bordlagd", "Tabled"),
        "annulled": ("Upphävt – beslutar igen", "Annulled – deciding again"),
        "unknown": ("Okänt", "Unknown"),
    },
    "decision_status": {
        "standing": ("Står fast", "Standing"),
        "appealed": ("Överklagat", "Appealed"),
        "annulled": ("Upphävt", "Annulled"),
    },
    "appeal_outcome": {
        "rejected": ("Avslaget", "Rejected"),
        "dismissed": ("Avvisat", "Dismissed"),
        "withdrawn": ("Återkallat", "Withdrawn"),
        "annulled": ("Upphävt", "Annulled"),
    },
    "version_state": {
        "drafted": ("Utkast", "Draft"),
        "sent_out": ("Utskickad", "Sent out"),
        "in_force": ("Gällande", "In force"),
        "rejected": ("Avslagen", "Rejected"),
        "withdrawn": ("Återkallad", "Withdrawn"),
        "superseded": ("Ersatt", "Superseded"),
    },
    "trigger": {
        "send_out": ("skicka ut", "send out"),
        "withdraw": ("återkalla", "withdraw"),
        "enter_into_force": ("träda i kraft", "enter into force"),
        "reject": ("avslå", "reject"),
        "supersede": ("ersättas", "be superseded"),
        "approve": ("godkänna", "approve"),
        "amend": ("anta med ändring", "amend"),
        "refer_back": ("återremittera", "refer back"),
        "table": ("bordlägga", "table"),
        "annul": ("upphävas av domstol", "be annulled by a court"),
        "reopen": ("öppnas igen", "be reopened"),
        "reinstate": ("gälla igen", "be reinstated"),
    },
    "guard": {
        "all_members_approved": ("alla kommuner har godkänt", "every board has approved"),
        "predecessor_in_force": ("föregångaren gäller", "the predecessor is in force"),
        "a_member_rejected": (
            "en kommun har avslagit eller ändrat",
            "a board has rejected or amended",
        ),
        "not all_members_approved": (
            "inte längre alla kommuner har godkänt",
            "no longer every board has approved",
        ),
        "not a_member_rejected": (
            "inget avslag står kvar",
            "no rejection still counts",
        ),
        "entered_here": (
            "trädde i kraft genom beslut i ratify",
            "entered into force through decisions in ratify",
        ),
        "successor_reopened": (
            "efterträdaren har öppnats igen",
            "its successor was reopened",
        ),
    },
    "role": {
        "admin": ("administratör", "administrator"),
        "secretariat": ("sekretariat", "secretariat"),
        "board": ("kommun", "board"),
        "auditor": ("granskare", "auditor"),
        "system": ("systemet", "the system"),
    },
    "event": {
        "version.drafted": ("Version upprättad", "Version drafted"),
        "version.imported": ("Historisk version införd", "Historical version imported"),
        "version.sent_out": ("Utskickad för beslut", "Sent out for decision"),
        "version.withdrawn": ("Återkallad", "Withdrawn"),
        "version.rejected": ("Avslagen", "Rejected"),
        "version.in_force": ("Trädde i kraft", "Entered into force"),
        "version.superseded": ("Ersatt", "Superseded"),
        "version.reopened": ("Åter för beslut", "Out for decision again"),
        "version.reinstated": ("Gäller igen", "In force again"),
        "version.corrected": ("Datum följde en rättelse", "Dates moved by a correction"),
        "version.final": ("Vann laga kraft", "Gained legal force"),
        "decision.announced": ("Justering anslagen", "Minutes' attestation announced"),
        "decision.corrected": ("Beslutet rättat", "Decision corrected"),
        "decision.annulled": ("Beslutet upphävt", "Decision annulled"),
        "decision.final": ("Beslutet vann laga kraft", "Decision gained legal force"),
        "appeal.lodged": ("Överklagande inkom", "Appeal lodged"),
        "appeal.ruled": ("Dom i överklagandet", "Appeal ruled"),
        "decision.recorded": ("Beslut registrerat", "Decision recorded"),
        "decision.imported": ("Historiskt beslut infört", "Historical decision imported"),
        "reminder.sent": ("Påminnelse skickad", "Reminder sent"),
        "reminder.failed": ("Påminnelse kunde inte skickas", "Reminder failed"),
        "mail.sent": ("E-post skickad", "E-mail sent"),
        "mail.failed": ("E-post kunde inte skickas", "E-mail failed"),
        "webhook.created": ("Webhook skapad", "Webhook created"),
        "webhook.deleted": ("Webhook borttagen", "Webhook deleted"),
        "webhook.secret_rotated": ("Webhookens hemlighet bytt", "Webhook secret rotated"),
        "program.created": ("Program skapat", "Program created"),
        "board.created": ("Kommun tillagd", "Board added"),
        "key.created": ("Nyckel skapad", "Key created"),
        "key.revoked": ("Nyckel återkallad", "Key revoked"),
    },
    "field": {
        "outcome": ("Beslut", "Outcome"),
        "decided_on": ("Sammanträde", "Meeting"),
        "paragraph": ("Paragraf", "Paragraph"),
        "case_number": ("Diarienummer", "Case number"),
        "request": ("Anrop", "Request"),
        "respond_by": ("Svar senast", "Respond by"),
        "in_force_from": ("Gällande från", "In force from"),
        "superseded_on": ("Ersatt", "Superseded on"),
        "superseded_by": ("Ersatt av", "Superseded by"),
        "replaces": ("Ersätter", "Replaces"),
        "reason": ("Skäl", "Reason"),
        "note": ("Anteckning", "Note"),
        "announced_on": ("Anslaget", "Announced"),
        "minutes_attested_on": ("Protokollet justerat", "Minutes attested"),
        "final_on": ("Laga kraft", "Legally final"),
        "appeal_until": ("Överklagandetid t.o.m.", "Appeal until"),
        "late_announcement": ("Sent anslag", "Late announcement"),
        "status": ("Status", "Status"),
        "lodged_on": ("Överklagat", "Lodged"),
        "court": ("Domstol", "Court"),
        "late": ("För sent", "Late"),
        "ruled_on": ("Dom meddelad", "Ruled"),
        "ruling_final_on": ("Domen laga kraft", "Ruling final"),
        "appeal_id": ("Överklagandets id", "Appeal id"),
        "changes": ("Ändringar", "Changes"),
        "derived": ("Följdändringar", "Dates that followed"),
        "was": ("Var", "Was"),
        "reopened": ("Öppnad igen", "Reopened"),
        "document_sha256": ("Dokumentets SHA-256", "Document SHA-256"),
        "decision_id": ("Beslutets id", "Decision id"),
    },
}


_TEXT.update(words_people.TEXT)
_LABELS["field"].update(words_people.FIELDS)


def choose(requested: str | None, remembered: str | None) -> Lang:
    """The page's language: `?lang=` first, then the cookie, then Swedish."""
    for candidate in (requested, remembered):
        for lang in LANGS:
            if candidate == lang:
                return lang
    return DEFAULT


class Words:
    """The words of one language, as the templates call them."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._index = LANGS.index(lang)

    def __call__(self, key: str, **values: object) -> str:
        """The text for `key`, with `{name}` placeholders filled in."""
        text = _TEXT[key][self._index]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        """Whether there are words for `key`."""
        return key in _TEXT

    def label(self, kind: str, value: str) -> str:
        """A state, status, role, event type … in words; the raw value when unknown."""
        found = _LABELS[kind].get(value)
        return found[self._index] if found else value

    def labeller(self, kind: str) -> Callable[[str], str]:
        """`label` bound to one kind."""
        return lambda value: self.label(kind, value)


def both(key: str) -> tuple[str, str]:
    """The Swedish and the English text for `key`."""
    return _TEXT[key]


def other(lang: Lang) -> Lang:
    """The language the toggle switches to."""
    return "en" if lang == "sv" else "sv"
