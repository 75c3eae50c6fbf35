"""'Mon travail': tabs, filters with counts, SLA order and highlight, htmx, take/release/assign."""

from datetime import timedelta

import pytest
from django.urls import reverse

from contactcenter import cases
from contactcenter.models import Case, Event, Transfer

HOME = "/console/"


def refs(response):
    return [case.reference for case in response.context["cases"]]


def test_console_home_url_name_is_kept():
    assert reverse("console:home") == HOME


def test_mine_lists_only_cases_assigned_to_me(
    client_as, agent_a, agent_a2, citizen, topic_a, make_case
):
    mine = make_case(citizen, topic_a, subject="À moi", assigned_to=agent_a)
    make_case(citizen, topic_a, subject="À un collègue", assigned_to=agent_a2)
    queued = make_case(citizen, topic_a, subject="En file")
    response = client_as(agent_a).get(HOME)
    assert response.status_code == 200
    assert refs(response) == [mine.reference]
    assert queued.reference not in refs(response)


def test_queue_lists_unowned_new_cases_of_my_services_only(
    client_as, agent_a, citizen, citizen2, topic_a, topic_b, make_case
):
    queued = make_case(citizen, topic_a, subject="En file")
    make_case(citizen2, topic_b, subject="Autre service")
    make_case(citizen, topic_a, subject="Déjà pris", assigned_to=agent_a)
    response = client_as(agent_a).get(HOME, {"vue": "queue"})
    assert refs(response) == [queued.reference]


def test_queue_sorted_by_sla_deadline_then_age(client_as, agent_a, citizen, topic_a, make_case):
    no_deadline_old = make_case(citizen, topic_a, subject="Sans échéance", age=timedelta(days=9))
    late = make_case(citizen, topic_a, subject="Échéance lointaine", sla_in=timedelta(days=3))
    soon = make_case(citizen, topic_a, subject="Échéance proche", sla_in=timedelta(hours=2))
    no_deadline_new = make_case(citizen, topic_a, subject="Récente", age=timedelta(hours=1))
    response = client_as(agent_a).get(HOME, {"vue": "queue"})
    assert refs(response) == [
        soon.reference,
        late.reference,
        no_deadline_old.reference,
        no_deadline_new.reference,
    ]


def test_filters_apply_and_facets_count_the_other_options(
    client_as, agent_a, citizen, topic_a, topic_a2, make_case
):
    phone_claim = make_case(citizen, topic_a, channel="phone", kind="claim", subject="Tél")
    make_case(citizen, topic_a, channel="web", kind="question", subject="Web")
    make_case(
        citizen, topic_a2, channel="web", kind="claim", subject="Titres", age=timedelta(days=10)
    )
    client = client_as(agent_a)

    response = client.get(HOME, {"vue": "queue", "canal": "phone"})
    assert refs(response) == [phone_claim.reference]
    facets = response.context["facets"]
    # The channel facet ignores the channel filter itself: 1 phone, 2 web.
    assert {o.value: o.count for o in facets.channel}["web"] == 2
    assert {o.value: o.count for o in facets.channel}["phone"] == 1
    # Other facets count within the chosen channel.
    assert {o.value: o.count for o in facets.kind}["claim"] == 1
    assert {o.value: o.count for o in facets.kind}["question"] == 0

    response = client.get(HOME, {"vue": "queue", "nature": "claim"})
    assert len(refs(response)) == 2
    response = client.get(HOME, {"vue": "queue", "theme": str(topic_a2.pk)})
    assert [c.subject for c in response.context["cases"]] == ["Titres"]
    response = client.get(HOME, {"vue": "queue", "anciennete": "gt7"})
    assert [c.subject for c in response.context["cases"]] == ["Titres"]
    ages = {o.value: o.count for o in response.context["facets"].age}
    assert ages == {"lt1": 2, "1to3": 0, "3to7": 0, "gt7": 1}
    response = client.get(HOME, {"vue": "queue", "statut": "closed"})
    assert refs(response) == []


def test_tab_counts_follow_filters(client_as, agent_a, citizen, topic_a, make_case):
    make_case(citizen, topic_a, channel="phone", assigned_to=agent_a)
    make_case(citizen, topic_a, channel="web")
    make_case(citizen, topic_a, channel="phone")
    response = client_as(agent_a).get(HOME, {"canal": "phone"})
    counts = {tab["value"]: tab["count"] for tab in response.context["tabs"]}
    assert counts == {"mine": 1, "queue": 1, "team": 2}


def test_status_filter_shows_closed_cases_on_demand(
    client_as, agent_a, citizen, topic_a, make_case
):
    closed = make_case(citizen, topic_a, status=Case.Status.CLOSED, assigned_to=agent_a)
    client = client_as(agent_a)
    assert closed.reference not in refs(client.get(HOME))
    assert refs(client.get(HOME, {"statut": "closed"})) == [closed.reference]
    assert refs(client.get(HOME, {"statut": "all"})) == [closed.reference]


def test_search_by_reference_or_citizen_name(
    client_as, agent_a, citizen, citizen2, topic_a, make_case
):
    first = make_case(citizen, topic_a, subject="Adresse")
    second = make_case(citizen2, topic_a, subject="Autre")
    client = client_as(agent_a)
    assert refs(client.get(HOME, {"vue": "team", "q": first.reference})) == [first.reference]
    assert refs(client.get(HOME, {"vue": "team", "q": "Bernard"})) == [second.reference]


def test_unknown_filter_values_are_ignored_not_an_error(
    client_as, agent_a, citizen, topic_a, make_case
):
    case = make_case(citizen, topic_a)
    response = client_as(agent_a).get(
        HOME,
        {
            "vue": "n'importe",
            "statut": "x",
            "theme": "abc",
            "canal": "fax",
            "nature": "?",
            "anciennete": "1000",
            "page": "-3",
        },
    )
    assert response.status_code == 200
    assert response.context["filters"].view == "mine"
    response = client_as(agent_a).get(HOME, {"vue": "queue", "page": "999"})
    assert refs(response) == [case.reference]


def test_htmx_filter_returns_the_partial_with_filters_in_links(
    client_as, agent_a, citizen, topic_a, make_case
):
    make_case(citizen, topic_a, channel="phone")
    response = client_as(agent_a).get(
        HOME, {"vue": "queue", "canal": "phone"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="filtre-canal"' in html
    assert "hx-push-url" in html
    # Tabs keep the other filters; the status region is updated out of band.
    assert "?vue=team&amp;canal=phone" in html
    assert 'hx-swap-oob="innerHTML"' in html


def test_full_page_has_live_status_and_work_region(client_as, agent_a):
    html = client_as(agent_a).get(HOME).content.decode()
    assert 'id="work-region"' in html
    assert 'role="status"' in html
    assert "<h1" in html


def test_at_risk_and_breached_cases_are_highlighted(
    client_as, agent_a, citizen, topic_a, make_case
):
    at_risk = make_case(
        citizen, topic_a, subject="Bientôt", age=timedelta(days=2), sla_in=timedelta(minutes=30)
    )
    breached = make_case(
        citizen, topic_a, subject="Trop tard", age=timedelta(days=3), sla_in=-timedelta(hours=1)
    )
    response = client_as(agent_a).get(HOME, {"vue": "queue"})
    states = {c.reference: c.sla for c in response.context["cases"]}
    assert states[at_risk.reference] == "at_risk"
    assert states[breached.reference] == "breached"
    html = response.content.decode()
    assert f'id="demande-{at_risk.pk}" class="console-row--at-risk"' in html
    assert f'id="demande-{breached.pk}" class="console-row--breached"' in html
    assert "Échéance proche" in html and "Échéance dépassée" in html


def test_transferred_case_shows_reason_in_receiving_queue(
    client_as, agent_a, agent_b, citizen, topic_a, topic_b, make_case
):
    case = make_case(citizen, topic_a, subject="Carte Vitale")
    cases.transfer_case(
        case, to_service=topic_b.service, reason="Relève de l'assurance maladie", by=agent_a
    )
    response = client_as(agent_b).get(HOME, {"vue": "queue"})
    assert refs(response) == [case.reference]
    html = response.content.decode()
    assert "Transférée" in html
    assert "Relève de l&#x27;assurance maladie" in html


# --- take / release / assign ---------------------------------------------------------------------


def test_take_from_queue_assigns_and_opens_the_case(
    client_as, agent_a, citizen, topic_a, make_case
):
    case = make_case(citizen, topic_a)
    response = client_as(agent_a).post(f"/console/demandes/{case.reference}/prendre/")
    assert response.status_code == 302
    assert response.url == f"/console/demandes/{case.reference}/"
    case.refresh_from_db()
    assert case.assigned_to == agent_a
    assert case.status == Case.Status.ASSIGNED


def test_take_with_htmx_redirects_the_browser(client_as, agent_a, citizen, topic_a, make_case):
    case = make_case(citizen, topic_a)
    response = client_as(agent_a).post(
        f"/console/demandes/{case.reference}/prendre/",
        {"retour": "/console/?vue=queue"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/console/demandes/{case.reference}/"


def test_take_already_taken_case_says_so(client_as, agent_a, agent_a2, citizen, topic_a, make_case):
    case = make_case(citizen, topic_a)
    client = client_as(agent_a)
    client_as(agent_a2).post(f"/console/demandes/{case.reference}/prendre/")
    response = client.post(
        f"/console/demandes/{case.reference}/prendre/",
        {"retour": "/console/?vue=queue"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cette demande vient d&#x27;être prise par un autre agent." in html
    # The refreshed queue no longer offers it.
    assert case.reference not in [c.reference for c in response.context["cases"]]
    case.refresh_from_db()
    assert case.assigned_to == agent_a2


def test_take_already_taken_without_htmx_redirects_with_message(
    client_as, agent_a, agent_a2, citizen, topic_a, make_case
):
    case = make_case(citizen, topic_a, assigned_to=agent_a2)
    response = client_as(agent_a).post(
        f"/console/demandes/{case.reference}/prendre/",
        {"retour": "/console/?vue=queue"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/console/?vue=queue"
    assert "Cette demande vient d&#x27;être prise par un autre agent." in response.content.decode()


def test_take_return_url_must_stay_in_console(
    client_as, agent_a, agent_a2, citizen, topic_a, make_case
):
    case = make_case(citizen, topic_a, assigned_to=agent_a2)
    response = client_as(agent_a).post(
        f"/console/demandes/{case.reference}/prendre/", {"retour": "https://evil.example/x"}
    )
    assert response.url == "/console/"


def test_release_puts_case_back_in_queue(client_as, agent_a, citizen, topic_a, make_case):
    case = make_case(citizen, topic_a, assigned_to=agent_a)
    response = client_as(agent_a).post(
        f"/console/demandes/{case.reference}/liberer/",
        {"retour": "/console/"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "remise dans la file" in response.content.decode()
    case.refresh_from_db()
    assert case.assigned_to is None and case.status == Case.Status.NEW
    assert Event.objects.filter(case=case, type=Event.Type.ASSIGNMENT).exists()


def test_release_someone_elses_case_is_refused(
    client_as, agent_a, agent_a2, citizen, topic_a, make_case
):
    case = make_case(citizen, topic_a, assigned_to=agent_a2)
    response = client_as(agent_a).post(f"/console/demandes/{case.reference}/liberer/", follow=True)
    assert "Cette demande ne vous est pas attribuée." in response.content.decode()
    case.refresh_from_db()
    assert case.assigned_to == agent_a2


def test_supervisor_assigns_case_to_named_agent(
    client_as, supervisor, agent_a, citizen, topic_a, make_case
):
    case = make_case(citizen, topic_a)
    response = client_as(supervisor).post(
        f"/console/demandes/{case.reference}/attribuer/", {"agent": agent_a.pk}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.assigned_to == agent_a


def test_supervisor_cannot_assign_to_agent_of_another_service(
    client_as, supervisor, agent_b, citizen, topic_a, make_case
):
    case = make_case(citizen, topic_a)
    response = client_as(supervisor).post(
        f"/console/demandes/{case.reference}/attribuer/", {"agent": agent_b.pk}
    )
    assert response.status_code == 400
    assert "Cet agent ne fait pas partie du service de la demande." in response.content.decode()
    case.refresh_from_db()
    assert case.assigned_to is None


def test_agent_cannot_assign(client_as, agent_a, agent_a2, citizen, topic_a, make_case):
    case = make_case(citizen, topic_a)
    response = client_as(agent_a).post(
        f"/console/demandes/{case.reference}/attribuer/", {"agent": agent_a2.pk}
    )
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.assigned_to is None


def test_taking_a_transferred_case_accepts_the_transfer(
    client_as, agent_a, agent_b, citizen, topic_a, topic_b, make_case
):
    case = make_case(citizen, topic_a)
    transfer = cases.transfer_case(
        case, to_service=topic_b.service, reason="Compétence CPAM", by=agent_a
    )
    assert transfer.accepted_at is None
    client_as(agent_b).post(f"/console/demandes/{case.reference}/prendre/")
    transfer.refresh_from_db()
    assert transfer.accepted_at is not None


def test_supervisor_assignment_accepts_the_transfer(
    client_as, agent_a, agent_b, supervisor_b, citizen, topic_a, topic_b, make_case
):
    case = make_case(citizen, topic_a)
    cases.transfer_case(case, to_service=topic_b.service, reason="Compétence CPAM", by=agent_a)
    client_as(supervisor_b).post(
        f"/console/demandes/{case.reference}/attribuer/", {"agent": agent_b.pk}
    )
    assert Transfer.objects.get(case=case).accepted_at is not None


@pytest.mark.parametrize("view", ["mine", "queue", "team"])
def test_every_tab_renders(client_as, supervisor, citizen, topic_a, make_case, view):
    make_case(citizen, topic_a)
    response = client_as(supervisor).get(HOME, {"vue": view})
    assert response.status_code == 200


def test_rows_deadline_and_age_read_as_the_template_filters_wrote_them(
    agent_a, citizen, topic_a, make_case
):
    from datetime import UTC, datetime

    from django.template.defaultfilters import date as date_filter
    from django.template.defaultfilters import timesince_filter
    from django.utils import timezone, translation

    from console import worklist

    case = make_case(citizen, topic_a, subject="Échéance")
    deadline = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 in Paris, before summer time
    now = deadline + timedelta(days=2, hours=3)
    Case.objects.filter(pk=case.pk).update(sla_deadline=deadline, created_at=deadline)
    for language in ("fr", "en"):
        with translation.override(language):
            row = worklist.present_cases([Case.objects.get(pk=case.pk)], agent_a, now)[0]
            local = timezone.localtime(deadline)
            assert row.deadline_text == date_filter(local, "SHORT_DATETIME_FORMAT")
            assert row.age_text == timesince_filter(deadline, now)
    assert row.deadline_text == "29/03/2026 01:30" and row.age_text.startswith("2")
    Case.objects.filter(pk=case.pk).update(sla_deadline=None)
    assert worklist.present_cases([Case.objects.get(pk=case.pk)], agent_a)[0].deadline_text == ""
