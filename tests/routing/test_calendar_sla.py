"""Opening hours, French public holidays, SLA deadlines in business time."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

import routing
from contactcenter.models import Case
from routing.calendar import calendar_for, french_holidays
from routing.models import Closure, OpeningHours, SlaPolicy
from routing.sla import deadline_for, sla_state

from .conftest import make_case

PARIS = ZoneInfo("Europe/Paris")


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


@pytest.fixture
def office_hours(service_a):
    """Mon-Fri 8:30-12:00 and 13:30-17:30."""
    for weekday in range(5):
        OpeningHours.objects.create(
            service=service_a, weekday=weekday, start=time(8, 30), end=time(12)
        )
        OpeningHours.objects.create(
            service=service_a, weekday=weekday, start=time(13, 30), end=time(17, 30)
        )
    return calendar_for(service_a.pk)


def test_french_holidays_2026():
    days = french_holidays(2026)
    assert len(days) == 11
    assert days[date(2026, 4, 6)] == "Lundi de Pâques"
    assert days[date(2026, 5, 14)] == "Ascension"
    assert days[date(2026, 5, 25)] == "Lundi de Pentecôte"
    assert date(2026, 7, 14) in days and date(2026, 12, 25) in days


def test_opening_hours_with_a_holiday(office_hours):
    assert office_hours.is_open(at(2026, 4, 3, 10))  # Friday before Easter
    assert not office_hours.is_open(at(2026, 4, 3, 12, 30))  # lunch break
    assert not office_hours.is_open(at(2026, 4, 6, 10))  # Easter Monday
    assert not office_hours.is_open(at(2026, 4, 4, 10))  # Saturday
    assert office_hours.next_open(at(2026, 4, 3, 18)) == at(2026, 4, 7, 8, 30)


def test_exceptional_closure(service_a, office_hours):
    Closure.objects.create(
        service=service_a, start_date=date(2026, 5, 15), end_date=date(2026, 5, 15), reason="Pont"
    )
    cal = calendar_for(service_a.pk)  # cache cleared by the save
    assert not cal.is_open(at(2026, 5, 15, 10))
    assert cal.next_open(at(2026, 5, 13, 18)) == at(2026, 5, 18, 8, 30)  # Ascension then bridge


def test_closure_for_all_services(service_a, office_hours):
    Closure.objects.create(
        start_date=date(2026, 6, 1), end_date=date(2026, 6, 2), reason="Déménagement"
    )
    assert not calendar_for(service_a.pk).is_open(at(2026, 6, 2, 10))


def test_overlapping_ranges_are_refused_precisely(service_a, office_hours):
    overlapping = OpeningHours(service=service_a, weekday=0, start=time(11), end=time(14))
    with pytest.raises(ValidationError) as exc:
        overlapping.full_clean()
    assert exc.value.messages == [
        "Cette plage chevauche la plage 08:30–12:00 déjà définie pour ce jour."
    ]
    inverted = OpeningHours(service=service_a, weekday=5, start=time(14), end=time(10))
    with pytest.raises(ValidationError) as exc:
        inverted.full_clean()
    assert "postérieure" in exc.value.message_dict["end"][0]


def test_business_time_across_a_weekend(office_hours):
    # Friday 17:00 + 1 h of business time = Monday 9:00.
    assert office_hours.add_business_time(at(2026, 3, 6, 17), timedelta(hours=1)) == at(
        2026, 3, 9, 9
    )
    assert office_hours.business_time_between(at(2026, 3, 6, 17), at(2026, 3, 9, 9)) == timedelta(
        hours=1
    )


def test_web_sla_is_two_working_days_across_a_weekend(citizen, topic_a, office_hours):
    case = make_case(citizen, topic_a, channel="web")
    case.created_at = at(2026, 3, 6, 16)  # Friday 16:00
    assert deadline_for(case) == at(2026, 3, 10, 16)  # Tuesday 16:00
    case.created_at = at(2026, 3, 7, 11)  # Saturday: counting starts Monday 8:30
    assert deadline_for(case) == at(2026, 3, 11, 8, 30)


def test_web_sla_skips_a_holiday(citizen, topic_a, office_hours):
    case = make_case(citizen, topic_a, channel="web")
    case.created_at = at(2026, 4, 3, 10)  # Friday before Easter Monday
    assert deadline_for(case) == at(2026, 4, 8, 10)  # Wednesday


def test_chat_sla_in_business_minutes(citizen, topic_a, office_hours):
    case = make_case(citizen, topic_a, channel="chat")
    case.created_at = at(2026, 3, 6, 17, 28)
    assert deadline_for(case) == at(2026, 3, 9, 8, 33)  # 2 min Friday + 3 min Monday


def test_sla_policy_overrides_default_most_specific_first(citizen, topic_a, office_hours):
    SlaPolicy.objects.create(channel="web", amount=5, unit="days")
    SlaPolicy.objects.create(
        service=topic_a.service, channel="web", kind="claim", amount=4, unit="hours"
    )
    claim = make_case(citizen, topic_a, channel="web", kind=Case.Kind.CLAIM)
    claim.created_at = at(2026, 3, 6, 16)
    assert deadline_for(claim) == at(2026, 3, 9, 11)  # 1.5 h Friday + 2.5 h Monday
    question = make_case(citizen, topic_a, channel="web")
    question.created_at = at(2026, 3, 6, 16)
    assert deadline_for(question) == at(2026, 3, 13, 16)


def test_sla_state_ok_at_risk_breached(citizen, topic_a, office_hours):
    case = make_case(citizen, topic_a, channel="web")
    case.created_at = at(2026, 3, 9, 8, 30)  # Monday opening
    case.sla_deadline = deadline_for(case)  # Wednesday 8:30, 16 business hours
    assert sla_state(case, now=at(2026, 3, 9, 12)) == "ok"
    assert sla_state(case, now=at(2026, 3, 10, 15)) == "at_risk"  # 2.5 h left of 16
    assert sla_state(case, now=at(2026, 3, 11, 9)) == "breached"
    case.first_response_at = at(2026, 3, 10, 9)
    assert sla_state(case, now=at(2026, 3, 11, 9)) == "ok"


def test_routing_sets_deadline_and_beat_flags_breach(citizen, topic_a, agent_a, office_hours):
    case = make_case(citizen, topic_a, channel="web")
    routing.route_case(case.pk)
    case.refresh_from_db()
    assert case.sla_deadline is not None
    Case.objects.filter(pk=case.pk).update(sla_deadline=at(2020, 1, 1))
    assert routing.flag_sla_breaches() == [case.pk]
    assert routing.flag_sla_breaches() == []  # idempotent
    case.refresh_from_db()
    assert case.sla_breached is True
    assert case.events.filter(type="sla", internal=True).count() == 1
    assert sla_state(case) == "breached"


def test_duplicate_sla_policy_is_refused_precisely(service_a):
    SlaPolicy.objects.create(channel="web", amount=2, unit="days")
    duplicate = SlaPolicy(channel="web", amount=3, unit="days")
    with pytest.raises(ValidationError) as exc:
        duplicate.full_clean()
    assert "Un objectif existe déjà pour ce canal" in str(exc.value)
    SlaPolicy.objects.create(service=service_a, channel="web", amount=1, unit="days")
    with pytest.raises(ValidationError, match="pour ce service"):
        SlaPolicy(service=service_a, channel="web", amount=5, unit="days").full_clean()
