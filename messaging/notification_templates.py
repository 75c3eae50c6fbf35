"""Notification templates: the wording of the alerts that reassure, per event, channel and
language, which each service may rewrite (``NotificationTemplate`` rows, edited in the admin).

A template is a ``str.format`` text whose placeholders are limited to non-sensitive data:
the reference, dates, the service's and the step's names and the link to the space. Anything
else is refused when the template is saved (``validate_template``): an alert never carries a
message, a subject, a note, a name or a contact detail (DESIGN invariant 4). Without a row of
its own, a service uses the defaults below.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

PARIS = ZoneInfo("Europe/Paris")
SMS_MAX_CHARS = 320
SUBJECT_MAX_CHARS = 200

# Placeholders a template may use, and what they are.
PLACEHOLDERS = {
    "reference": gettext_lazy("référence de la demande ou de la démarche"),
    "service": gettext_lazy("nom du service"),
    "step": gettext_lazy("nom de l'étape de la démarche"),
    "date": gettext_lazy("date (réponse attendue, rendez-vous, rappel)"),
    "time": gettext_lazy("heure du rendez-vous ou du rappel"),
    "link": gettext_lazy("lien vers l'espace de l'usager"),
}
# Names someone may try that would leak personal data or content: refused with that reason.
FORBIDDEN = frozenset(
    {
        "subject",
        "message",
        "body",
        "content",
        "text",
        "note",
        "comment",
        "document",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "citizen",
        "email",
        "phone",
        "mobile",
        "mobile_phone",
        "address",
        "birthdate",
        "tax_number",
        "social_number",
        "agent",
    }
)


@dataclass(frozen=True)
class EventSpec:
    label: object  # lazy translation
    placeholders: tuple[str, ...]
    category: str  # "requests", "demarches", "appointments" (citizen preferences)


EVENTS: dict[str, EventSpec] = {
    "acknowledgement": EventSpec(
        gettext_lazy("Accusé de réception"), ("reference", "service", "date", "link"), "requests"
    ),
    "demarche_step": EventSpec(
        gettext_lazy("Démarche : changement d'étape"),
        ("reference", "service", "step", "link"),
        "demarches",
    ),
    "demarche_action": EventSpec(
        gettext_lazy("Démarche : action attendue"),
        ("reference", "service", "step", "link"),
        "demarches",
    ),
    "demarche_action_reminder": EventSpec(
        gettext_lazy("Démarche : rappel d'action attendue"),
        ("reference", "service", "step", "date", "link"),
        "demarches",
    ),
    "callback_booked": EventSpec(
        gettext_lazy("Rappel téléphonique : confirmation"),
        ("reference", "service", "date", "time", "link"),
        "appointments",
    ),
    "callback_reminder": EventSpec(
        gettext_lazy("Rappel téléphonique : rappel"),
        ("reference", "service", "date", "time", "link"),
        "appointments",
    ),
    "appointment_booked": EventSpec(
        gettext_lazy("Rendez-vous : confirmation"),
        ("reference", "service", "date", "time", "link"),
        "appointments",
    ),
    "appointment_reminder": EventSpec(
        gettext_lazy("Rendez-vous : rappel"),
        ("reference", "service", "date", "time", "link"),
        "appointments",
    ),
    # After a closed contact; {link} is the signed one-use survey link (contactcenter.surveys).
    "satisfaction_survey": EventSpec(
        gettext_lazy("Questionnaire de satisfaction"),
        ("reference", "service", "link"),
        "requests",
    ),
}

_FOOTER = {
    "fr": (
        "\n\nCe courriel est envoyé automatiquement, merci de ne pas y répondre. "
        "Vous pouvez changer vos préférences d'alerte dans votre espace."
    ),
    "en": (
        "\n\nThis e-mail is sent automatically, please do not reply. "
        "You can change your alert preferences in your space."
    ),
}

# (subject, e-mail body, SMS) per event and language.
_DEFAULTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "acknowledgement": {
        "fr": (
            "Accusé de réception de votre demande {reference}",
            "Bonjour,\n\nLe service {service} a bien reçu votre demande {reference}. "
            "Une réponse vous sera apportée au plus tard le {date}.\n"
            "Pour la suivre, connectez-vous : {link}",
            "{service} a bien reçu votre demande {reference}. Réponse attendue au plus tard "
            "le {date} : {link}",
        ),
        "en": (
            "Acknowledgement of your request {reference}",
            "Hello,\n\nThe {service} service has received your request {reference}. "
            "You will get an answer by {date} at the latest.\n"
            "To follow it, sign in: {link}",
            "{service} has received your request {reference}. Answer expected by {date}: {link}",
        ),
    },
    "demarche_step": {
        "fr": (
            "Votre démarche {reference} passe à l'étape « {step} »",
            "Bonjour,\n\nVotre démarche {reference} auprès du service {service} passe à "
            "l'étape « {step} ».\nPour la consulter, connectez-vous : {link}",
            "Votre démarche {reference} passe à l'étape « {step} » : {link}",
        ),
        "en": (
            "Your procedure {reference} moved to the step “{step}”",
            "Hello,\n\nYour procedure {reference} with the {service} service moved to the "
            "step “{step}”.\nTo see it, sign in: {link}",
            "Your procedure {reference} moved to the step “{step}”: {link}",
        ),
    },
    "demarche_action": {
        "fr": (
            "Action attendue de votre part : démarche {reference}",
            "Bonjour,\n\nVotre démarche {reference} auprès du service {service} attend une "
            "action de votre part (étape « {step} »).\nPour la réaliser, connectez-vous : {link}",
            "Action attendue de votre part pour votre démarche {reference} : {link}",
        ),
        "en": (
            "Action expected from you: procedure {reference}",
            "Hello,\n\nYour procedure {reference} with the {service} service expects an action "
            "from you (step “{step}”).\nTo do it, sign in: {link}",
            "Action expected from you for your procedure {reference}: {link}",
        ),
    },
    "demarche_action_reminder": {
        "fr": (
            "Rappel : action attendue pour votre démarche {reference}",
            "Bonjour,\n\nDepuis le {date}, votre démarche {reference} auprès du service "
            "{service} attend une action de votre part (étape « {step} »).\n"
            "Pour la réaliser, connectez-vous : {link}",
            "Rappel : votre démarche {reference} attend une action de votre part : {link}",
        ),
        "en": (
            "Reminder: action expected for your procedure {reference}",
            "Hello,\n\nSince {date}, your procedure {reference} with the {service} service "
            "expects an action from you (step “{step}”).\nTo do it, sign in: {link}",
            "Reminder: your procedure {reference} expects an action from you: {link}",
        ),
    },
    "callback_booked": {
        "fr": (
            "Confirmation de votre demande de rappel {reference}",
            "Bonjour,\n\nLe service {service} vous rappellera le {date} à partir de {time}.\n"
            "Pour suivre votre demande, connectez-vous : {link}",
            "{service} vous rappellera le {date} à partir de {time} : {link}",
        ),
        "en": (
            "Your callback request {reference} is confirmed",
            "Hello,\n\nThe {service} service will call you back on {date} from {time}.\n"
            "To follow your request, sign in: {link}",
            "{service} will call you back on {date} from {time}: {link}",
        ),
    },
    "callback_reminder": {
        "fr": (
            "Rappel : le service {service} vous appelle le {date}",
            "Bonjour,\n\nLe service {service} vous rappellera le {date} à partir de {time}.\n"
            "Pour suivre votre demande, connectez-vous : {link}",
            "Rappel : {service} vous appelle le {date} à partir de {time} : {link}",
        ),
        "en": (
            "Reminder: the {service} service calls you on {date}",
            "Hello,\n\nThe {service} service will call you back on {date} from {time}.\n"
            "To follow your request, sign in: {link}",
            "Reminder: {service} calls you on {date} from {time}: {link}",
        ),
    },
    "appointment_booked": {
        "fr": (
            "Confirmation de votre rendez-vous {reference}",
            "Bonjour,\n\nVotre rendez-vous avec le service {service} est confirmé le {date} "
            "à {time}.\nPour le consulter, connectez-vous : {link}",
            "Rendez-vous confirmé avec {service} le {date} à {time} : {link}",
        ),
        "en": (
            "Your appointment {reference} is confirmed",
            "Hello,\n\nYour appointment with the {service} service is confirmed on {date} "
            "at {time}.\nTo see it, sign in: {link}",
            "Appointment with {service} confirmed on {date} at {time}: {link}",
        ),
    },
    "appointment_reminder": {
        "fr": (
            "Rappel : rendez-vous avec le service {service} le {date}",
            "Bonjour,\n\nNous vous rappelons votre rendez-vous avec le service {service} le "
            "{date} à {time}.\nPour le consulter, connectez-vous : {link}",
            "Rappel : rendez-vous avec {service} le {date} à {time} : {link}",
        ),
        "en": (
            "Reminder: appointment with the {service} service on {date}",
            "Hello,\n\nThis is a reminder of your appointment with the {service} service on "
            "{date} at {time}.\nTo see it, sign in: {link}",
            "Reminder: appointment with {service} on {date} at {time}: {link}",
        ),
    },
    "satisfaction_survey": {
        "fr": (
            "Votre avis sur votre échange avec le service {service}",
            "Bonjour,\n\nVous avez récemment échangé avec le service {service} au sujet de "
            "votre demande {reference}. Donnez-nous votre avis en une minute (lien valable "
            "7 jours, utilisable une fois) : {link}",
            "Votre avis sur votre échange avec {service} (demande {reference}) : {link}",
        ),
        "en": (
            "Your opinion on your contact with the {service} service",
            "Hello,\n\nYou recently had a contact with the {service} service about your "
            "request {reference}. Tell us what you think in one minute (link valid for 7 days, "
            "usable once): {link}",
            "Your opinion on your contact with {service} (request {reference}): {link}",
        ),
    },
}


def default_template(event: str, channel: str, language: str) -> tuple[str, str]:
    """(subject, body) of the built-in template (French when the language is unknown)."""
    texts = _DEFAULTS[event].get(language) or _DEFAULTS[event]["fr"]
    if channel == "sms":
        return "", texts[2]
    return texts[0], texts[1]


def placeholders_of(text: str) -> list[str]:
    """The placeholder names of a template, or a ValidationError saying what is malformed."""
    names = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise ValidationError(
            _(
                "Accolade mal placée : un champ s'écrit {reference}, une accolade seule "
                "s'écrit {{ ou }}."
            ),
            code="malformed",
        ) from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValidationError(
                _("Champ « {%(field)s} » mal formé : écrivez seulement son nom entre accolades.")
                % {"field": field + (f"!{conversion}" if conversion else "")},
                code="malformed",
            )
        names.append(field)
    return names


def validate_template(event: str, channel: str, subject: str, body: str) -> None:
    """Refuse a template using a placeholder that is unknown, sensitive or not given for this
    event, a body without ``{link}``, an SMS too long or an e-mail without subject. Errors are
    keyed by field (``subject``, ``body``) for the form."""
    spec = EVENTS.get(event)
    if spec is None:
        raise ValidationError({"event": _("Type d'alerte inconnu.")})
    errors: dict[str, list[str]] = {}
    allowed = ", ".join(f"{{{name}}}" for name in spec.placeholders)
    for field, text in (("subject", subject), ("body", body)):
        try:
            names = placeholders_of(text)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
            continue
        for name in dict.fromkeys(names):
            if name in FORBIDDEN:
                message = _(
                    "Le champ « {%(name)s} » est interdit : une alerte ne contient jamais de "
                    "donnée personnelle ni le contenu d'un échange. Champs possibles : %(allowed)s."
                )
            elif name not in PLACEHOLDERS:
                message = _("Champ inconnu : « {%(name)s} ». Champs possibles : %(allowed)s.")
            elif name not in spec.placeholders:
                message = _(
                    "Le champ « {%(name)s} » n'existe pas pour ce type d'alerte. "
                    "Champs possibles : %(allowed)s."
                )
            else:
                continue
            errors.setdefault(field, []).append(message % {"name": name, "allowed": allowed})
    if "body" not in errors and "{link}" not in body:
        errors.setdefault("body", []).append(
            _("Le texte doit contenir {link}, le lien vers l'espace de l'usager.")
        )
    if channel == "sms":
        if subject.strip():
            errors.setdefault("subject", []).append(_("Un SMS n'a pas d'objet."))
        if len(body) > SMS_MAX_CHARS:
            errors.setdefault("body", []).append(
                _("SMS de %(count)s caractères : %(max)s au plus.")
                % {"count": len(body), "max": SMS_MAX_CHARS}
            )
    elif not subject.strip():
        errors.setdefault("subject", []).append(_("Un courriel doit avoir un objet."))
    if errors:
        raise ValidationError(errors)


def format_date(moment: datetime | None, language: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(PARIS).strftime("%d/%m/%Y")


def format_time(moment: datetime | None, language: str) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(PARIS)
    if language == "en":
        return local.strftime("%H:%M")
    return local.strftime("%Hh%M")


def fill(text: str, values: dict[str, str]) -> str:
    """The template with its placeholders replaced (a placeholder without a value is left
    empty: only a template saved before a rule changed could have one)."""

    class _Values(dict):
        def __missing__(self, key: str) -> str:
            return ""

    try:
        return text.format_map(_Values(values))
    except (ValueError, KeyError, AttributeError, IndexError):
        return text


def render(
    template_subject: str, template_body: str, channel: str, language: str, values: dict
) -> tuple[str, str]:
    subject = fill(template_subject, values)[:SUBJECT_MAX_CHARS]
    body = fill(template_body, values)
    if channel != "sms":
        body += _FOOTER.get(language, _FOOTER["fr"])
    return subject, body
