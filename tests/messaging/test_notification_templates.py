"""Notification templates per service, event, channel and language: placeholders checked on
save, the service's wording used, dates from the SLA and the callback slot, never content."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from messaging import notification_templates as templates
from messaging import notifications, services
from messaging.models import Notification, NotificationTemplate
from routing.models import CallbackRequest

pytestmark = pytest.mark.django_db

SECRET = "Mon numéro fiscal est 1234567890123"


def errors_of(event, channel, subject, body):
    with pytest.raises(ValidationError) as caught:
        templates.validate_template(event, channel, subject, body)
    return caught.value.message_dict


def test_defaults_are_valid_for_every_event_channel_and_language():
    for event in templates.EVENTS:
        for channel in ("email", "sms"):
            for language in ("fr", "en"):
                subject, body = templates.default_template(event, channel, language)
                templates.validate_template(event, channel, subject, body)


def test_unknown_placeholder_is_named_with_the_possible_ones():
    errors = errors_of("acknowledgement", "email", "Objet", "Bonjour {nom} : {link}")
    assert errors["body"] == [
        "Champ inconnu : « {nom} ». Champs possibles : {reference}, {service}, {date}, {link}."
    ]


def test_sensitive_placeholder_is_refused_with_its_reason():
    errors = errors_of("demarche_step", "email", "Objet {subject}", "{first_name} {link}")
    assert "« {subject} » est interdit" in errors["subject"][0]
    assert "« {first_name} » est interdit" in errors["body"][0]
    assert "donnée personnelle" in errors["body"][0]


def test_placeholder_of_another_event_is_refused():
    errors = errors_of("acknowledgement", "sms", "", "Étape {step} : {link}")
    assert errors["body"] == [
        "Le champ « {step} » n'existe pas pour ce type d'alerte. Champs possibles : "
        "{reference}, {service}, {date}, {link}."
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Bonjour {link", "Accolade mal placée"),
        ("{reference.__class__} {link}", "mal formé"),
        ("{reference!r} {link}", "mal formé"),
        ("{date:%Y} {link}", "mal formé"),
        ("Sans lien {reference}", "doit contenir {link}"),
    ],
)
def test_malformed_templates_get_a_precise_error(body, expected):
    assert expected in errors_of("acknowledgement", "email", "Objet", body)["body"][0]


def test_sms_length_and_subject_rules():
    errors = errors_of("acknowledgement", "sms", "Objet", "x" * 400 + "{link}")
    assert errors["subject"] == ["Un SMS n'a pas d'objet."]
    assert errors["body"] == ["SMS de 406 caractères : 320 au plus."]
    assert errors_of("acknowledgement", "email", " ", "{link}")["subject"]


def test_model_clean_validates(service_a):
    row = NotificationTemplate(
        service=service_a, event="acknowledgement", channel="email", language="fr"
    )
    row.subject, row.body = "Objet", "{message} {link}"
    with pytest.raises(ValidationError):
        row.full_clean()


def test_admin_refuses_a_forbidden_placeholder_and_saves_a_valid_one(
    client_as, admin_user, service_a
):
    client = client_as(admin_user)
    url = "/admin/messaging/notificationtemplate/add/"
    data = {
        "service": service_a.pk,
        "event": "acknowledgement",
        "channel": "sms",
        "language": "fr",
        "subject": "",
        "body": "Reçu {email} : {link}",
    }
    html = client.post(url, data).content.decode()
    assert "« {email} » est interdit" in html
    assert not NotificationTemplate.objects.exists()
    data["body"] = "{service} : demande {reference} reçue, réponse le {date}. {link}"
    assert client.post(url, data).status_code == 302
    row = NotificationTemplate.objects.get()
    assert row.updated_by == admin_user


def open_request(citizen, topic, capture):
    with capture(execute=True):
        return services.create_request(citizen, topic, "question", "Sujet", SECRET)


def test_acknowledgement_names_reference_service_and_sla_date(
    citizen, topic_a, django_capture_on_commit_callbacks
):
    case = open_request(citizen, topic_a, django_capture_on_commit_callbacks)
    case.refresh_from_db()
    rows = Notification.objects.filter(kind="acknowledgement", case=case)
    assert {row.channel for row in rows} == {"email"}  # SMS alerts are off by default
    row = rows.get()
    assert case.reference in row.subject and case.reference in row.text
    assert topic_a.service.name in row.text
    assert case.sla_deadline is not None  # routing stored the topic's SLA deadline
    expected = templates.format_date(case.sla_deadline, "fr")
    assert f"au plus tard le {expected}" in row.text
    assert SECRET not in row.text and "Sujet" not in row.text


def test_acknowledgement_does_not_absorb_the_next_alert(
    citizen, topic_a, django_capture_on_commit_callbacks
):
    case = open_request(citizen, topic_a, django_capture_on_commit_callbacks)
    Notification.objects.update(status=Notification.Status.PENDING)
    notifications.queue_for_citizen(citizen.pk, case.pk, "reply", key="r1")
    assert Notification.objects.filter(case=case, kind="reply").count() == 1


def test_service_template_replaces_the_default_for_that_service_only(
    citizen, topic_a, topic_b, service_a, django_capture_on_commit_callbacks
):
    NotificationTemplate.objects.create(
        service=service_a,
        event="acknowledgement",
        channel="email",
        language="fr",
        subject="Bien reçu : {reference}",
        body="Le service {service} traite {reference} avant le {date}. {link}",
    )
    mine = open_request(citizen, topic_a, django_capture_on_commit_callbacks)
    other = open_request(citizen, topic_b, django_capture_on_commit_callbacks)
    row = Notification.objects.get(case=mine, kind="acknowledgement")
    assert row.subject == f"Bien reçu : {mine.reference}"
    assert row.text.startswith(f"Le service {service_a.name} traite {mine.reference} avant le ")
    assert "ne pas y répondre" in row.text  # the fixed footer stays
    default = Notification.objects.get(case=other, kind="acknowledgement")
    assert default.subject == f"Accusé de réception de votre demande {other.reference}"


def test_english_template_and_step_name(service_a, monkeypatch):
    monkeypatch.setattr(notifications, "citizen_language", lambda user, *preference: "en")
    params = {"reference": "PASS-1", "service": "Titres", "step": "Pièce", "step_en": "Missing"}
    _service, values = notifications.template_values(None, "demarche_step", params, "L", "en")
    subject, body = templates.render(
        *notifications.template_text(service_a.pk, "demarche_step", "email", "en"),
        "email",
        "en",
        values,
    )
    assert subject == "Your procedure PASS-1 moved to the step “Missing”"
    assert "with the Titres service" in body and "please do not reply" in body


def test_callback_confirmation_gives_the_slot(citizen, case_a):
    start = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)  # 14:30 in Paris
    CallbackRequest.objects.create(
        case=case_a, phone="+33612345678", slot_start=start, slot_end=start
    )
    citizen.notify_sms = True
    citizen.save()
    rows = notifications.queue_for_citizen(citizen.pk, case_a.pk, "callback_booked", key="cb")
    sms = next(row for row in rows if row.channel == "sms")
    assert "10/03/2026 à partir de 14h30" in sms.text
    assert case_a.subject not in sms.text
