"""The dashboard page, its filters, permissions, providers and CSV exports."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from console import kpis
from contactcenter.models import AuditLog, Case, Event

from .conftest import D1, D2, TODAY, agent_message, at, citizen_message, make_case, rate

pytestmark = pytest.mark.django_db

URL = "/supervision/tableau-de-bord/"


@pytest.fixture
def two_services(citizen, citizen2, topic_a, topic_b, agent_a, frozen_now):
    """Service A: 2 web cases yesterday (one answered, rated). Service B: 1 web case."""
    a1 = make_case(
        citizen, topic_a, at(D1, 9), first_response_at=at(D1, 10), status=Case.Status.ANSWERED
    )
    citizen_message(a1, at(D1, 9))
    agent_message(a1, agent_a, at(D1, 10))
    rate(a1, 5, at(D1, 11), "Merci pour la réponse rapide")
    a2 = make_case(citizen2, topic_a, at(D1, 12))
    citizen_message(a2, at(D1, 12))
    b1 = make_case(citizen2, topic_b, at(D1, 13))
    citizen_message(b1, at(D1, 13))
    rate_b = make_case(citizen2, topic_b, at(D1, 14), status=Case.Status.ANSWERED)
    rate(rate_b, 1, at(D1, 15), "Commentaire du service B")
    return {"a1": a1, "a2": a2, "b1": b1}


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = response.getvalue().decode("utf-8")
    assert body.startswith("\ufeff")  # BOM: spreadsheets read the file as UTF-8
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


# --- permissions ---


@pytest.mark.parametrize("path", ["", "direct/", "export/demandes.csv", "export/canaux.csv"])
def test_agent_gets_403_everywhere(client_as, agent_a, path):
    assert client_as(agent_a).get(URL + path).status_code == 403


def test_citizen_gets_403(client_as, citizen):
    assert client_as(citizen).get(URL).status_code == 403


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/")


def test_supervisor_sees_only_their_services(client_as, supervisor, two_services, service_b):
    response = client_as(supervisor).get(URL, {"periode": "7j"})
    assert response.status_code == 200
    report = response.context["report"]
    assert report.overall.contacts == 2  # service A's two messages, not service B's
    assert set(report.by_service) == {two_services["a1"].service_id}
    content = response.content.decode()
    assert "Merci pour la réponse rapide" in content
    assert "Commentaire du service B" not in content
    assert service_b.name not in content


def test_supervisor_cannot_pick_another_service(client_as, supervisor, two_services, service_b):
    response = client_as(supervisor).get(URL, {"service": service_b.code})
    assert response.status_code == 400
    assert "ne fait pas partie de vos services" in response.content.decode()
    assert "report" not in response.context


def test_supervisor_cannot_export_another_service(client_as, supervisor, two_services, service_b):
    response = client_as(supervisor).get(URL + "export/demandes.csv", {"service": service_b.code})
    assert response.status_code == 400
    assert not AuditLog.objects.filter(action=AuditLog.Action.EXPORT).exists()


def test_admin_sees_every_service(client_as, admin_user, two_services, service_b):
    response = client_as(admin_user).get(URL, {"periode": "7j"})
    assert response.status_code == 200
    assert response.context["report"].overall.contacts == 3
    response = client_as(admin_user).get(URL, {"periode": "7j", "service": service_b.code})
    assert response.context["report"].overall.contacts == 1


def test_nav_shows_the_dashboard_to_supervisors_only(client_as, supervisor, agent_a):
    assert 'href="/supervision/tableau-de-bord/"' in client_as(supervisor).get(URL).content.decode()
    page = client_as(agent_a).get("/console/", follow=True).content.decode()
    assert 'href="/supervision/tableau-de-bord/"' not in page


# --- filters ---


def test_default_period_is_the_last_seven_days(client_as, supervisor, frozen_now):
    response = client_as(supervisor).get(URL)
    kpi_range = response.context["report"].kpi_range
    assert (kpi_range.start, kpi_range.end) == (TODAY.replace(day=4), TODAY)
    assert 'value="7j" selected' in response.content.decode()


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"periode": "perso", "du": "2026-03-09", "au": "2026-03-01"},
            "au",
            "La date de fin doit suivre la date de début.",
        ),
        (
            {"periode": "perso", "du": "2026-03-01", "au": "2026-03-11"},
            "au",
            "La date de fin ne peut pas dépasser aujourd'hui (10/03/2026).",
        ),
        (
            {"periode": "perso", "du": "2024-01-01", "au": "2026-03-01"},
            "au",
            "La période couvre au plus 366 jours.",
        ),
        (
            {"periode": "perso", "au": "2026-03-01"},
            "du",
            "Indiquez la date de début de la période.",
        ),
        (
            {"periode": "perso", "du": "31/02/2026", "au": "2026-03-01"},
            "du",
            "Saisissez une date valide, par exemple 01/03/2026.",
        ),
        ({"periode": "hier"}, "periode", "Période inconnue : choisissez une période de la liste."),
        ({"canal": "pigeon"}, "canal", "Canal inconnu : choisissez un canal de la liste."),
    ],
)
def test_bad_filters_get_a_precise_error_and_keep_what_was_typed(
    client_as, supervisor, frozen_now, params, field, message
):
    response = client_as(supervisor).get(URL, params)
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors[field] == [message]
    content = response.content.decode()
    assert message.replace("'", "&#x27;") in content
    if params.get("du"):
        assert params["du"] in content


def test_topic_of_another_service_than_the_chosen_one_is_refused(
    client_as, admin_user, service_a, topic_b, frozen_now
):
    response = client_as(admin_user).get(URL, {"service": service_a.code, "theme": topic_b.slug})
    assert response.status_code == 400
    assert "ne relève pas du service" in response.context["form"].errors["theme"][0]


def test_custom_range_and_filters_are_in_export_links(client_as, supervisor, topic_a, frozen_now):
    params = {
        "periode": "perso",
        "du": "2026-03-01",
        "au": "2026-03-09",
        "theme": topic_a.slug,
        "canal": "web",
    }
    response = client_as(supervisor).get(URL, params)
    assert response.status_code == 200
    assert response.context["report"].kpi_range == kpis.KpiRange(D1.replace(day=1), D1)
    assert response.context["report"].scope.topic_id == topic_a.pk
    query = response.context["query"]
    assert "du=2026-03-01" in query and "theme=impots" in query and "canal=web" in query
    assert f"export/demandes.csv?{query}" in response.content.decode().replace("&amp;", "&")


# --- page content ---


def test_page_has_charts_as_json_and_a_table_for_each_chart(client_as, supervisor, two_services):
    response = client_as(supervisor).get(URL, {"periode": "7j"})
    content = response.content.decode()
    charts = response.context["charts"]
    assert {"volumes", "evolution", "attente", "satisfaction"} <= set(charts)
    assert '<script id="dashboard-charts" type="application/json">' in content
    for key in charts:
        assert f'data-dashboard-chart="{key}"' in content
        assert f'id="table-{key}"' in content
    assert "<script>" not in content  # CSP: no inline script
    assert charts["volumes"]["datasets"][0]["data"] == [2]


def test_page_renders_with_no_data_at_all(client_as, admin_user, frozen_now):
    response = client_as(admin_user).get(URL, {"periode": "jour"})
    assert response.status_code == 200
    assert "Aucune donnée sur la période." in response.content.decode()


def test_missing_past_days_are_computed_and_queued_for_storage(
    client_as, supervisor, two_services, django_capture_on_commit_callbacks
):
    from contactcenter.models import DailyKpiRun

    with django_capture_on_commit_callbacks(execute=True):  # the task is queued on commit
        response = client_as(supervisor).get(URL, {"periode": "7j"})
    assert response.status_code == 200
    # Celery is eager in tests: the catch-up task stored the past days (from the first one
    # with data: the days before have nothing to count).
    assert DailyKpiRun.objects.filter(day=D1, computed_at__isnull=False).exists()
    assert not DailyKpiRun.objects.filter(day=D2).exists()
    assert kpis.missing_days(kpis.KpiRange(D2, D1)) == []


# --- providers ---


def test_provider_metrics_and_tables_are_shown_and_exported(client_as, supervisor, frozen_now):
    calls = []

    def chatbot(start, end, *, user, service_ids, topic_id, channel):
        calls.append((start, end, user, service_ids, topic_id, channel))
        return {
            "title": "Assistant virtuel",
            "metrics": [
                {
                    "key": "recognition",
                    "label": "Taux de reconnaissance",
                    "value": 0.8,
                    "format": "percent",
                },
            ],
            "tables": [
                {
                    "key": "questions",
                    "title": "Questions sans réponse",
                    "columns": ["Question", "Nombre"],
                    "rows": [["=cmd|' /C calc'!A0", 3], ["Où est mon remboursement ?", 2]],
                    "formats": ["text", "number"],
                },
            ],
            "volumes": {"chatbot": 42},
        }

    kpis.register_provider("chatbot", chatbot)
    client = client_as(supervisor)
    response = client.get(URL, {"periode": "jour"})
    content = response.content.decode()
    assert "Assistant virtuel" in content and "80,0" in content
    assert "Où est mon remboursement ?" in content
    assert calls[0][2] == supervisor
    assert calls[0][3] == [supervisor.agent_profile.services.get().pk]
    assert response.context["report"].by_channel["chatbot"].contacts == 42
    assert response.context["report"].overall.contacts == 0  # not part of timeline totals
    rows = rows_of(client.get(URL + "export/chatbot-questions.csv", {"periode": "jour"}))
    assert rows[0] == ["Question", "Nombre"]
    assert rows[1] == ["'=cmd|' /C calc'!A0", "3"]  # formula neutralised


def test_a_failing_provider_shows_an_error_not_a_500(client_as, supervisor, frozen_now):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    kpis.register_provider("broken", broken)
    response = client_as(supervisor).get(URL)
    assert response.status_code == 200
    assert "Ces indicateurs sont momentanément indisponibles." in response.content.decode()


def test_providers_named_in_settings_are_imported_lazily(
    settings, client_as, supervisor, frozen_now
):
    settings.GUICHET_KPI_PROVIDERS = {
        "demo": "tests.dashboard.providers.demo_provider",
        "missing": "no_such_app.analytics.kpis",
    }
    response = client_as(supervisor).get(URL)
    assert response.status_code == 200
    assert "Indicateur de démonstration" in response.content.decode()


def test_live_tiles_come_from_the_live_provider(settings, client_as, supervisor, frozen_now):
    settings.GUICHET_DASHBOARD_LIVE_PROVIDER = "tests.dashboard.providers.live_provider"
    response = client_as(supervisor).get(URL + "direct/")
    assert response.status_code == 200
    live = response.context["live"]
    # Only the supervisor's service: the other service's queue is left out.
    assert (live["waiting"], live["breached"], live["at_risk"], live["callbacks"]) == (3, 1, 2, 1)
    assert live["oldest_wait"] == 600
    assert 'hx-trigger="every 15s"' in response.content.decode()


# --- exports ---


def test_case_export_streams_the_filtered_cases_and_is_audited(client_as, supervisor, two_services):
    response = client_as(supervisor).get(URL + "export/demandes.csv", {"periode": "7j"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Export-Rows"] == "2"
    assert response["Content-Disposition"] == (
        'attachment; filename="guichet-demandes-20260304-20260310.csv"'
    )
    rows = rows_of(response)
    assert rows[0][:3] == ["Référence", "Ouverte le", "Service"]
    a1 = two_services["a1"]
    assert [row[0] for row in rows[1:]] == [a1.reference, two_services["a2"].reference]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Ouverte le"] == "09/03/2026 09:00"
    assert first["Délai avant première réponse (min)"] == "60,0"
    assert first["Note de satisfaction"] == "5"
    assert first["Canal"] == "Messagerie sécurisée"
    # No citizen identity in the file.
    body = ";".join(";".join(row) for row in rows)
    assert a1.citizen.email not in body and a1.citizen.last_name not in body
    audit = AuditLog.objects.get(action=AuditLog.Action.EXPORT)
    assert audit.actor == supervisor
    assert audit.detail["export"] == "demandes"
    assert audit.detail["rows"] == 2
    assert audit.detail["filters"] == {"du": "2026-03-04", "au": "2026-03-10"}


def test_case_export_pages_through_large_sets(
    client_as, admin_user, citizen, topic_a, frozen_now, monkeypatch
):
    from console import dashboard_views

    for i in range(7):
        make_case(citizen, topic_a, at(D1, 8))  # same timestamp: the keyset needs the id too
        make_case(citizen, topic_a, at(D1, 9, i))
    original = dashboard_views.case_batches
    monkeypatch.setattr(dashboard_views, "case_batches", lambda cases: original(cases, batch=3))
    rows = rows_of(client_as(admin_user).get(URL + "export/demandes.csv", {"periode": "7j"}))
    references = [row[0] for row in rows[1:]]
    assert len(references) == 14 == len(set(references))


def test_export_refused_beyond_the_maximum(settings, client_as, supervisor, two_services):
    settings.GUICHET_EXPORT_MAX_ROWS = 1
    response = client_as(supervisor).get(URL + "export/demandes.csv", {"periode": "7j"})
    assert response.status_code == 400
    assert "L'export contiendrait 2 demandes ; 1 au maximum." in response.content.decode().replace(
        "&#x27;", "'"
    )


def test_table_export_matches_the_page_and_is_audited(client_as, supervisor, two_services):
    client = client_as(supervisor)
    rows = rows_of(client.get(URL + "export/canaux.csv", {"periode": "7j"}))
    assert rows[0][:3] == ["Canal", "Contacts", "Demandes ouvertes"]
    assert rows[1][:3] == ["Messagerie sécurisée", "2", "2"]
    assert rows[-1][0] == "Ensemble"
    rows = rows_of(client.get(URL + "export/indicateurs.csv", {"periode": "7j"}))
    assert rows[1][:3] == ["Contacts", "2", ""]
    exports = AuditLog.objects.filter(action=AuditLog.Action.EXPORT).order_by("id")
    assert [a.detail["export"] for a in exports] == ["canaux", "indicateurs"]


def test_comments_export_contains_the_latest_comments(client_as, supervisor, two_services):
    rows = rows_of(client_as(supervisor).get(URL + "export/commentaires.csv", {"periode": "7j"}))
    assert rows[1][1:] == [
        two_services["a1"].reference,
        "Service des impôts des particuliers",
        "Messagerie sécurisée",
        "5",
        "Merci pour la réponse rapide",
    ]


def test_unknown_table_is_a_404(client_as, supervisor, frozen_now):
    assert client_as(supervisor).get(URL + "export/nimportequoi.csv").status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_case_export_streams_asynchronously_under_asgi(supervisor_async):
    client, expected = supervisor_async
    response = await client.get(URL + "export/demandes.csv", {"periode": "30j"})
    assert response.status_code == 200
    assert response.is_async  # an ASGI server sends it chunk by chunk
    chunks = [chunk async for chunk in response.streaming_content]
    body = b"".join(chunks).decode()
    assert body.count("\r\n") == 1 + expected
    # The batches ran in the thread-sensitive executor: close its connection (test teardown).
    await sync_to_async(connections.close_all, thread_sensitive=True)()


@pytest.fixture
def supervisor_async(supervisor, citizen, topic_a):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for i in range(5):
        case = make_case(citizen, topic_a, now - timedelta(days=1, minutes=i))
        Event.objects.create(
            case=case,
            citizen=citizen,
            type="message",
            channel="web",
            actor=citizen,
            created_at=case.created_at,
        )
    client = AsyncClient()
    client.force_login(supervisor)
    return client, 5


def test_live_tiles_use_routings_live_view(settings, client_as, supervisor, case_a, case_b):
    settings.GUICHET_DASHBOARD_LIVE_PROVIDER = "routing.live_view"
    live = client_as(supervisor).get(URL + "direct/").context["live"]
    assert live["waiting"] == 1  # case_a waits in service A; case_b is another service's
    assert live["oldest_wait"] is not None
