"""The status page's words for signing people in and for its forms (Swedish, English).

Merged into `api.ui.i18n` (kept apart so the forms' words are found together).
"""

TEXT: dict[str, tuple[str, str]] = {
    # signing in
    "login_oidc_title": ("Logga in via din organisation", "Sign in through your organisation"),
    "login_oidc_intro": (
        "Du loggar in hos din kommuns inloggningstjänst och kommer sedan tillbaka hit.",
        "You sign in at your municipality's sign-in service and then come back here.",
    ),
    "login_oidc_button": ("Logga in via organisationen", "Sign in through your organisation"),
    "oidc_off": (
        "Inloggning via organisationen är inte inställd här.",
        "Signing in through an organisation is not set up here.",
    ),
    "login_token_title": ("Logga in med API-nyckel", "Sign in with an API key"),
    "signed_in_title": ("Du är inloggad", "You are signed in"),
    "continue": ("Fortsätt", "Continue"),
    "signout_provider": (
        "Fortsätt för att logga ut från inloggningstjänsten också",
        "Continue to sign out of the sign-in service too",
    ),
    "signin_refused_title": ("Inloggningen nekades", "Sign-in refused"),
    "signin_detail": ("Teknisk orsak", "Technical reason"),
    "signin_again": ("Till inloggningen", "Back to sign-in"),
    "signin_switch": (
        "Logga ut från inloggningstjänsten för att byta konto",
        "Sign out of the sign-in service to switch accounts",
    ),
    "oidc_no_role": (
        "Ditt konto har ingen roll i ratify. Be den som administrerar din organisations "
        "inloggning att ge dig en.",
        "Your account has no role in ratify. Ask whoever administers your organisation's "
        "sign-in to give you one.",
    ),
    "oidc_many_roles": (
        "Ditt konto har mer än en roll i ratify; det får ha en. Be den som administrerar "
        "din organisations inloggning om hjälp.",
        "Your account has more than one role in ratify; it may have one. Ask whoever "
        "administers your organisation's sign-in for help.",
    ),
    "oidc_unknown_board": (
        "Ditt konto hör till en kommun som ratify inte känner till ({board}).",
        "Your account belongs to a board that ratify does not know ({board}).",
    ),
    "oidc_replayed": (
        "Den här inloggningen har redan använts eller tog för lång tid. Börja om.",
        "This sign-in has already been used or took too long. Please start again.",
    ),
    "oidc_other_browser": (
        "Inloggningen började inte i den här webbläsaren. Börja om.",
        "This sign-in did not start in this browser. Please start again.",
    ),
    "oidc_provider_said": (
        "Inloggningstjänsten avbröt inloggningen.",
        "The sign-in service stopped the sign-in.",
    ),
    "oidc_provider_refused": (
        "Inloggningstjänsten godtog inte inloggningen.",
        "The sign-in service did not accept the sign-in.",
    ),
    "oidc_wrong_issuer": (
        "Svaret kom från en annan inloggningstjänst än den ratify litar på.",
        "The answer came from another sign-in service than the one ratify trusts.",
    ),
    "oidc_invalid_token": (
        "Inloggningstjänstens intyg om vem du är kunde inte godtas.",
        "The sign-in service's statement of who you are could not be accepted.",
    ),
    "oidc_unreachable": (
        "Inloggningstjänsten svarar inte som den ska just nu. Försök igen om en stund.",
        "The sign-in service is not answering as it should right now. Try again shortly.",
    ),
    "subject": ("person-id", "person id"),
    # the program page's actions
    "actions": ("Åtgärder", "Actions"),
    "new_version": ("Upprätta en ny version", "Draft a new version"),
    "action_decisions": ("Registrera beslut", "Record a decision"),
    "action_send-out": ("Skicka ut för beslut", "Send out for decision"),
    "action_withdraw": ("Återkalla", "Withdraw"),
    "done_decisions": ("Beslutet är registrerat.", "The decision is recorded."),
    "done_send-out": ("Versionen är utskickad för beslut.", "The version is sent out."),
    "done_withdraw": ("Versionen är återkallad.", "The version is withdrawn."),
    "done_versions": ("Versionen är upprättad.", "The version is drafted."),
    "diagram_alt": (
        "Tillståndsdiagram: {machine}.{current} Samma övergångar står i tabellen nedan.",
        "State diagram: {machine}.{current} The same transitions are in the table below.",
    ),
    "diagram_alt_current": (" Aktuellt tillstånd: {state}.", " Current state: {state}."),
    # the forms
    "form_decisions_title": ("Registrera beslut om {label}", "Record a decision on {label}"),
    "form_send-out_title": ("Skicka ut {label} för beslut", "Send {label} out for decision"),
    "form_withdraw_title": ("Återkalla {label}", "Withdraw {label}"),
    "form_versions_title": ("Ny version av {label}", "New version of {label}"),
    "submit_decisions": ("Registrera beslutet", "Record the decision"),
    "submit_send-out": ("Skicka ut", "Send out"),
    "submit_withdraw": ("Återkalla versionen", "Withdraw the version"),
    "submit_versions": ("Upprätta versionen", "Draft the version"),
    "cancel": ("Avbryt och gå tillbaka", "Cancel and go back"),
    "required": ("obligatoriskt", "required"),
    "choose": ("Välj …", "Choose …"),
    "none_replaced": ("(ingen)", "(none)"),
    "hint_date": ("ÅÅÅÅ-MM-DD, till exempel 2019-06-10", "YYYY-MM-DD, for example 2019-06-10"),
    "hint_paragraph": ("Till exempel § 60", "For example § 60"),
    "hint_case_number": ("Till exempel 2019/KS 0260 005", "For example 2019/KS 0260 005"),
    "hint_sha256": (
        "Valfritt: 64 tecken 0–9 och a–f. Stämmer det inte med versionens dokument "
        "registreras inget.",
        "Optional: 64 characters 0–9 and a–f. If it does not match the version's document, "
        "nothing is recorded.",
    ),
    "hint_url": ("Börjar med https://", "Starts with https://"),
    "form_errors_title": ("Formuläret behöver rättas", "The form needs correcting"),
    "error": ("Fel", "Error"),
    "form_required": ("Fyll i fältet.", "Fill in this field."),
    "form_date": ("Skriv ett datum som ÅÅÅÅ-MM-DD.", "Write a date as YYYY-MM-DD."),
    "form_too_long": ("Högst {n} tecken.", "At most {n} characters."),
    "form_choice": ("Välj ett av alternativen.", "Choose one of the options."),
    "form_pattern": ("Värdet har inte rätt form.", "The value does not have the right form."),
    "form_invalid": ("Värdet godtas inte.", "The value is not accepted."),
    "form_stale": (
        "Formuläret har redan skickats med andra uppgifter. Ladda om sidan och försök igen.",
        "The form was already sent with other values. Reload the page and try again.",
    ),
    "problem_forbidden_board": (
        "Du kan bara registrera beslut för din egen kommun.",
        "You can record decisions for your own board only.",
    ),
    "problem_already_decided": (
        "Kommunen har redan fattat ett slutligt beslut om versionen.",
        "The board has already made a final decision on the version.",
    ),
    "problem_not_a_member": (
        "Kommunen hör inte till programmet.",
        "The board is not one of the program's boards.",
    ),
    "problem_invalid_transition": (
        "Det går inte i versionens nuvarande tillstånd.",
        "That is not possible in the version's current state.",
    ),
    "problem_predecessor_not_in_force": (
        "Versionen som ersätts gäller inte, så den här kan inte träda i kraft.",
        "The version it replaces is not in force, so this one cannot enter into force.",
    ),
    "problem_document_mismatch": (
        "Beslutet gäller inte versionens dokument (SHA-256 skiljer sig).",
        "The decision is not about the version's document (the SHA-256 differs).",
    ),
    "problem_already_exists": (
        "Det finns redan en version med den beteckningen.",
        "A version with that label exists already.",
    ),
    "problem_not_found": ("Det finns ingen sådan.", "There is no such thing."),
    "problem_precondition_failed": (
        "Versionen har ändrats sedan du öppnade formuläret. Ladda om sidan.",
        "The version has changed since you opened the form. Reload the page.",
    ),
    "problem_conflict": (
        "En annan ändring hann före. Försök igen.",
        "Another change came first. Please try again.",
    ),
    "problem_validation_error": ("Värdet godtas inte.", "The value is not accepted."),
    "problem_decided_on is in the future": (
        "Sammanträdet kan inte ligga i framtiden.",
        "The meeting cannot be in the future.",
    ),
    "problem_respond_by is before today": (
        "Svarsdagen kan inte ligga före i dag.",
        "The answer date cannot be before today.",
    ),
    "problem_valid_until is before valid_from": (
        "Slutdagen ligger före startdagen.",
        "The end date is before the start date.",
    ),
    "problem_replaces names a version of another program": (
        "Versionen hör till ett annat program.",
        "That version belongs to another program.",
    ),
}

FIELDS: dict[str, tuple[str, str]] = {
    "board_id": ("Kommun", "Board"),
    "label": ("Beteckning", "Label"),
    "drafted_on": ("Upprättad", "Drafted"),
    "valid_from": ("Gäller från", "Valid from"),
    "valid_until": ("Gäller till", "Valid until"),
    "document.title": ("Dokumentets titel", "Document title"),
    "document.url": ("Dokumentets adress", "Document address"),
    "document.sha256": ("Dokumentets SHA-256", "Document SHA-256"),
}
"""Labels of form fields the audit page's `field` labels do not have yet."""
