"""Each indicator on a small hand-built timeline with known expected values.

Every indicator is checked twice: computed live (the day not stored yet) and read back from the
precomputed ``DailyKpi`` rows after ``store_day``; both must give the same figures.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from console import kpis
from contactcenter.models import Case, DailyKpi, Event, User

from .conftest import (
    D1,
    D2,
    TODAY,
    agent_message,
    at,
    citizen_message,
    event,
    logins,
    make_case,
    rate,
    report_for,
    transfer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["live", "stored"])
def mode(request, frozen_now):
    return request.param


def prepare(mode):
    """In "stored" mode, precompute D1 and D2 as the beat task would."""
    if mode == "stored":
        for day in (D1, D2):
            assert kpis.store_day(day) is not None
        assert not kpis.missing_days(kpis.KpiRange(D2, D1))


# --- volumes ---


@pytest.fixture
def volumes(citizen, citizen2, agent_a, topic_a, topic_b):
    web = make_case(citizen, topic_a, at(D1, 9))
    citizen_message(web, at(D1, 9))  # opens the case: 1
    agent_message(web, agent_a, at(D1, 10))  # agents' messages are not contacts
    citizen_message(web, at(D1, 11))  # 2
    event(web, Event.Type.NOTE, at(D1, 11, 30), actor=agent_a, internal=True)
    # A co-browsing session recorded on a web case is a co-browsing contact.
    event(web, Event.Type.COBROWSE, at(D1, 12), actor=agent_a, channel="cobrowse")
    web2 = make_case(citizen2, topic_b, at(D1, 13))
    citizen_message(web2, at(D1, 13))  # 3
    chat = make_case(citizen, topic_a, at(D1, 14), channel="chat")
    event(chat, Event.Type.CHAT, at(D1, 14), actor=citizen, payload={"phase": "started"})
    event(chat, Event.Type.CHAT, at(D1, 14, 20), payload={"phase": "transcript"})
    phone = make_case(citizen, topic_a, at(D1, 15), channel="phone")
    event(phone, Event.Type.CONTACT, at(D1, 15), actor=agent_a, channel="phone")
    event(phone, Event.Type.CONTACT, at(D1, 16), actor=agent_a, channel="counter")
    callback = make_case(citizen2, topic_b, at(D1, 16), channel="callback")
    event(callback, Event.Type.CALLBACK, at(D1, 16), actor=citizen2, payload={"slot_start": "x"})
    event(
        callback,
        Event.Type.CALLBACK,
        at(D1, 17),
        actor=agent_a,
        channel="phone",
        payload={"outcome": "reached"},
    )
    # The day before: one web message (for the trend).
    old = make_case(citizen, topic_a, at(D2, 10))
    citizen_message(old, at(D2, 10))
    return {"web": web, "web2": web2}


def test_contacts_are_counted_per_channel_with_their_trend(volumes, mode):
    prepare(mode)
    report = report_for(D1)
    counts = {code: fig.contacts for code, fig in report.by_channel.items() if fig.contacts}
    assert counts == {"web": 3, "chat": 1, "phone": 1, "counter": 1, "callback": 1, "cobrowse": 1}
    assert report.overall.contacts == 8
    assert report.overall.previous_contacts == 1
    assert report.by_channel["web"].trend == pytest.approx(2.0)  # 3 against 1: +200 %
    assert report.by_channel["chat"].trend is None  # nothing to compare with
    assert report.daily[D1] == {
        "web": 3,
        "chat": 1,
        "phone": 1,
        "counter": 1,
        "callback": 1,
        "cobrowse": 1,
    }


def test_cases_opened_are_counted_per_service_and_topic(volumes, mode, topic_a, topic_b):
    prepare(mode)
    report = report_for(D1)
    assert report.by_topic[topic_a.pk].opened == 3  # web, chat, phone
    assert report.by_topic[topic_b.pk].opened == 2  # web2, callback
    assert report.by_service[topic_a.service_id].opened == 3
    assert report.overall.opened == 5


def test_daily_series_covers_every_day_of_the_range(volumes, mode):
    prepare(mode)
    report = report_for(D2, D1)
    assert list(report.daily) == [D2, D1]
    assert report.daily[D2] == {"web": 1}
    assert sum(report.daily[D1].values()) == 8


# --- waiting time, SLA ---


@pytest.fixture
def waits(citizen, topic_a, agent_a):
    """Web cases answered on D1 after 60 s, 120 s and 600 s; a chat after 30 s."""
    cases = []
    for seconds, deadline in ((60, 3600), (120, 3600), (600, 300)):
        created = at(D1, 10)
        cases.append(
            make_case(
                citizen,
                topic_a,
                created,
                first_response_at=created + timedelta(seconds=seconds),
                sla_deadline=created + timedelta(seconds=deadline),
            )
        )
    make_case(citizen, topic_a, at(D1, 11), channel="chat", first_response_at=at(D1, 11, 0, 30))
    # Unanswered, deadline passed on D1: missed. Deadline tomorrow: not counted yet.
    make_case(citizen, topic_a, at(D1, 8), sla_deadline=at(D1, 18))
    make_case(citizen, topic_a, at(D1, 8), sla_deadline=at(TODAY, 18) + timedelta(days=1))
    # Answered before its deadline but flagged breached by routing: missed.
    make_case(
        citizen,
        topic_a,
        at(D2, 8),
        first_response_at=at(D1, 9),
        sla_deadline=at(D1, 20),
        sla_breached=True,
    )
    return cases


def test_waiting_time_percentiles_per_channel(waits, mode):
    prepare(mode)
    report = report_for(D1)
    web = report.by_channel["web"]
    # Web: 60, 120, 600 and the breached case answered after 25 h (90 000 s).
    assert web.answered == 4
    assert web.wait_p50 == pytest.approx(360.0)  # (120 + 600) / 2
    # percentile_cont(0.9) over 4 values: position 2.7 -> 600 + 0.7 * (90 000 - 600)
    assert web.wait_p90 == pytest.approx(600 + 0.7 * 89_400)
    assert report.by_channel["chat"].wait_p50 == pytest.approx(30.0)
    assert report.by_channel["chat"].wait_p90 == pytest.approx(30.0)
    assert web.wait_avg == pytest.approx((60 + 120 + 600 + 90_000) / 4)
    # Every channel: 30, 60, 120, 600, 90 000 -> median 120.
    assert report.overall.wait_p50 == pytest.approx(120.0)


def test_exact_percentiles_are_used_when_the_whole_range_is_live(waits, frozen_now):
    report = report_for(D1)
    assert report.exact_percentiles
    assert report.by_channel["web"].exact is not None
    kpis.store_day(D1)
    assert not report_for(D1).exact_percentiles


def test_sla_compliance_counts_met_on_answer_day_and_missed_on_deadline_day(waits, mode):
    prepare(mode)
    report = report_for(D1)
    web = report.by_channel["web"]
    # Met: answered in 60 s and 120 s (deadline 1 h). Missed: 600 s against 5 min, the
    # unanswered case due at 18:00, the breached one. The deadline tomorrow is not counted.
    assert (web.sla_met, web.sla_missed) == (2, 3)
    assert web.sla_rate == pytest.approx(0.4)


def test_sla_deadline_later_today_is_not_counted_as_missed(citizen, topic_a, frozen_now):
    make_case(citizen, topic_a, at(TODAY, 8), sla_deadline=at(TODAY, 14))  # passed: missed
    make_case(citizen, topic_a, at(TODAY, 8), sla_deadline=at(TODAY, 17))  # still ahead
    report = report_for(TODAY)
    assert (report.overall.sla_met, report.overall.sla_missed) == (0, 1)


# --- closures: handling time, first-contact resolution, abandoned chats ---


@pytest.fixture
def closures(citizen, citizen2, topic_a, agent_a, agent_b, service_a, service_b):
    closed = Case.Status.CLOSED
    # X: one agent answer, "répondu", never transferred: resolved at first contact.
    x = make_case(
        citizen,
        topic_a,
        at(D2, 8),
        status=closed,
        assigned_at=at(D1, 10),
        closed_at=at(D1, 12),
        resolution="answered",
    )
    agent_message(x, agent_a, at(D1, 11))
    # Y: two agent answers: not.
    y = make_case(
        citizen,
        topic_a,
        at(D1, 8),
        status=closed,
        assigned_at=at(D1, 9),
        closed_at=at(D1, 10),
        resolution="answered",
    )
    agent_message(y, agent_a, at(D1, 9, 10))
    event(y, Event.Type.REQUEST_INFO, at(D1, 9, 20), actor=agent_a)
    # Z: phone contact marked "résolu au premier contact" by the agent.
    z = make_case(
        citizen2,
        topic_a,
        at(D1, 14),
        channel="phone",
        status=closed,
        assigned_at=at(D1, 14),
        closed_at=at(D1, 14),
        resolution="answered",
        resolved_first_contact=True,
    )
    event(z, Event.Type.CONTACT, at(D1, 14), actor=agent_a, channel="phone")
    # W: one answer but transferred on the way: not. No owner when closed: no handling time.
    w = make_case(
        citizen2, topic_a, at(D2, 9), status=closed, closed_at=at(D1, 16), resolution="answered"
    )
    agent_message(w, agent_a, at(D1, 15))
    transfer(w, service_a, service_b, at(D2, 12))
    # Chats: one abandoned in the queue, one handled.
    lost = make_case(
        citizen,
        topic_a,
        at(D1, 17),
        channel="chat",
        status=closed,
        closed_at=at(D1, 17, 5),
        resolution="no_follow_up",
    )
    event(lost, Event.Type.CHAT, at(D1, 17), actor=citizen, payload={"phase": "started"})
    handled = make_case(
        citizen2,
        topic_a,
        at(D1, 18),
        channel="chat",
        status=closed,
        assigned_at=at(D1, 18, 1),
        closed_at=at(D1, 18, 21),
        resolution="answered",
    )
    event(handled, Event.Type.ASSIGNMENT, at(D1, 18, 1), internal=True)
    event(handled, Event.Type.CHAT, at(D1, 18, 20), actor=agent_a, payload={"phase": "x"})
    # Not closed: ignored by every closure figure.
    make_case(citizen, topic_a, at(D1, 8), status=Case.Status.ANSWERED, assigned_at=at(D1, 9))
    return {"x": x, "y": y, "z": z, "w": w}


def test_handling_and_resolution_times(closures, mode):
    prepare(mode)
    overall = report_for(D1).overall
    assert overall.closed == 6
    # Owned when closed: X 2 h, Y 1 h, Z 0, handled chat 20 min (W and the lost chat: no owner).
    assert overall[kpis.M.HANDLED] == 4
    assert overall.handling_avg == pytest.approx((7200 + 3600 + 0 + 1200) / 4)
    resolution = (28 * 3600) + 7200 + 0 + (31 * 3600) + 300 + 1260
    assert overall.resolution_avg == pytest.approx(resolution / 6)


def test_first_contact_resolution_rate(closures, mode):
    prepare(mode)
    overall = report_for(D1).overall
    # X (single answer), Z (flagged) and the handled chat (single chat interaction).
    assert overall.fcr == 3
    assert overall.fcr_rate == pytest.approx(3 / 6)


def test_chats_abandoned_while_queued(closures, mode):
    prepare(mode)
    report = report_for(D1)
    assert report.chat.chat_abandoned == 1
    assert report.chat.opened == 2
    assert report.chat_abandon_rate == pytest.approx(0.5)


# --- transfers ---


def test_transfer_rate_counts_transfers_out_of_the_service(
    citizen, topic_a, topic_b, service_a, service_b, agent_a, frozen_now, mode
):
    cases = [make_case(citizen, topic_a, at(D1, 9 + i)) for i in range(4)]
    transfer(cases[0], service_a, service_b, at(D1, 14), by=agent_a)
    transfer(cases[1], service_a, service_a, at(D1, 15), by=agent_a)  # agent to agent
    make_case(citizen, topic_b, at(D1, 9))
    prepare(mode)
    report = report_for(D1)
    sip = report.by_service[service_a.pk]
    assert (sip.transfers, sip.transfers_agent, sip.opened) == (1, 1, 4)
    assert sip.transfer_rate == pytest.approx(0.25)
    assert report.overall.transfer_rate == pytest.approx(1 / 5)
    assert report.by_service[service_b.pk].transfers == 0


# --- messages per 100 logins, satisfaction ---


def test_secure_messages_per_100_citizen_logins(volumes, mode):
    logins(User.Role.CITIZEN, at(D1, 8), 4)
    logins(User.Role.AGENT, at(D1, 8), 2)  # staff logins do not count
    logins(User.Role.CITIZEN, at(D2, 8), 10)  # another day
    prepare(mode)
    report = report_for(D1)
    assert (report.web_messages, report.logins) == (3, 4)
    assert report.messages_per_100_logins == pytest.approx(75.0)


def test_emails_count_in_the_messages_per_100_logins(citizen, topic_a, mode):
    web = make_case(citizen, topic_a, at(D1, 9), channel="web")
    citizen_message(web, at(D1, 9))
    mail = make_case(citizen, topic_a, at(D1, 10), channel="email")
    event(mail, Event.Type.MESSAGE, at(D1, 10), actor=citizen, channel="email")
    phone = make_case(citizen, topic_a, at(D1, 11), channel="phone")  # not written
    event(phone, Event.Type.CONTACT, at(D1, 11), channel="phone")
    logins(User.Role.CITIZEN, at(D1, 8), 4)
    prepare(mode)
    report = report_for(D1)
    assert (report.web_messages, report.emails, report.written_messages) == (1, 1, 2)
    assert report.messages_per_100_logins == pytest.approx(50.0)


def test_login_through_the_login_page_is_counted(client, citizen, frozen_now):
    response = client.post(
        "/connexion/", {"username": citizen.email, "password": "motdepasse-solide-2026"}
    )
    assert response.status_code == 302
    assert report_for(TODAY).logins == 1


def test_satisfaction_average_distribution_and_latest_comments(
    citizen, citizen2, topic_a, frozen_now, mode
):
    web1 = make_case(citizen, topic_a, at(D1, 8), status=Case.Status.ANSWERED)
    web2 = make_case(citizen2, topic_a, at(D1, 8), status=Case.Status.ANSWERED)
    chat = make_case(citizen, topic_a, at(D1, 8), channel="chat", status=Case.Status.ANSWERED)
    rate(web1, 5, at(D1, 10), "Très bonne réponse")
    rate(web2, 4, at(D1, 11))
    rate(chat, 2, at(D1, 12), "Trop d'attente")
    prepare(mode)
    report = report_for(D1)
    web = report.by_channel["web"]
    assert (web.sat_count, web.sat_avg) == (2, pytest.approx(4.5))
    assert web.sat_distribution == [0, 0, 0, 1, 1]
    assert report.by_channel["chat"].sat_distribution == [0, 1, 0, 0, 0]
    assert report.overall.sat_avg == pytest.approx(11 / 3)
    assert [(c.reference, c.score, c.comment) for c in report.comments] == [
        (chat.reference, 2, "Trop d'attente"),
        (web1.reference, 5, "Très bonne réponse"),
    ]


# --- scope ---


def test_scope_restricts_to_services_topic_and_channel(volumes, mode, service_a, topic_b):
    prepare(mode)
    only_a = report_for(D1, scope=kpis.Scope(service_ids=(service_a.pk,)))
    assert only_a.overall.contacts == 6  # web (2), cobrowse, chat, phone, counter
    assert set(only_a.by_service) == {service_a.pk}
    only_b = report_for(D1, scope=kpis.Scope(topic_id=topic_b.pk))
    assert only_b.overall.contacts == 2  # web2 and the callback
    web_only = report_for(D1, scope=kpis.Scope(channel="web"))
    assert set(web_only.by_channel) == {"web"}
    assert web_only.overall.contacts == 3


# --- precomputation ---


def test_past_days_are_read_from_the_stored_rows(volumes, frozen_now):
    kpis.store_day(D1)
    Event.objects.filter(created_at__date=D1).delete()  # the timeline changes afterwards...
    assert report_for(D1).overall.contacts == 8  # ...the stored figures are what is shown
    assert DailyKpi.objects.filter(day=D1, metric=kpis.M.CONTACTS).exists()


def test_store_day_is_idempotent_and_replaces_the_rows(volumes, frozen_now):
    first = kpis.store_day(D1)
    count = DailyKpi.objects.filter(day=D1).count()
    assert first == count > 0
    assert kpis.store_day(D1) is None  # already final: left alone
    assert kpis.store_day(D1, force=True) == count
    assert DailyKpi.objects.filter(day=D1).count() == count


def test_a_day_claimed_by_another_worker_is_skipped(volumes, frozen_now):
    from contactcenter.models import DailyKpiRun

    DailyKpiRun.objects.create(day=D1, claimed_until=frozen_now + timedelta(minutes=5))
    assert kpis.store_day(D1) is None
    assert not DailyKpi.objects.filter(day=D1).exists()
    DailyKpiRun.objects.filter(day=D1).update(claimed_until=frozen_now - timedelta(seconds=1))
    assert kpis.store_day(D1) is not None  # an expired claim (crashed worker) is taken over


def test_today_is_never_stored(frozen_now):
    with pytest.raises(ValueError):
        kpis.store_day(TODAY)


def test_days_to_compute_lists_missing_and_provisional_days(volumes, frozen_now):
    assert kpis.days_to_compute() == [D2, D1]
    kpis.store_day(D2)
    assert kpis.days_to_compute() == [D1]
    from contactcenter.models import DailyKpiRun

    # Computed too early (before the day's figures were final): computed again.
    DailyKpiRun.objects.filter(day=D2).update(computed_at=at(D2, 23))
    assert kpis.days_to_compute() == [D2, D1]


def test_beat_task_stores_every_missing_day(volumes, frozen_now):
    from console.tasks import compute_daily_kpis

    assert compute_daily_kpis() == [D2.isoformat(), D1.isoformat()]
    assert set(DailyKpi.objects.values_list("day", flat=True)) == {D1, D2}
    assert compute_daily_kpis() == []


# --- percentiles ---


def test_percentile_cont_matches_postgresql_definition():
    assert kpis.percentile_cont([(1, 1), (2, 1), (3, 1), (4, 1)], 0.5) == 2.5
    assert kpis.percentile_cont([(10, 1), (20, 1), (30, 1), (40, 1), (50, 1)], 0.9) == 46.0
    assert kpis.percentile_cont([(7, 3)], 0.9) == 7.0
    assert kpis.percentile_cont([(5, 2), (100, 2)], 0.5) == 52.5
    assert kpis.percentile_cont([], 0.5) is None


def test_histogram_buckets_keep_two_significant_digits():
    assert [kpis.round_seconds(s) for s in (0, 42, 99, 100, 104, 105, 1234, 86_399)] == [
        0,
        42,
        99,
        100,
        100,
        110,
        1200,
        86_000,
    ]


def test_exact_percentiles_agree_with_python_on_this_database(citizen, topic_a, frozen_now):
    waits = [5, 17, 61, 333, 1000, 4321, 7777]
    for seconds in waits:
        created = at(TODAY, 8)
        make_case(citizen, topic_a, created, first_response_at=created + timedelta(seconds=seconds))
    result = kpis.exact_wait_percentiles(at(TODAY, 0), at(TODAY, 15))
    expected = {
        f: kpis.percentile_cont([(w, 1) for w in waits], f) for f in kpis.PERCENTILE_FRACTIONS
    }
    assert result[None]["p50"] == pytest.approx(expected[0.5]) == 333
    assert result[None]["p90"] == pytest.approx(expected[0.9])
    by_channel = kpis.exact_wait_percentiles(at(TODAY, 0), at(TODAY, 15), group_by="channel")
    assert by_channel["web"]["p50"] == pytest.approx(333)


def test_management_command_stores_a_range_of_days(volumes, frozen_now):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("compute_daily_kpis", "--from", D2.isoformat(), "--to", D1.isoformat(), stdout=out)
    assert "2 jour(s) enregistré(s)." in out.getvalue()
    assert set(DailyKpi.objects.values_list("day", flat=True)) == {D1, D2}
    with pytest.raises(CommandError, match="aujourd'hui est calculé en direct"):
        call_command("compute_daily_kpis", "--to", TODAY.isoformat())


def test_todays_figures_are_shared_for_the_cache_duration(settings, citizen, topic_a, frozen_now):
    from django.core.cache import cache

    settings.GUICHET_KPI_LIVE_CACHE_SECONDS = 60
    make_case(citizen, topic_a, at(TODAY, 9))
    assert report_for(TODAY).overall.opened == 1
    make_case(citizen, topic_a, at(TODAY, 10))
    assert report_for(TODAY).overall.opened == 1  # the same minute: the shared figures
    other_scope = kpis.Scope(topic_id=topic_a.pk)
    assert report_for(TODAY, scope=other_scope).overall.opened == 2  # per scope
    cache.clear()  # the minute is over
    assert report_for(TODAY).overall.opened == 2


@pytest.mark.django_db
def test_postgresql_sessions_run_without_jit():
    """The settings turn PostgreSQL's JIT off for every connection (docs/operations.md)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
