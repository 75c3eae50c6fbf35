"""Opening hours of the live chat in words: the citizen sees the schedule and the alternatives
when a service is closed, the agent is told, admin changes apply at once, the demo is open."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

import routing
from chat.models import Conversation
from routing.calendar import END_OF_DAY, ServiceCalendar, calendar_for, chat_schedule_text
from routing.models import AgentPresence, Closure, OpeningHours

from .conftest import set_available

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ServiceCalendar(weekly={d: [(time(8, 30), time(17, 30))] for d in range(5)})
SCHEDULE = "Le tchat est ouvert du lundi au vendredi de 8 h 30 à 17 h 30"


def paris(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=PARIS)


def test_closed_on_saturday_says_the_hours_and_the_reopening():
    assert chat_schedule_text(WEEKDAYS, paris(2026, 12, 5, 10, 0)) == (
        f"{SCHEDULE} (réouverture lundi à 8 h 30)"
    )


def test_open_service_says_the_hours_without_reopening():
    assert chat_schedule_text(WEEKDAYS, paris(2026, 12, 4, 10, 0)) == SCHEDULE


def test_reopening_today_tomorrow_and_after_a_holiday():
    assert chat_schedule_text(WEEKDAYS, paris(2026, 12, 3, 7, 0)).endswith(
        "(réouverture aujourd'hui à 8 h 30)"
    )
    assert chat_schedule_text(WEEKDAYS, paris(2026, 12, 3, 18, 0)).endswith(
        "(réouverture demain à 8 h 30)"
    )
    # Friday 25 December: Christmas; reopening on Monday.
    assert chat_schedule_text(WEEKDAYS, paris(2026, 12, 25, 10, 0)) == (
        f"Fermé aujourd'hui (Noël). {SCHEDULE} (réouverture lundi à 8 h 30)"
    )


def test_several_ranges_and_day_groups():
    cal = ServiceCalendar(
        weekly={
            **{d: [(time(8, 30), time(12)), (time(13, 30), time(17))] for d in range(5)},
            5: [(time(9), time(12))],
        }
    )
    assert chat_schedule_text(cal, paris(2026, 12, 6, 10, 0)) == (
        "Le tchat est ouvert du lundi au vendredi de 8 h 30 à 12 h et de 13 h 30 à 17 h, "
        "le samedi de 9 h à 12 h (réouverture demain à 8 h 30)"
    )


def test_schedule_in_english():
    with translation.override("en"):
        text = chat_schedule_text(WEEKDAYS, paris(2026, 12, 5, 10, 0))
    assert text == "Live chat is open Monday to Friday from 8:30 to 17:30 (reopens Monday at 8:30)"


def test_ranges_open_on_holidays_and_until_midnight():
    always = [(time(0), END_OF_DAY)]
    cal = ServiceCalendar(
        weekly=dict.fromkeys(range(7), always), holiday_weekly=dict.fromkeys(range(7), always)
    )
    assert cal.is_open(paris(2026, 12, 25, 23, 59, 50))
    assert chat_schedule_text(cal, paris(2026, 12, 25, 3, 0)) == (
        "Le tchat est ouvert 7 jours sur 7, 24 h sur 24"
    )
    closed_on_holidays = ServiceCalendar(weekly=dict.fromkeys(range(7), always))
    assert not closed_on_holidays.is_open(paris(2026, 12, 25, 10, 0))


def close_today(service):
    """Hours on another weekday only: the service is closed now."""
    other = (timezone.localdate().weekday() + 3) % 7
    return OpeningHours.objects.create(
        service=service, weekday=other, start=time(8, 30), end=time(17, 30), on_holidays=True
    )


def render_button(user, topic=None):
    request = RequestFactory().get("/espace/")
    request.user = user
    template = Template('{% include "chat/_chat_button.html" with topic=topic %}')
    return template.render(Context({"request": request, "topic": topic}))


def test_chat_button_of_a_closed_service_shows_schedule_and_alternatives(citizen, agent_a, topic_a):
    close_today(topic_a.service)
    set_available(agent_a)
    html = render_button(citizen, topic_a)
    off = html.split("data-when-unavailable")[1]
    assert "Le tchat est fermé en ce moment" in off
    assert "Le tchat est ouvert le " in off and "(réouverture " in off
    assert "Aucun agent" not in off
    assert "/espace/demandes/nouvelle/?topic=impots" in off
    assert "/rappel/nouveau/?topic=impots" in off
    # The general button (no topic) says it too when every service is closed.
    assert "(réouverture " in render_button(citizen)


def test_open_service_without_agent_still_says_no_agent(citizen, topic_a):
    html = render_button(citizen, topic_a)
    assert "Aucun agent n'est disponible en tchat" in html
    assert "Le tchat est fermé" not in html
    # The hours still say when the chat is open (this service: no range, always open).
    assert "Le tchat est ouvert 7 jours sur 7, 24 h sur 24." in html


def test_start_form_of_a_closed_service_explains_without_field_error(
    client_as, citizen, agent_a, topic_a
):
    close_today(topic_a.service)
    set_available(agent_a)
    client = client_as(citizen)
    page = client.get(reverse("chat:start") + "?topic=impots").content.decode()
    assert "Le tchat est fermé en ce moment" in page and "(réouverture " in page
    response = client.post(reverse("chat:start"), {"topic": "impots", "body": "Bonjour"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Le tchat est fermé en ce moment" in page and "(réouverture " in page
    assert "fr-message--error" not in page and "fr-select-group--error" not in page
    assert "Envoyer un message sécurisé" in page and "Demander à être rappelé" in page
    assert not Conversation.objects.exists()


def test_start_refused_while_open_says_no_agent_without_field_error(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        reverse("chat:start"), {"topic": "impots", "body": "Bonjour"}
    )
    page = response.content.decode()
    assert "Aucun agent n'est disponible en tchat pour ce thème" in page
    assert "fr-message--error" not in page


def test_agent_available_outside_hours_is_told_the_service_is_closed(client_as, agent_a, topic_a):
    close_today(topic_a.service)
    client = client_as(agent_a)
    response = client.post(
        reverse("routing:status_widget"), {"status": "available"}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert AgentPresence.objects.get(user=agent_a).status == "available"
    assert f"{topic_a.service.name} est fermé" in page and "(réouverture " in page
    assert "Votre service est fermé en ce moment." in page
    response = client.post(
        reverse("routing:status_widget"), {"status": "paused"}, HTTP_HX_REQUEST="true"
    )
    assert "est fermé" not in response.content.decode()


def test_agent_available_during_hours_gets_no_closed_notice(client_as, agent_a, topic_a):
    response = client_as(agent_a).post(
        reverse("routing:status_widget"), {"status": "available"}, HTTP_HX_REQUEST="true"
    )
    assert "est fermé" not in response.content.decode()


def test_admin_hours_change_refreshes_availability_without_status_toggle(
    client_as, admin_user, agent_a, topic_a, django_capture_on_commit_callbacks
):
    OpeningHours.objects.bulk_create(
        OpeningHours(service=topic_a.service, weekday=d, start=time(0), end=END_OF_DAY)
        for d in range(7)
    )
    set_available(agent_a)
    routing.refresh_availability()
    assert routing.chat_available(topic_a) is True
    client = client_as(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        today = timezone.localdate()
        response = client.post(
            reverse("admin:routing_closure_add"),
            {
                "service": topic_a.service_id,
                "start_date": today.isoformat(),
                "end_date": today.isoformat(),
                "reason": "Formation",
            },
        )
    assert response.status_code == 302
    assert routing.chat_available(topic_a) is False
    closure = Closure.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:routing_closure_delete", args=[closure.pk]), {"post": "yes"})
    assert not Closure.objects.exists()
    assert routing.chat_available(topic_a) is True


def test_saving_opening_hours_refreshes_availability_after_commit(
    agent_a, topic_a, django_capture_on_commit_callbacks
):
    set_available(agent_a)
    routing.refresh_availability()
    assert routing.chat_available(topic_a) is True
    with django_capture_on_commit_callbacks(execute=True):
        hours = close_today(topic_a.service)  # the only range: another weekday
    assert routing.chat_available(topic_a) is False
    with django_capture_on_commit_callbacks(execute=True):
        hours.delete()  # no range left: always open
    assert routing.chat_available(topic_a) is True


def test_refresh_task_reads_hours_changed_in_another_process(agent_a, topic_a):
    from routing import tasks
    from routing.calendar import _cache, calendar_for

    set_available(agent_a)
    calendar_for(topic_a.service_id)  # cached in this process
    # Written by another process (no signal here): the task must not trust its stale copy.
    OpeningHours.objects.filter(service=topic_a.service).delete()
    OpeningHours.objects.bulk_create(
        [
            OpeningHours(
                service=topic_a.service,
                weekday=(timezone.localdate().weekday() + 3) % 7,
                start=time(8),
                end=time(9),
            )
        ]
    )
    assert topic_a.service_id in _cache
    tasks.refresh_availability()
    assert cache.get(routing.AVAILABILITY_CACHE_KEY)["impots"] is False


def test_an_edit_in_another_process_drops_this_process_calendar_at_once(topic_a):
    """The per-process calendar follows the version kept in the shared cache: hours added by
    another process (the admin, a shell) apply to the next request here, not a minute later."""
    from routing.calendar import VERSION_KEY, calendar_for

    service = topic_a.service
    OpeningHours.objects.filter(service=service).delete()
    other_day = (timezone.localdate().weekday() + 3) % 7
    OpeningHours.objects.bulk_create(
        [OpeningHours(service=service, weekday=other_day, start=time(8), end=time(9))]
    )
    cache.set(VERSION_KEY, 41)  # bulk_create sends no signal: as seen from another process
    assert calendar_for(service.pk).is_open() is False
    OpeningHours.objects.bulk_create(
        [
            OpeningHours(
                service=service,
                weekday=timezone.localdate().weekday(),
                start=time(0),
                end=END_OF_DAY,
                on_holidays=True,
            )
        ]
    )
    assert calendar_for(service.pk).is_open() is False  # still this process's copy
    cache.set(VERSION_KEY, 42)  # what clear_calendar_cache() does in the other process
    now = timezone.localtime()
    assert calendar_for(service.pk).is_open(now.replace(hour=12)) is True


def test_demo_hours_are_always_open_by_default_and_realistic_on_request(citizen, topic_a, agent_a):
    from contactcenter.models import Service
    from routing.demo import load_demo

    Service.objects.filter(pk=topic_a.service_id).update(code="fiscalite")
    load_demo({"agents": [agent_a]})
    rows = OpeningHours.objects.filter(service=topic_a.service)
    assert rows.count() == 7 and all(r.on_holidays for r in rows)
    cal = calendar_for(topic_a.service_id)
    start = timezone.now()
    # Open at every hour of the coming year's holidays and weekends.
    for hours in range(0, 24 * 366, 5):
        assert cal.is_open(start + timedelta(hours=hours, minutes=17))
    load_demo({"agents": [agent_a]}, real_hours=True)
    rows = OpeningHours.objects.filter(service=topic_a.service)
    assert rows.count() == 5 and not any(r.on_holidays for r in rows)
    assert routing.chat_hours(topic_a.service_id, timezone.now()).text.startswith(SCHEDULE)


def test_load_demo_command_has_a_real_hours_flag():
    call_command("load_demo", "--real-hours", verbosity=0)
    from contactcenter.models import Service

    service = Service.objects.get(code="fiscalite")
    assert OpeningHours.objects.filter(service=service).count() == 5
