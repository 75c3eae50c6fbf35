"""Dates and durations follow the active language (contactcenter/formats, FORMAT_MODULE_PATH)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from console.dashboard_tables import format_duration
from console.synthesis import contact_time
from routing.templatetags.routing_tags import duration_fr

MOMENT = datetime(2026, 12, 1, 1, 35, tzinfo=ZoneInfo("UTC"))  # 02:35 in Paris

EXPECTED = {
    "fr": {
        "DATETIME_FORMAT": "1 décembre 2026 à 02:35",
        "DATE_FORMAT": "1 décembre 2026",
        "SHORT_DATETIME_FORMAT": "01/12/2026 02:35",
        "duration": "2 j 0 h",
        "dashboard": "2\u00a0j\u00a04\u00a0h",
    },
    "en": {
        "DATETIME_FORMAT": "1 December 2026, 02:35",
        "DATE_FORMAT": "1 December 2026",
        "SHORT_DATETIME_FORMAT": "01/12/2026 02:35",
        "duration": "2 d 0 h",
        "dashboard": "2\u00a0d\u00a04\u00a0h",
    },
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_named_date_formats_per_language(language):
    with translation.override(language):
        for name in ("DATETIME_FORMAT", "DATE_FORMAT", "SHORT_DATETIME_FORMAT"):
            rendered = Template(f'{{{{ moment|date:"{name}" }}}}').render(
                Context({"moment": MOMENT})
            )
            assert rendered == EXPECTED[language][name]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_contact_time_writes_the_datetime_format_of_the_language(language):
    with translation.override(language):
        assert contact_time(MOMENT) == EXPECTED[language]["DATETIME_FORMAT"]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_durations_are_localized(language):
    with translation.override(language):
        assert duration_fr(timedelta(days=2, minutes=3)) == EXPECTED[language]["duration"]
        assert duration_fr(timedelta(hours=2, minutes=5)) == "2 h 05 min"
        assert format_duration(2 * 86400 + 4 * 3600) == EXPECTED[language]["dashboard"]
