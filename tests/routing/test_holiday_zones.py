"""Public holidays per French zone (``holidays`` package) and a service's own holiday zone."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import holidays
import pytest
from django.utils import translation

import routing
from contactcenter.models import Service
from routing.calendar import (
    HOLIDAY_SUBDIVISIONS,
    ServiceCalendar,
    calendar_for,
    chat_schedule_text,
    french_holidays,
    holiday_name,
)
from routing.models import OpeningHours

from .conftest import set_available

PARIS = ZoneInfo("Europe/Paris")


def paris(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("zone", "day", "name"),
    [
        ("alsace-moselle", date(2026, 12, 26), "Saint-Étienne"),
        ("alsace-moselle", date(2026, 4, 3), "Vendredi saint"),
        ("reunion", date(2026, 12, 20), "Abolition de l'esclavage"),
        ("guadeloupe", date(2026, 5, 27), "Abolition de l'esclavage"),
        ("guadeloupe", date(2026, 7, 21), "Fête de Victor Schoelcher"),
        ("martinique", date(2026, 5, 22), "Abolition de l'esclavage"),
        ("guyane", date(2026, 6, 10), "Abolition de l'esclavage"),
        ("mayotte", date(2026, 4, 27), "Abolition de l'esclavage"),
        ("saint-barthelemy", date(2026, 10, 9), "Abolition de l'esclavage"),
        ("saint-martin", date(2026, 5, 28), "Abolition de l'esclavage"),
        ("nouvelle-caledonie", date(2026, 9, 24), "Fête de la Citoyenneté"),
        ("polynesie-francaise", date(2026, 3, 5), "Arrivée de l'Évangile"),
        ("wallis-et-futuna", date(2026, 7, 29), "Fête du Territoire"),
    ],
)
def test_each_zone_has_its_own_holidays(zone, day, name):
    assert holiday_name(day, zone) == name
    assert holiday_name(day) is None  # not a holiday in metropolitan France
    assert holiday_name(day, "metropole") is None


@pytest.mark.parametrize("zone", list(HOLIDAY_SUBDIVISIONS))
def test_every_zone_keeps_the_national_holidays(zone):
    days = french_holidays(2026, zone)
    for national in (date(2026, 1, 1), date(2026, 4, 6), date(2026, 7, 14), date(2026, 12, 25)):
        assert national in days


def test_metropole_has_the_eleven_national_days_only():
    days = french_holidays(2026, "metropole")
    assert len(days) == 11
    assert date(2026, 12, 26) not in days and date(2026, 4, 3) not in days


def test_zones_of_the_service_setting_are_all_known_to_the_package():
    assert set(HOLIDAY_SUBDIVISIONS) == set(Service.HolidayZone.values)
    for subdiv in HOLIDAY_SUBDIVISIONS.values():
        if subdiv is not None:
            assert subdiv in holidays.France.subdivisions


def test_holiday_names_follow_the_language():
    with translation.override("en"):
        assert holiday_name(date(2026, 12, 20), "reunion") == "Abolition of Slavery"
        assert holiday_name(date(2026, 12, 25)) == "Christmas Day"
    assert holiday_name(date(2026, 12, 25)) == "Noël"


WEEKDAYS = {d: [(time(8, 30), time(17, 30))] for d in range(5)}


def test_a_calendar_closes_on_the_holidays_of_its_zone_only():
    reunion = ServiceCalendar(weekly=WEEKDAYS, zone="reunion")
    metropole = ServiceCalendar(weekly=WEEKDAYS)
    monday = paris(2027, 12, 20, 10)  # 20 December 2027 is a Monday
    assert not reunion.is_open(monday)
    assert metropole.is_open(monday)
    assert reunion.next_open(monday) == paris(2027, 12, 21, 8, 30)
    assert chat_schedule_text(reunion, monday).startswith(
        "Fermé aujourd'hui (Abolition de l'esclavage)."
    )
    alsace = ServiceCalendar(weekly=WEEKDAYS, zone="alsace-moselle")
    assert not alsace.is_open(paris(2026, 4, 3, 10))  # Good Friday
    assert not alsace.is_open(paris(2029, 12, 26, 10))  # 26 December 2029, a Wednesday
    assert metropole.is_open(paris(2029, 12, 26, 10))


@pytest.fixture
def office_hours(service_a):
    for weekday in range(5):
        OpeningHours.objects.create(
            service=service_a, weekday=weekday, start=time(8, 30), end=time(17, 30)
        )


def test_a_service_with_an_overseas_zone_is_closed_on_its_own_holiday(service_a, office_hours):
    monday = paris(2027, 12, 20, 10)
    assert calendar_for(service_a.pk).is_open(monday)  # metropole by default
    service_a.holiday_zone = Service.HolidayZone.REUNION
    service_a.save()  # the cached calendar is forgotten
    cal = calendar_for(service_a.pk)
    assert cal.zone == "reunion"
    assert not cal.is_open(monday)
    # Working days and business-time deadlines skip the holiday too.
    assert cal.add_working_days(paris(2027, 12, 17, 10), 1) == paris(2027, 12, 21, 10)


def test_callback_slots_skip_the_services_holiday(service_a, topic_a, agent_a, office_hours):
    set_available(agent_a)
    service_a.holiday_zone = Service.HolidayZone.GUADELOUPE
    service_a.save()
    # Wednesday 26 May 2027, evening: next slots on Friday 28 (27 May is a holiday there).
    slots = routing.callback_slots(topic_a, now=paris(2027, 5, 26, 18))
    assert slots[0].start == paris(2027, 5, 28, 8, 30)
    assert all(slot.start.date() != date(2027, 5, 27) for slot in slots)
    service_a.holiday_zone = Service.HolidayZone.METROPOLE
    service_a.save()
    slots = routing.callback_slots(topic_a, now=paris(2027, 5, 26, 18))
    assert slots[0].start == paris(2027, 5, 27, 8, 30)


def test_the_zone_is_edited_in_the_admin(admin_user, client_as, service_a, office_hours):
    client = client_as(admin_user)
    url = f"/admin/contactcenter/service/{service_a.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="holiday_zone"' in page and "La Réunion" in page
    response = client.post(
        url,
        {
            "code": service_a.code,
            "name": service_a.name,
            "description": "",
            "is_active": "on",
            "holiday_zone": "alsace-moselle",
        },
    )
    assert response.status_code == 302
    service_a.refresh_from_db()
    assert service_a.holiday_zone == "alsace-moselle"
    assert not calendar_for(service_a.pk).is_open(paris(2029, 12, 26, 10))
