"""The phone channel's dashboard section (voice/indicators.py) on hand-built calls, and its
tables in the page and as CSV."""

from __future__ import annotations

import pytest

from voice import indicators
from voice.models import Call

from .conftest import D1, TODAY, at
from .test_views import URL, rows_of

pytestmark = pytest.mark.django_db


def make_call(service, started, ended_by, steps) -> Call:
    return Call.objects.create(
        sip_call_id=f"c{Call.objects.count()}",
        service=service,
        started_at=started,
        ended_at=started,
        ended_by=ended_by,
        steps=[{"step": name, **data} for name, data in steps],
    )


@pytest.fixture
def calls(service_a, service_b):
    start = ("self_service_start", {"kind": "track_request"})
    make_call(
        service_a,
        at(D1, 9),
        "caller",
        [
            start,
            ("self_service", {"kind": "track_request", "completed": True}),
            ("satisfaction", {"score": 5}),
            ("hangup", {"during_prompt": False}),
        ],
    )
    make_call(
        service_a,
        at(D1, 10),
        "caller",
        [
            ("self_service_start", {"kind": "document"}),
            ("self_service", {"kind": "document", "completed": False}),
            ("transfer_offered", {"reason": "verify"}),
            ("hangup", {"during_prompt": True}),
        ],
    )
    make_call(service_a, at(D1, 11), "server", [("no_answer", {})])
    make_call(
        service_a,
        at(D1, 12),
        "caller",
        [
            ("self_service_start", {"kind": "document"}),
            ("self_service", {"kind": "document", "completed": True}),
            ("satisfaction", {"score": 2}),
        ],
    )
    make_call(service_b, at(D1, 13), "caller", [("hangup", {"during_prompt": True})])


def test_summary_of_the_calls(calls, service_a):
    data = indicators.summary(at(D1, 0), at(TODAY, 0), [service_a.pk])
    assert data["received"] == 4
    assert data["completion_rate"] == 3 / 4
    assert data["transfer_rate"] == 1 / 4
    assert data["hung_up_during_prompt"] == 1
    assert data["self_service"] == {"document": (2, 1), "track_request": (1, 1)}
    assert data["self_service_rate"] == 2 / 3
    assert data["satisfaction_avg"] == 3.5 and data["satisfaction"] == [0, 1, 0, 0, 1]
    everyone = indicators.summary(at(D1, 0), at(TODAY, 0))
    assert everyone["received"] == 5 and everyone["hung_up_during_prompt"] == 2
    assert indicators.summary(at(TODAY, 0), at(TODAY, 23))["received"] == 0
    assert indicators.voice_kpis(at(D1, 0), at(TODAY, 0), channel="web") is None


def test_dashboard_shows_the_voice_section_and_exports_it(
    settings, calls, client_as, supervisor, frozen_now
):
    settings.GUICHET_KPI_PROVIDERS = {"voice": "voice.indicators.voice_kpis"}
    client = client_as(supervisor)
    response = client.get(URL, {"periode": "7j"})
    content = response.content.decode()
    assert "Serveur vocal (téléphone)" in content
    assert "Services en autonomie par catégorie" in content
    rows = rows_of(client.get(URL + "export/voice-autonomie.csv", {"periode": "7j"}))
    assert rows[0] == ["Catégorie", "Commencés", "Terminés", "Taux (%)"]
    # The supervisor's service only (service A).
    labels = {row[0]: row[1:3] for row in rows[1:]}
    assert labels["Recevoir l'attestation d'une demande (messagerie)"] == ["2", "1"]
    assert labels["Suivre une demande par sa référence"] == ["1", "1"]
    rows = rows_of(client.get(URL + "export/voice-satisfaction.csv", {"periode": "7j"}))
    assert rows[1:] == [["1", "0"], ["2", "1"], ["3", "0"], ["4", "0"], ["5", "1"]]
