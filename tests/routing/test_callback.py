"""Callback requests (webcallback), end to end through the views and the engine."""

from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

import routing
from contactcenter.models import Case, Event
from contactcenter.signals import citizen_notification
from routing.models import CallbackRequest, OpeningHours

from .conftest import set_available


@pytest.fixture
def always_open(service_a):
    """Every day 00:00-23:59 so that slots exist whenever the test runs."""
    for weekday in range(7):
        OpeningHours.objects.create(
            service=service_a, weekday=weekday, start=time(0, 0), end=time(23, 59)
        )


@pytest.fixture
def notifications():
    seen = []

    def receiver(sender, citizen_id, case_id, kind, **kwargs):
        seen.append((citizen_id, case_id, kind))

    citizen_notification.connect(receiver)
    yield seen
    citizen_notification.disconnect(receiver)


def first_slot(topic):
    return routing.callback_slots(topic)[0]


def test_form_prefills_phone_and_topic_and_lists_slots(
    client_as, citizen, topic_a, agent_a, always_open
):
    response = client_as(citizen).get("/rappel/nouveau/?topic=impots")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="06 12 34 56 78"' in html
    assert f'<option value="{topic_a.pk}" selected>' in html
    assert first_slot(topic_a).value in html
    assert "<optgroup" in html


def test_staff_cannot_use_the_citizen_form(client_as, agent_a):
    assert client_as(agent_a).get("/rappel/nouveau/").status_code == 403


def test_anonymous_is_sent_to_login(db, client):
    # db: with PostgreSQL's pool, every request takes its connection first.
    response = client.get("/rappel/nouveau/?topic=impots")
    assert response.status_code == 302
    assert "/connexion/" in response["Location"]


def test_slots_partial_follows_the_topic(
    client_as, citizen, topic_a, topic_b, always_open, agent_a
):
    response = client_as(citizen).get(f"/rappel/creneaux/?topic={topic_a.pk}")
    assert first_slot(topic_a).value in response.content.decode()
    response = client_as(citizen).get(f"/rappel/creneaux/?topic={topic_b.pk}")
    assert "Aucun créneau" in response.content.decode()  # no hours, no agent for service B


def test_booking_end_to_end(
    client_as,
    citizen,
    topic_a,
    agent_a,
    always_open,
    notifications,
    django_capture_on_commit_callbacks,
):
    slot = first_slot(topic_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(citizen).post(
            "/rappel/nouveau/",
            {
                "topic": topic_a.pk,
                "phone": "01 23 45 67 89",
                "description": "Question sur mon prélèvement",
                "slot": slot.value,
            },
        )
    assert response.status_code == 302
    case = Case.objects.get(channel="callback")
    assert response["Location"] == f"/rappel/{case.pk}/"
    assert case.citizen == citizen and case.topic == topic_a
    first = case.events.first()
    assert first.type == Event.Type.CALLBACK and first.body == "Question sur mon prélèvement"
    callback = case.callback
    assert callback.phone == "+33123456789"
    assert callback.slot_start == slot.start and callback.slot_end == slot.end
    assert case.sla_deadline == slot.end
    assert notifications == [(citizen.pk, case.pk, "callback_booked")]
    # Booked for later: not in anybody's queue yet, even with an available agent.
    set_available(agent_a)
    assert routing.route_case(case.pk) is None
    page = client_as(citizen).get(response["Location"])
    assert "01 23 45 67 89" in page.content.decode()
    # At the slot time the engine gives it to the agent (phone capacity).
    CallbackRequest.objects.filter(pk=callback.pk).update(
        slot_start=timezone.now() - timedelta(seconds=1)
    )
    assert routing.route_case(case.pk) == agent_a.pk


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "Commencez le numéro par 0 (par exemple 06 12 34 56 78)"),
        ("phone", "+44 20 7946 0958", "l'indicatif +44 n'est pas français"),
        ("phone", "06 12 34", "Ce numéro est trop court"),
        ("description", "  ", "Décrivez en quelques mots l'objet de votre appel."),
        ("slot", "pas-une-date", "Choisissez un créneau dans la liste."),
        ("slot", "2020-01-06T10:00:00+01:00", "Ce créneau est déjà passé"),
        ("slot", "past_hours", "en dehors des horaires d'ouverture"),
    ],
)
def test_bad_input_is_refused_precisely_and_kept(
    client_as, citizen, topic_a, agent_a, always_open, field, value, message
):
    data = {
        "topic": topic_a.pk,
        "phone": "06 12 34 56 78",
        "description": "Ma question",
        "slot": first_slot(topic_a).value,
    }
    if value == "past_hours":
        # 23:59 -> 00:29 crosses the end of the range.
        start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(
            hour=23, minute=45, second=0, microsecond=0
        )
        value = start.isoformat()
    data[field] = value
    response = client_as(citizen).post("/rappel/nouveau/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message.replace("'", "&#x27;") in html
    if field == "phone":
        assert f'value="{value}"' in html  # what was typed stays
    assert not Case.objects.filter(channel="callback").exists()


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("0692 12 34 56", "+262692123456", "0692 12 34 56"),
        ("+596 696 20 12 34", "+596696201234", "0696 20 12 34"),
        ("+687 75 12 34", "+687751234", "+687 75.12.34"),
    ],
)
def test_an_overseas_number_is_stored_in_e164_and_shown_as_dialled(
    client_as, citizen, topic_a, agent_a, always_open, typed, stored, shown
):
    case = routing.request_callback(
        citizen=citizen, topic=topic_a, phone=typed, description="a", slot=first_slot(topic_a).start
    )
    assert case.callback.phone == stored
    page = client_as(citizen).get(f"/rappel/{case.pk}/").content.decode()
    assert shown in page


def test_the_form_prefills_an_overseas_mobile_as_dialled(
    client_as, citizen, topic_a, agent_a, always_open
):
    citizen.mobile_phone = "+262692123456"
    citizen.save()
    html = client_as(citizen).get("/rappel/nouveau/?topic=impots").content.decode()
    assert 'value="0692 12 34 56"' in html


def test_full_slot_is_not_offered_twice(citizen, citizen2, topic_a, agent_a, always_open):
    slot = first_slot(topic_a)
    routing.request_callback(
        citizen=citizen, topic=topic_a, phone="0612345678", description="a", slot=slot.start
    )
    assert first_slot(topic_a).start != slot.start  # one agent: one callback per slot
    with pytest.raises(ValidationError) as exc:
        routing.request_callback(
            citizen=citizen2, topic=topic_a, phone="0698765432", description="b", slot=slot.start
        )
    assert "n'est plus disponible" in exc.value.message_dict["slot"][0]


def _due_callback(citizen, topic_a, agent_a):
    slot = first_slot(topic_a)
    case = routing.request_callback(
        citizen=citizen, topic=topic_a, phone="0612345678", description="a", slot=slot.start
    )
    CallbackRequest.objects.filter(case=case).update(
        slot_start=timezone.now() - timedelta(minutes=1)
    )
    set_available(agent_a)
    assert routing.route_case(case.pk) == agent_a.pk
    case.refresh_from_db()
    return case


def test_reached_outcome_moves_case_in_progress(citizen, topic_a, agent_a, always_open, client_as):
    case = _due_callback(citizen, topic_a, agent_a)
    response = client_as(agent_a).post(
        f"/rappel/{case.pk}/resultat/",
        {"outcome": "reached", "note": "RAS"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "usager joint" in response.content.decode()
    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS
    assert case.first_response_at is not None
    assert case.callback.status == "reached" and case.callback.attempts == 1


def test_not_reached_retries_then_gives_up_after_three_attempts(
    citizen, topic_a, agent_a, always_open, notifications, django_capture_on_commit_callbacks
):
    case = _due_callback(citizen, topic_a, agent_a)
    for attempt in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            callback = routing.record_callback_outcome(agent_a, case, reached=False)
        assert callback.attempts == attempt and callback.status == "scheduled"
        assert callback.slot_start >= timezone.now() + timedelta(minutes=59)
        case.refresh_from_db()
        assert case.assigned_to is None and case.status == Case.Status.NEW
        # The retry slot comes: the agent gets it again.
        CallbackRequest.objects.filter(case=case).update(
            slot_start=timezone.now() - timedelta(minutes=1)
        )
        assert routing.route_case(case.pk) == agent_a.pk
        case.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        callback = routing.record_callback_outcome(agent_a, case, reached=False)
    assert callback.status == "failed" and callback.attempts == 3
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED and case.resolution == "no_follow_up"
    kinds = [kind for _c, _case, kind in notifications]
    assert kinds == ["callback_booked", "callback_booked", "callback_failed"]
    with pytest.raises(ValidationError, match="déjà terminé"):
        routing.record_callback_outcome(agent_a, case, reached=True)


def test_only_the_owner_records_an_outcome(citizen, topic_a, agent_a, always_open, client_as):
    from ..conftest import make_staff

    case = _due_callback(citizen, topic_a, agent_a)
    other = make_staff("autre@guichet.example.fr", "agent", [topic_a.service], [topic_a.skill])
    response = client_as(other).post(f"/rappel/{case.pk}/resultat/", {"outcome": "reached"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.callback.attempts == 0


def test_outcome_without_choice_is_refused(citizen, topic_a, agent_a, always_open, client_as):
    case = _due_callback(citizen, topic_a, agent_a)
    response = client_as(agent_a).post(
        f"/rappel/{case.pk}/resultat/", {"note": "x"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "Indiquez si vous avez pu joindre" in response.content.decode()


def test_agent_of_other_service_gets_404_on_outcome(
    citizen, topic_a, agent_a, agent_b, always_open, client_as
):
    case = _due_callback(citizen, topic_a, agent_a)
    assert client_as(agent_b).get(f"/rappel/{case.pk}/resultat/").status_code == 404


def test_citizen_cancels_a_booked_callback(
    citizen, citizen2, topic_a, agent_a, always_open, client_as
):
    slot = first_slot(topic_a)
    case = routing.request_callback(
        citizen=citizen, topic=topic_a, phone="0612345678", description="a", slot=slot.start
    )
    assert client_as(citizen2).post(f"/rappel/{case.pk}/annuler/").status_code == 404
    response = client_as(citizen).post(f"/rappel/{case.pk}/annuler/")
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.callback.status == "cancelled" and case.status == Case.Status.CLOSED
    assert first_slot(topic_a).start == slot.start  # the slot is free again
