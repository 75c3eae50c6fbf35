"""Recording a phone, counter, e-mail or letter contact."""

import pytest
from django.core.exceptions import ValidationError

from console import worklist as console
from contactcenter.models import Case, Event
from contactcenter.services import citizen_history

SEARCH = "/console/contacts/nouveau/"


def new_url(citizen):
    return f"/console/contacts/nouveau/{citizen.pk}/"


@pytest.mark.parametrize(
    "query",
    [
        "Benali",
        "aïcha benali",
        "aicha.benali@example",
        "1234567890123",
        "2841275123456",
        "284127512345678",
        "2 84 12 75 123 456 78",
    ],
)
def test_find_citizen_by_name_email_tax_or_social_number(citizen3, citizen, query):
    assert console.find_citizens(query) == [citizen3]


def test_find_citizen_by_case_reference(citizen, citizen2, case_a):
    assert console.find_citizens(case_a.reference) == [citizen]


def test_search_never_returns_staff(agent_a):
    assert console.find_citizens("Alice") == []


def test_too_short_query_is_refused(citizen):
    with pytest.raises(ValidationError):
        console.find_citizens("a")


def test_search_page_lists_matches_with_choose_links(client_as, agent_a, citizen3):
    response = client_as(agent_a).get(SEARCH, {"q": "Benali"})
    assert response.status_code == 200
    html = response.content.decode()
    assert new_url(citizen3) in html
    assert "1 usager trouvé" in html


def test_unknown_citizen_gets_clear_error_and_search_again(client_as, agent_a, citizen):
    response = client_as(agent_a).get(SEARCH, {"q": "Inconnu"})
    assert response.status_code == 404
    html = response.content.decode()
    assert "Aucun usager ne correspond à « Inconnu »" in html
    # The form is shown again with what was typed.
    assert 'value="Inconnu"' in html and 'aria-invalid="true"' in html


def test_unknown_citizen_id_offers_to_search_again(client_as, agent_a, agent_b):
    for bad in (999999, agent_b.pk):  # nobody, or not a citizen
        response = client_as(agent_a).get(f"/console/contacts/nouveau/{bad}/")
        assert response.status_code == 404
        html = response.content.decode()
        assert "Usager introuvable" in html
        assert 'name="q"' in html


def test_record_phone_contact_as_new_case_routed_to_competent_service(
    client_as, agent_a, citizen, topic_b, django_capture_on_commit_callbacks
):
    from contactcenter.signals import case_needs_routing

    routed = []

    def receiver(sender, case_id, **kwargs):
        routed.append(case_id)

    case_needs_routing.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client_as(agent_a).post(
                new_url(citizen),
                {
                    "channel": "phone",
                    "case": "new",
                    "topic": topic_b.pk,
                    "kind": "question",
                    "summary": "Appel : carte Vitale perdue, veut savoir comment la remplacer.",
                },
            )
    finally:
        case_needs_routing.disconnect(receiver)
    case = Case.objects.get(citizen=citizen)
    assert case.channel == "phone" and case.service == topic_b.service
    assert case.status == Case.Status.NEW and not case.resolved_first_contact
    assert routed == [case.pk]
    event = Event.objects.get(case=case)
    assert event.type == Event.Type.CONTACT and event.actor == agent_a and not event.internal
    assert case.subject.startswith("Appel : carte Vitale perdue")
    # Another service's case: the agent lands on the citizen's sheet, not a 404.
    assert response.status_code == 302
    assert response.url == f"/console/usagers/{citizen.pk}/"
    assert event in citizen_history(citizen)


def test_resolved_at_first_contact_creates_a_closed_answered_case(
    client_as, agent_a, citizen, topic_a
):
    response = client_as(agent_a).post(
        new_url(citizen),
        {
            "channel": "counter",
            "case": "new",
            "topic": topic_a.pk,
            "kind": "question",
            "subject": "Renseignement",
            "summary": "Formulaire remis en main propre.",
            "resolved": "on",
        },
    )
    case = Case.objects.get(citizen=citizen)
    assert response.url == f"/console/demandes/{case.reference}/"
    assert case.status == Case.Status.CLOSED
    assert case.resolution == Case.Resolution.ANSWERED
    assert case.resolved_first_contact and case.closed_at and case.first_response_at
    assert case.assigned_to == agent_a
    assert case.subject == "Renseignement"


def test_contact_attached_to_an_existing_case_resumes_a_waiting_case(
    client_as, agent_a, case_a, citizen
):
    Case.objects.filter(pk=case_a.pk).update(status=Case.Status.WAITING_CITIZEN)
    response = client_as(agent_a).post(
        new_url(citizen),
        {"channel": "letter", "case": str(case_a.pk), "summary": "Courrier reçu avec le bail."},
    )
    assert response.status_code == 302
    assert response.url == f"/console/demandes/{case_a.reference}/"
    event = Event.objects.get(case=case_a, type=Event.Type.CONTACT)
    assert event.channel == "letter"
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.IN_PROGRESS
    assert Case.objects.filter(citizen=citizen).count() == 1


def test_cannot_attach_to_a_case_of_another_citizen_or_service(
    client_as, agent_a, citizen, case_b, case_a
):
    response = client_as(agent_a).post(
        new_url(citizen), {"channel": "phone", "case": str(case_b.pk), "summary": "x"}
    )
    assert response.status_code == 400
    assert not Event.objects.filter(type=Event.Type.CONTACT).exists()


def test_missing_fields_get_precise_errors_and_keep_the_summary(client_as, agent_a, citizen):
    response = client_as(agent_a).post(
        new_url(citizen), {"channel": "fax", "case": "new", "summary": "Résumé saisi"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choisissez le thème de la nouvelle demande." in html
    assert "Sélectionnez un choix valide" in html  # channel "fax"
    assert "Résumé saisi" in html
    assert not Case.objects.filter(citizen=citizen).exists()


def test_contact_form_offers_only_cases_the_agent_may_act_on(
    client_as, agent_a, citizen, case_a, topic_b, make_case
):
    other_service = make_case(citizen, topic_b, subject="Santé")
    form = client_as(agent_a).get(new_url(citizen)).context["form"]
    values = [value for value, _label in form.fields["case"].choices]
    assert values == ["new", str(case_a.pk)]
    assert str(other_service.pk) not in values


def test_recorded_contact_appears_in_citizen_history_page(client_as, agent_a, citizen, topic_a):
    console.record_contact(
        agent=agent_a,
        citizen=citizen,
        channel="phone",
        topic=topic_a,
        summary="Appel du 12",
        resolved=True,
    )
    html = client_as(citizen).get("/espace/historique/").content.decode()
    assert "Contact enregistré" in html and "Téléphone" in html
