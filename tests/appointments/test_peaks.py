from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse

from appointments import peaks
from contactcenter.models import Event
from contactcenter.services import add_event
from routing.calendar import calendar_for, local_tz
from routing.models import OpeningHours

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=local_tz())  # a Saturday


def contact_at(case, day_offset, hour, actor, minute=15):
    # day_offset days from NOW's Monday (2026-03-09), at ``hour``:``minute``
    at = datetime(2026, 3, 9, hour, minute, tzinfo=local_tz()) + timedelta(days=day_offset)
    return add_event(case, Event.Type.MESSAGE, actor=actor, body="x", at=at)


@pytest.mark.django_db
def test_peaks_from_the_contacts_of_the_last_weeks(case_a, citizen, agent_a, service_a):
    for day in range(5):
        OpeningHours.objects.create(service=service_a, weekday=day, start=time(9), end=time(17))
    # Mondays 9:00-9:30: 3 contacts a week for 4 weeks; Tuesday 14:00-14:30: 1 in one week.
    for week in range(4):
        for _ in range(3):
            contact_at(case_a, -7 * week, 9, citizen)
    contact_at(case_a, 1, 14, citizen)
    contact_at(case_a, 1, 15, agent_a)  # an agent's answer is not a contact
    contact_at(case_a, -7 * 9, 10, citizen)  # older than 8 weeks
    contact_at(case_a, 2, 11, citizen, minute=45)  # Wednesday 11:30-12:00
    counts = peaks.count_contacts(service_a.pk, now=NOW)
    # case_a's first message (created now, outside the window) is not counted
    assert counts == {(0, 18): 12, (1, 28): 1, (2, 23): 1}
    result = peaks.compute(service_a.pk, calendar_for(service_a.pk), now=NOW)
    # Half hours from 9:00 to 16:30 (the last one ends at 17:00).
    assert result.slots == list(range(18, 34)) and result.days == [0, 1, 2, 3, 4]
    assert result.grid[(0, 18)] == 12 / 8
    assert result.peak[0] == (0, 18)
    assert (0, 18) not in result.calm and (1, 28) not in result.calm
    # 80 open half hours: the 10 quietest are Monday 9:30-14:30 but 9:00's, and so on.
    assert len(result.calm) == 10
    assert peaks.slot_label(19) == "9 h 30" and peaks.slot_label(28) == "14 h"
    text = peaks.sentence(result)
    assert text.startswith("Le moins d'attente : lundi entre 9 h 30 et 14 h 30."), text
    assert "Le plus d'affluence : lundi entre 9 h et 9 h 30" in text
    assert "mardi entre 14 h et 14 h 30" in text and "mercredi entre 11 h 30 et 12 h" in text


def test_sentence_merges_half_hours_and_days():
    result = peaks.Peaks(
        slots=list(range(16, 36)),
        days=[0, 1, 2, 3],
        grid={},
        peak=[],
        calm=[(1, 28), (1, 29), (1, 30), (1, 31), (3, 28), (3, 29), (3, 30), (3, 31), (0, 17)],
        waits={},
    )
    assert peaks.sentence(result) == (
        "Le moins d'attente : lundi entre 8 h 30 et 9 h ; mardi et jeudi entre 14 h et 16 h."
    )


@pytest.mark.django_db
def test_average_waits_per_half_hour_of_arrival(citizen, topic_a, service_a, agent_a):
    from contactcenter.models import Case

    def case_at(day_offset, hour, minute, wait_minutes):
        at = datetime(2026, 3, 9, hour, minute, tzinfo=local_tz()) + timedelta(days=day_offset)
        return Case.objects.create(
            reference=f"W-{day_offset}-{hour}-{minute}-{wait_minutes}",
            citizen=citizen,
            topic=topic_a,
            service=service_a,
            kind="question",
            channel="chat",
            subject="x",
            created_at=at,
            assigned_at=None if wait_minutes is None else at + timedelta(minutes=wait_minutes),
        )

    case_at(0, 9, 5, 10)  # Monday 9:00-9:30: 10 and 20 minutes
    case_at(-7, 9, 25, 20)
    case_at(1, 14, 40, 4)  # Tuesday 14:30-15:00
    case_at(1, 15, 0, None)  # never taken: no wait to count
    case_at(-7 * 9, 9, 5, 60)  # older than 8 weeks
    waits = peaks.average_waits(service_a.pk, now=NOW)
    assert waits == {(0, 18): 15.0, (1, 29): 4.0}


def test_heat_levels_are_quarters_of_the_busiest_half_hour():
    assert [peaks.level_of(v, 8.0) for v in (None, 0, 0.5, 2, 2.1, 4, 6.5, 8)] == [
        0,
        0,
        1,
        1,
        2,
        2,
        4,
        4,
    ]
    result = peaks.Peaks(
        slots=[18, 19],
        days=[0],
        grid={(0, 18): 4.0, (0, 19): 1.0},
        peak=[(0, 18)],
        calm=[(0, 19)],
        waits={(0, 18): 12.4},
    )
    (monday,) = peaks.heat_rows(result)
    assert [
        (c["count_level"], c["wait_level"], c["wait"], c["level"]) for c in monday["cells"]
    ] == [
        (4, 4, 12, "peak"),
        (1, 0, None, "calm"),
    ]


@pytest.mark.django_db
def test_contact_page_shows_an_accessible_table(client, service_a, case_a, citizen):
    OpeningHours.objects.create(service=service_a, weekday=0, start=time(9), end=time(12))
    page = client.get(reverse("appointments:contact")).content.decode()
    assert "<caption>" in page and 'scope="row">Lundi</th>' in page
    # The heat maps are a decorative copy of the table: hidden from assistive technologies.
    assert page.count('class="guichet-heatmap__grid" aria-hidden="true"') == 2
    assert "lundi de 9 h à 12 h" in page.lower()


@pytest.mark.django_db
def test_nightly_refresh_fills_the_cache_the_page_reads(service_a, case_a, citizen):
    from django.core.cache import cache

    from appointments.tasks import refresh_peaks

    assert cache.get(f"appointments:peaks:halfhour-waits:{service_a.pk}") is None
    assert refresh_peaks() == 1
    stored = cache.get(f"appointments:peaks:halfhour-waits:{service_a.pk}")
    assert stored is not None
    assert peaks.cached(service_a.pk, calendar_for(service_a.pk)) == stored
