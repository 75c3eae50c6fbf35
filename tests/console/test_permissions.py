"""Permission matrix of the console: anonymous, citizen, agents of each service, supervisor."""

import pytest

from contactcenter.models import AuditLog, Case, Event, Transfer

CASE_GETS = ["", "?motif=x"]
CASE_POSTS = {
    "prendre": {},
    "liberer": {},
    "attribuer": {"agent": "0"},
    "repondre": {"body": "Réponse", "action": "reply"},
    "note": {"body": "Note"},
    "cloturer": {"resolution": "answered"},
    "rouvrir": {},
    "reclasser": {"topic": "0", "kind": "claim"},
    "transferer": {"to_service": "0", "reason": "x"},
    "motif": {"acces": "0", "motif": "x"},
}
OTHER_GETS = [
    "/console/",
    "/console/contacts/nouveau/",
    "/console/contacts/nouveau/{citizen}/",
    "/console/usagers/{citizen}/",
]


def case_url(case, action=""):
    return f"/console/demandes/{case.reference}/" + (f"{action}/" if action else "")


@pytest.mark.parametrize("suffix", CASE_GETS)
def test_anonymous_is_sent_to_login(client, case_a, suffix):
    response = client.get(case_url(case_a) + suffix)
    assert response.status_code == 302 and response.url.startswith("/connexion/")


@pytest.mark.parametrize("path", OTHER_GETS)
def test_anonymous_is_sent_to_login_everywhere(client, citizen, path):
    response = client.get(path.format(citizen=citizen.pk))
    assert response.status_code == 302 and response.url.startswith("/connexion/")


@pytest.mark.parametrize("path", OTHER_GETS)
def test_citizen_is_forbidden_in_the_console(client_as, citizen, path):
    assert client_as(citizen).get(path.format(citizen=citizen.pk)).status_code == 403


def test_citizen_cannot_open_own_case_in_the_console(client_as, citizen, case_a):
    assert client_as(citizen).get(case_url(case_a)).status_code == 403


@pytest.mark.parametrize("suffix", CASE_GETS)
def test_agent_of_other_service_gets_404_on_case_view(client_as, agent_b, case_a, suffix):
    assert client_as(agent_b).get(case_url(case_a) + suffix).status_code == 404
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("action", list(CASE_POSTS))
def test_agent_of_other_service_gets_404_on_every_case_action(
    client_as, agent_b, case_a, topic_b, action
):
    data = dict(CASE_POSTS[action])
    if action == "transferer":
        data["to_service"] = str(topic_b.service_id)
    before = (Event.objects.count(), Transfer.objects.count())
    response = client_as(agent_b).post(case_url(case_a, action), data)
    assert response.status_code == 404
    case_a.refresh_from_db()
    assert case_a.assigned_to is None and case_a.status == Case.Status.NEW
    assert (Event.objects.count(), Transfer.objects.count()) == before


@pytest.mark.parametrize("action", list(CASE_POSTS))
def test_citizen_is_forbidden_on_every_case_action(client_as, citizen, case_a, action):
    assert client_as(citizen).post(case_url(case_a, action), CASE_POSTS[action]).status_code == 403


@pytest.mark.parametrize("user", ["agent_a", "supervisor", "admin_user"])
def test_staff_of_the_service_and_admin_open_the_case(request, client_as, case_a, user):
    person = request.getfixturevalue(user)
    assert client_as(person).get(case_url(case_a)).status_code == 200
    assert AuditLog.objects.filter(actor=person, case=case_a).count() == 1


def test_supervisor_of_other_service_gets_404(client_as, supervisor, case_b):
    assert client_as(supervisor).get(case_url(case_b)).status_code == 404


def test_case_lists_never_show_other_services(client_as, agent_b, supervisor, case_a, case_b):
    for view in ("mine", "queue", "team"):
        refs = [
            c.reference for c in client_as(agent_b).get("/console/", {"vue": view}).context["cases"]
        ]
        assert case_a.reference not in refs
        refs = [
            c.reference
            for c in client_as(supervisor).get("/console/", {"vue": view}).context["cases"]
        ]
        assert case_b.reference not in refs


def test_agent_of_other_service_sees_sheet_without_the_other_services_cases(
    client_as, agent_b, citizen, case_a
):
    response = client_as(agent_b).get(f"/console/usagers/{citizen.pk}/")
    assert response.status_code == 200
    sheet = response.context["sheet"]
    assert sheet.open_cases == [] and sheet.other_cases_count == 1
    assert response.context["page"].events == []
    html = response.content.decode()
    assert case_a.reference not in html and case_a.subject not in html


def test_agent_cannot_attach_contact_to_other_service_case(client_as, agent_b, citizen, case_a):
    response = client_as(agent_b).post(
        f"/console/contacts/nouveau/{citizen.pk}/",
        {"channel": "phone", "case": str(case_a.pk), "summary": "x"},
    )
    assert response.status_code == 400
    assert not Event.objects.filter(type="contact").exists()


def test_pending_named_transfer_gives_access_until_accepted(
    client_as, agent_a, agent_b, case_b, service_a
):
    from contactcenter import cases

    # Bruno (service B) names Alice (service A) as the recipient.
    cases.transfer_case(
        case_b, to_service=service_a, reason="Pour Alice", by=agent_b, to_agent=agent_a
    )
    assert client_as(agent_a).get(case_url(case_b)).status_code == 200
    assert client_as(agent_b).get(case_url(case_b)).status_code == 404


def test_get_on_action_urls_is_not_allowed(client_as, agent_a, case_a):
    for action in CASE_POSTS:
        assert client_as(agent_a).get(case_url(case_a, action)).status_code == 405


@pytest.mark.parametrize("user", ["agent_a", "agent_b", "supervisor", "admin_user"])
def test_every_work_tab_is_a_subset_of_visible_cases(
    request, user, citizen, citizen2, topic_a, topic_b, service_a, agent_a, agent_b
):
    """The work lists use plain indexed conditions; they must never widen what a user sees."""
    from console import worklist as console
    from contactcenter import cases
    from contactcenter.permissions import visible_cases
    from tests.console.conftest import new_case

    person = request.getfixturevalue(user)
    new_case(citizen, topic_a, assigned_to=agent_a)
    new_case(citizen2, topic_b, assigned_to=agent_b)
    new_case(citizen, topic_a)
    new_case(citizen2, topic_b)
    moved = new_case(citizen, topic_b, assigned_to=agent_b)
    cases.transfer_case(moved, to_service=service_a, reason="x", by=agent_b, to_agent=agent_a)
    # An agent who once owned a case that left their services keeps no access through it.
    stale = new_case(citizen2, topic_b)
    Case.objects.filter(pk=stale.pk).update(assigned_to=agent_a)
    visible = set(visible_cases(person).values_list("pk", flat=True))
    for view in console.VIEWS:
        scope = set(console.view_scope(person, view).values_list("pk", flat=True))
        assert scope <= visible, (view, scope - visible)
    if person == agent_a:
        mine = set(console.view_scope(person, "mine").values_list("pk", flat=True))
        assert moved.pk in mine and stale.pk not in mine
