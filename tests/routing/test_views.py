"""Status widget, supervisor live view, agent management and reassignment pages."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory

import routing
from contactcenter.models import Case
from routing.models import AgentPresence

from .conftest import make_case, set_available


def test_status_widget_renders_for_agent(client_as, agent_a):
    response = client_as(agent_a).get("/routage/statut/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="status"' in html and "Mon statut" in html
    assert '<option value="offline" selected>' in html
    assert "data-routing-presence" in html


def test_status_widget_post_changes_status_htmx(client_as, agent_a):
    response = client_as(agent_a).post(
        "/routage/statut/", {"status": "available"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert AgentPresence.objects.get(pk=agent_a.pk).status == "available"
    assert "Votre statut : Disponible." in response.content.decode()


def test_status_widget_post_without_htmx_redirects_back(client_as, agent_a):
    response = client_as(agent_a).post(
        "/routage/statut/", {"status": "paused", "next": "/console/"}
    )
    assert response.status_code == 302 and response["Location"] == "/console/"
    response = client_as(agent_a).post(
        "/routage/statut/", {"status": "paused", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_status_widget_rejects_unknown_status(client_as, agent_a):
    response = client_as(agent_a).post(
        "/routage/statut/", {"status": "busy"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choisissez disponible, en pause ou hors ligne." in html
    assert 'aria-invalid="true" aria-describedby="routing-status-messages"' in html
    assert 'class="fr-select-group fr-mb-0 fr-select-group--error"' in html


@pytest.mark.parametrize("who", ["citizen", "supervisor"])
def test_status_widget_is_for_agents_only(client_as, request, who):
    assert client_as(request.getfixturevalue(who)).get("/routage/statut/").status_code == 403


def test_status_widget_include_works_in_any_page_context(agent_a):
    request = RequestFactory().get("/console/")
    request.user = agent_a
    html = Template('{% include "routing/_status_widget.html" %}').render(
        Context({"user": agent_a, "request": request, "form": object()})
    )
    assert 'id="routing-status-widget"' in html
    assert "Hors ligne" in html


def test_supervision_is_for_supervisors(client_as, agent_a, citizen, supervisor):
    assert client_as(agent_a).get("/supervision/").status_code == 403
    assert client_as(citizen).get("/supervision/").status_code == 403
    assert client_as(supervisor).get("/supervision/").status_code == 200


def test_supervision_shows_queues_and_agents(
    client_as, supervisor, agent_a, agent_b, citizen, citizen2, topic_a, topic_b
):
    make_case(citizen, topic_a)
    make_case(citizen, topic_a, channel="chat")
    make_case(citizen2, topic_b)
    presence = set_available(agent_a, chat=1)
    routing.take_case(agent_a, make_case(citizen, topic_a, channel="chat"))
    response = client_as(supervisor).get("/supervision/")
    html = response.content.decode()
    context = response.context
    queue = next(q for q in context["queues"] if q.service == topic_a.service)
    assert queue.waiting == 2
    assert queue.oldest_wait is not None
    assert [row.agent for row in context["agents"]] == [agent_a]  # not agent_b (service B)
    row = context["agents"][0]
    assert row.loads["chat"] == 1 and row.capacities["chat"] == 1
    assert row.status == "busy"
    assert "Occupé" in html
    assert agent_b.display_name not in html
    assert 'src="/static/routing/js/supervision.js"' in html
    assert presence.pk == agent_a.pk


def test_supervision_live_partial(client_as, supervisor):
    response = client_as(supervisor).get("/supervision/direct/")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()


def test_supervisor_changes_agent_status_and_capacity(client_as, supervisor, agent_a):
    client = client_as(supervisor)
    response = client.post(
        f"/supervision/agents/{agent_a.pk}/", {"action": "status", "st-status": "paused"}
    )
    assert response.status_code == 302
    assert AgentPresence.objects.get(pk=agent_a.pk).status == "paused"
    response = client.post(
        f"/supervision/agents/{agent_a.pk}/",
        {
            "action": "capacity",
            "cap-capacity_chat": 4,
            "cap-capacity_phone": 2,
            "cap-capacity_web": 20,
        },
    )
    assert response.status_code == 302
    presence = AgentPresence.objects.get(pk=agent_a.pk)
    assert (presence.capacity_chat, presence.capacity_phone, presence.capacity_web) == (4, 2, 20)


def test_capacity_out_of_bounds_is_refused_with_typed_values(client_as, supervisor, agent_a):
    response = client_as(supervisor).post(
        f"/supervision/agents/{agent_a.pk}/",
        {
            "action": "capacity",
            "cap-capacity_chat": 11,
            "cap-capacity_phone": 1,
            "cap-capacity_web": "x",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "La capacité est de 10 au maximum sur ce canal." in html
    assert "Saisissez un nombre entier." in html
    assert 'value="11"' in html
    assert AgentPresence.objects.get(pk=agent_a.pk).capacity_chat == 2


def test_supervisor_of_other_service_gets_404_on_agent(client_as, supervisor, agent_b):
    assert client_as(supervisor).get(f"/supervision/agents/{agent_b.pk}/").status_code == 404


def test_reassign_page_and_post(
    client_as, supervisor, agent_a, citizen, topic_a, service_a, skill_a
):
    from ..conftest import make_staff

    other = make_staff("agent.c@guichet.example.fr", "agent", [service_a], [skill_a], first="Chloé")
    case = make_case(citizen, topic_a)
    routing.take_case(agent_a, case)
    client = client_as(supervisor)
    page = client.get(f"/supervision/demandes/{case.pk}/reattribuer/")
    assert page.status_code == 200
    assert other.display_name in page.content.decode()
    response = client.post(f"/supervision/demandes/{case.pk}/reattribuer/", {"agent": other.pk})
    assert response.status_code == 302, response.context["form"].errors
    case.refresh_from_db()
    assert case.assigned_to == other


def test_reassign_refusal_is_shown_on_the_form(
    client_as, supervisor, agent_a, citizen, topic_a, service_a, skill_a
):
    from ..conftest import make_staff

    other = make_staff("agent.c@guichet.example.fr", "agent", [service_a], [skill_a])
    AgentPresence.objects.create(user=other, capacity_web=0)
    case = make_case(citizen, topic_a)
    response = client_as(supervisor).post(
        f"/supervision/demandes/{case.pk}/reattribuer/", {"agent": other.pk}
    )
    assert response.status_code == 400
    assert "Capacité atteinte" in response.content.decode()
    assert Case.objects.get(pk=case.pk).assigned_to is None


def test_reassign_case_of_other_service_is_404(client_as, supervisor, citizen2, topic_b):
    case = make_case(citizen2, topic_b)
    assert (
        client_as(supervisor).get(f"/supervision/demandes/{case.pk}/reattribuer/").status_code
        == 404
    )


def test_nav_shows_supervision_to_supervisors_only(client_as, supervisor, agent_a):
    assert 'href="/supervision/"' in client_as(supervisor).get("/supervision/").content.decode()
    page = client_as(agent_a).get("/routage/statut/")
    assert 'href="/supervision/"' not in page.content.decode()


def test_queue_position_api(client_as, citizen, citizen2, topic_a):
    case = make_case(citizen, topic_a, channel="chat")
    response = client_as(citizen).get(f"/api/routing/cases/{case.pk}/position/")
    assert response.json() == {"position": 1, "estimated_wait": None}
    assert client_as(citizen2).get(f"/api/routing/cases/{case.pk}/position/").status_code == 404


def test_live_view_counts_breaches_and_at_risk(supervisor, citizen, topic_a):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    late = make_case(citizen, topic_a)
    risky = make_case(citizen, topic_a)
    fine = make_case(citizen, topic_a)
    Case.objects.filter(pk=late.pk).update(sla_deadline=now - timedelta(minutes=5))
    Case.objects.filter(pk=risky.pk).update(
        created_at=now - timedelta(hours=10), sla_deadline=now + timedelta(hours=1)
    )
    Case.objects.filter(pk=fine.pk).update(sla_deadline=now + timedelta(days=2))
    queue = routing.live_view(supervisor, now)["queues"][0]
    assert (queue.waiting, queue.breached, queue.at_risk) == (3, 1, 1)


def test_supervisor_sets_skills_and_unknown_skill_is_refused(
    client_as, supervisor, agent_a, topic_a, skill_a, skill_b
):
    import routing

    client = client_as(supervisor)
    response = client.post(
        f"/supervision/agents/{agent_a.pk}/", {"action": "skills", "sk-skills": ["inconnue"]}
    )
    assert response.status_code == 400
    assert "Compétence inconnue : « inconnue »." in response.content.decode()
    assert list(agent_a.agent_profile.skills.all()) == [skill_a]
    response = client.post(f"/supervision/agents/{agent_a.pk}/", {"action": "skills"})
    assert response.status_code == 302
    assert list(agent_a.agent_profile.skills.all()) == []
    import pytest
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        routing.set_agent_skills(agent_a, ["sante"], by=supervisor)  # service B's skill
    assert "ne relève pas de vos services" in exc.value.message_dict["skills"][0]
    with pytest.raises(ValidationError) as exc:
        routing.set_agent_skills(agent_a, ["nope"], by=supervisor)
    assert exc.value.message_dict["skills"] == ["Compétence inconnue : « nope »."]


def test_live_view_counts_waiting_contacts_and_oldest_wait_per_queue(supervisor, citizen, topic_a):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    now = timezone.now()

    def queue_of(n):
        for i in range(n):
            case = make_case(citizen, topic_a)
            Case.objects.filter(pk=case.pk).update(created_at=now - timedelta(minutes=i + 1))
        with CaptureQueriesContext(connection) as queries:
            view = routing.live_view(supervisor, now=now)
        row = next(q for q in view["queues"] if q.service == topic_a.service)
        return row, len(queries)

    queue_of(0)  # warms what the view caches (calendars)
    row, small = queue_of(3)
    assert row.waiting == 3 and row.oldest_wait == timedelta(minutes=3)
    row, large = queue_of(40)  # 43 waiting: the oldest is now 40 minutes old
    assert row.waiting == 43 and row.oldest_wait == timedelta(minutes=40)
    assert large == small  # the query count does not grow with the queue
