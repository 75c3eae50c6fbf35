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


@pytest.fixture
def queued_calls(service_a, service_b):
    """Calls handed to an agent: the menu of service A aims at 30 s, the call without a menu
    at the default 60 s."""
    from datetime import timedelta

    from voice.models import Menu

    menu = Menu.objects.create(service=service_a, version=1, welcome="Bonjour", answer_target=30)

    def queued(service, hour, wait, ended_by="agent", menu=menu):
        started = at(D1, hour, 10)
        return Call.objects.create(
            sip_call_id=f"q{Call.objects.count()}",
            service=service,
            menu=menu,
            started_at=started,
            queued_at=started,
            answered_at=None if wait is None else started + timedelta(seconds=wait),
            ended_at=started + timedelta(minutes=5),
            ended_by=ended_by,
        )

    queued(service_a, 9, 20)  # in target
    queued(service_a, 9, 30)  # in target (the limit counts)
    queued(service_a, 9, 45)  # late for 30 s
    queued(service_a, 10, None, ended_by="caller")  # abandoned
    queued(service_a, 10, None, ended_by="server")  # left for a callback: not abandoned
    queued(service_a, 10, 50, menu=None)  # no menu: default 60 s target
    queued(service_b, 11, 5)
    # Not queued: no wait, not counted.
    make_call(service_a, at(D1, 12), "caller", [])


def test_answered_within_target_per_hour(queued_calls, service_a):
    data = indicators.answers(at(D1, 0), at(TODAY, 0), [service_a.pk])
    assert data["queued"] == 6 and data["answered"] == 4
    assert data["in_target"] == 3 and data["in_target_rate"] == 3 / 6
    assert data["abandoned"] == 1 and data["abandon_rate"] == 1 / 6
    assert data["average_wait"] == (20 + 30 + 45 + 50) / 4
    assert data["hours"] == {9: [3, 3, 2, 0], 10: [3, 1, 1, 1]}
    everyone = indicators.answers(at(D1, 0), at(TODAY, 0))
    assert everyone["queued"] == 7 and everyone["hours"][11] == [1, 1, 1, 0]
    table = indicators.hourly_table(data)
    assert table["rows"][0][:5] == ["9\u00a0h", 3, 3, 2, 0]
    assert table["chart"]["datasets"][0]["data"] == [2, 1]
    assert table["chart"]["datasets"][1]["data"] == [1, 0]
    assert table["chart"]["datasets"][2]["data"] == [0, 1]


def test_dashboard_shows_the_answer_chart_with_its_table(
    settings, queued_calls, client_as, supervisor, frozen_now
):
    settings.GUICHET_KPI_PROVIDERS = {"voice": "voice.indicators.voice_kpis"}
    client = client_as(supervisor)
    content = client.get(URL, {"periode": "7j"}).content.decode()
    assert 'data-kpi="voice-answered_in_target"' in content
    assert "3 appels sur 6 mis en file" in content
    # The chart and, for screen readers and without JavaScript, its data table.
    assert 'data-dashboard-chart="voice-decroche"' in content
    assert "Tableau de données : Appels vers un conseiller par heure" in content
    assert '"voice-decroche"' in content.split('id="dashboard-charts"')[1]
    rows = rows_of(client.get(URL + "export/voice-decroche.csv", {"periode": "7j"}))
    assert rows[0][:5] == ["Heure", "Mis en file", "Décrochés", "Dans l'objectif", "Abandonnés"]
    assert rows[1][:5] == ["9\u00a0h", "3", "3", "2", "0"]
