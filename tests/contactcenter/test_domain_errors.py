"""Services raise domain errors (contactcenter.exceptions); views and the API translate them."""

import pytest
from django.http import Http404
from django.urls import reverse

from contactcenter.api import exception_handler
from contactcenter.exceptions import DomainError, InvalidState, NotAllowed, NotFound
from contactcenter.permissions import get_case_or_404, get_visible_case
from knowledge import services as knowledge

pytestmark = pytest.mark.django_db

ARTICLE = "/faq/articles/passeport-demande/"


def test_domain_errors_share_a_base_and_carry_their_message():
    for error, status in ((NotFound, 404), (NotAllowed, 403), (InvalidState, 409)):
        exc = error("Demande introuvable")
        assert isinstance(exc, DomainError) and exc.status == status
        assert str(exc) == exc.message == "Demande introuvable"


def test_services_raise_not_found_never_http404(citizen, citizen2, case_b):
    with pytest.raises(NotFound, match="Conversation introuvable") as caught:
        knowledge.get_conversation(citizen, 999999)
    assert not isinstance(caught.value, Http404)
    with pytest.raises(NotFound, match="Relais inconnu"):
        knowledge.record_handoff(citizen, 1, "fax")
    with pytest.raises(NotFound, match="Demande introuvable"):
        get_visible_case(citizen, pk=case_b.pk)
    assert get_visible_case(citizen2, pk=case_b.pk) == case_b


def test_view_helper_still_answers_404(citizen, case_b):
    with pytest.raises(Http404, match="Demande introuvable"):
        get_case_or_404(citizen, pk=case_b.pk)


@pytest.mark.parametrize(
    "error, status",
    [(NotFound, 404), (NotAllowed, 403), (InvalidState, 409)],
)
def test_views_translate_domain_errors(client_as, citizen, monkeypatch, error, status):
    def refuse(slug, user=None):
        raise error("Refusé pour la démonstration")

    monkeypatch.setattr(knowledge, "get_article", refuse)
    response = client_as(citizen).get(ARTICLE)
    assert response.status_code == status
    if status == 409:
        assert response.content.decode() == "Refusé pour la démonstration"
    else:  # the DSFR error pages
        assert f"{status}.html" in [t.name for t in response.templates]


def test_api_answers_a_not_found_service_error_in_its_one_format(client_as, citizen):
    url = reverse("knowledge:api_chatbot_rating", args=[999999])
    response = client_as(citizen).post(url, {"value": 1}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Réponse introuvable"}


def test_api_handler_maps_each_domain_error():
    forbidden = exception_handler(NotAllowed("Action réservée au superviseur."), {})
    assert forbidden.status_code == 403
    assert forbidden.data == {"detail": "Action réservée au superviseur."}
    missing = exception_handler(NotFound("Demande introuvable"), {})
    assert missing.status_code == 404 and missing.data == {"detail": "Demande introuvable"}
    conflict = exception_handler(InvalidState("La demande est déjà clôturée."), {})
    assert conflict.status_code == 409
    assert conflict.data == {
        "detail": "La demande est déjà clôturée.",
        "errors": {"non_field_errors": ["La demande est déjà clôturée."]},
    }
