""" "Joindre ma simulation": the simulation becomes a secure-messaging request, once, for the
citizen who ran it; an anonymous visitor logs in first and keeps the simulation."""

import pytest
from django.test import Client
from django.urls import reverse

from contactcenter.models import Case, Event
from simulators.views import PENDING
from tests.conftest import make_user

SIMULATION = "situation=couple&children=2&other_income=60000&disabled_1=on"
ATTACH = "/simulateurs/impot-sur-le-revenu/joindre/"


@pytest.fixture(autouse=True)
def _no_sheets(monkeypatch):
    from simulators import views

    monkeypatch.setattr(views, "search_articles", lambda *a, **k: [])


def test_the_result_offers_to_attach_it(db, topic_a):
    html = Client().get(f"{reverse('simulators:income_tax')}?{SIMULATION}").content.decode()
    assert 'id="attach-simulation"' in html
    assert 'name="simulation" value="situation=couple&amp;children=2' in html


def test_no_button_without_the_tax_topic(db):
    html = Client().get(f"{reverse('simulators:income_tax')}?{SIMULATION}").content.decode()
    assert "Impôt net estimé" in html
    assert 'id="attach-simulation"' not in html


def test_a_citizen_attaches_once(client_as, citizen, topic_a):
    client = client_as(citizen)
    response = client.post(ATTACH, {"simulation": SIMULATION})
    case = Case.objects.get(citizen=citizen)
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:case_detail", args=[case.reference])
    assert (case.topic, case.kind, case.channel) == (topic_a, "question", "web")
    first = Event.objects.get(case=case)
    assert first.payload["source"] == "simulator"
    assert "- Marié(e) ou pacsé(e)" not in first.body  # the label, then the choice
    assert "- Votre situation : Marié(e) ou pacsé(e)" in first.body
    assert "- Enfants à charge : 2" in first.body
    assert "carte mobilité inclusion « invalidité » (case P) : oui" in first.body
    assert "Nombre de parts : 3,5" in first.body or "Nombre de parts : 3.5" in first.body
    assert "OpenFisca-France" in first.body
    # A second click (or a reload of the POST) returns the same request.
    again = client.post(ATTACH, {"simulation": SIMULATION})
    assert again["Location"] == response["Location"]
    assert Case.objects.filter(citizen=citizen).count() == 1
    # Other inputs: another request.
    client.post(ATTACH, {"simulation": "situation=single&other_income=30000"})
    assert Case.objects.filter(citizen=citizen).count() == 2


def test_each_citizen_attaches_their_own(client_as, citizen, citizen2, topic_a):
    client_as(citizen).post(ATTACH, {"simulation": SIMULATION})
    client_as(citizen2).post(ATTACH, {"simulation": SIMULATION})
    assert Case.objects.filter(citizen=citizen).count() == 1
    assert Case.objects.filter(citizen=citizen2).count() == 1


def test_an_anonymous_visitor_logs_in_and_keeps_the_simulation(citizen, topic_a):
    client = Client()
    response = client.post(ATTACH, {"simulation": SIMULATION})
    assert response.status_code == 302
    assert (
        response["Location"]
        == f"{reverse('login')}?next=%2Fsimulateurs%2Fimpot-sur-le-revenu%2Fjoindre%2F"
    )
    assert client.session[PENDING] == SIMULATION
    assert not Case.objects.exists()
    client.force_login(citizen)  # a new session key, the same data
    page = client.get(ATTACH)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Enfants à charge : 2" in html and "Impôt net : " in html
    done = client.post(ATTACH, {"simulation": SIMULATION})
    case = Case.objects.get(citizen=citizen)
    assert done["Location"] == reverse("messaging:case_detail", args=[case.reference])
    assert PENDING not in client.session
    # Nothing kept: the page now sends back to the simulator.
    assert client.get(ATTACH)["Location"] == reverse("simulators:income_tax")


def test_csrf_staff_and_bad_input(citizen, topic_a):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(citizen)
    assert strict.post(ATTACH, {"simulation": SIMULATION}).status_code == 403
    agent = make_user("agent.simu@example.fr", "agent")
    staff = Client()
    staff.force_login(agent)
    assert staff.post(ATTACH, {"simulation": SIMULATION}).status_code == 403
    citizen_client = Client()
    citizen_client.force_login(citizen)
    bad = citizen_client.post(ATTACH, {"simulation": "situation=single&children=-1"})
    assert bad.status_code == 400
    assert not Case.objects.exists()


def test_without_the_topic_nothing_is_opened(client_as, citizen, topic_a):
    topic_a.is_active = False
    topic_a.save()
    response = client_as(citizen).post(ATTACH, {"simulation": SIMULATION}, follow=True)
    assert "ne sont pas ouvertes en ligne" in response.content.decode()
    assert not Case.objects.exists()


def test_the_kept_simulation_page_in_english(client_as, citizen, topic_a):
    client = client_as(citizen)
    client.cookies["django_language"] = "en"
    session = client.session
    session[PENDING] = SIMULATION
    session.save()
    html = client.get(ATTACH).content.decode()
    assert '<html lang="en"' in html
    for text in ("Attach my simulation to a request", "What you entered", "Dependent children"):
        assert text in html, text
    page = client.get(f"{reverse('simulators:income_tax')}?{SIMULATION}").content.decode()
    assert "Computed with OpenFisca-France" in page


def test_the_chosen_year_goes_with_the_simulation(client_as, citizen, topic_a):
    from simulators.openfisca import covered_years

    year = covered_years()[0]
    client_as(citizen).post(ATTACH, {"simulation": f"{SIMULATION}&year={year}"})
    case = Case.objects.get(citizen=citizen)
    assert case.subject == f"Ma simulation de l'impôt sur le revenu {year}"
