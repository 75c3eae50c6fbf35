"""Error pages: DSFR layout in the visitor's language, a way back, the contact options; the 500
page renders with the database unavailable; the CSRF failure page is one of them."""

import pytest
from django.test import Client
from django.urls import reverse

CONTACTS = ["/espace/demandes/nouvelle/", "/tchat/nouveau/", "/rappel/nouveau/", "/assistant/"]
FRENCH = {
    404: ("Page non trouvée", "Erreur 404"),
    403: ("Accès refusé", "Erreur 403"),
    500: ("Erreur inattendue", "Erreur 500"),
    "csrf": ("Formulaire expiré", "Erreur 403"),
}
ENGLISH = {
    404: ("Page not found", "Error 404"),
    403: ("Access denied", "Error 403"),
    500: ("Unexpected error", "Error 500"),
    "csrf": ("Form expired", "Error 403"),
}


def client_in(language: str, **kwargs) -> Client:
    client = Client(**kwargs)
    if language == "en":
        client.cookies["django_language"] = "en"
    return client


def assert_error_page(response, status, language, texts):
    assert response.status_code == status
    html = response.content.decode()
    assert f'<html lang="{language}"' in html
    assert 'class="fr-header"' in html and 'class="fr-footer"' in html
    assert "/static/vendor/dsfr/dsfr.min.css" in html
    heading, code = texts
    assert f"<h1>{heading}</h1>" in html
    assert code in html
    assert f'class="fr-btn" href="{reverse("home")}"' in html  # the way back
    for url in CONTACTS:
        assert f'href="{url}"' in html
    other = ENGLISH if language == "fr" else FRENCH
    assert all(text not in html for pair in other.values() for text in pair if text != code)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.django_db
def test_404_page(language):
    response = client_in(language).get("/nulle-part/")
    assert_error_page(response, 404, language, (FRENCH if language == "fr" else ENGLISH)[404])


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.django_db
def test_403_page(language, agent_a):
    client = client_in(language)
    client.force_login(agent_a)
    response = client.get(reverse("routing:callback_new"))
    assert_error_page(response, 403, language, (FRENCH if language == "fr" else ENGLISH)[403])


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.django_db
def test_csrf_failure_page(language, citizen):
    client = client_in(language, enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": citizen.email, "password": "x"})
    texts = (FRENCH if language == "fr" else ENGLISH)["csrf"]
    assert_error_page(response, 403, language, texts)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_500_page_renders_with_the_database_unavailable(language):
    # No django_db mark: pytest-django makes every database access raise. The session cookie
    # makes the login check read the session from the database, which fails: a 500.
    client = client_in(language, raise_request_exception=False)
    client.cookies["sessionid"] = "x" * 32
    response = client.get(reverse("messaging:space"))
    assert_error_page(response, 500, language, (FRENCH if language == "fr" else ENGLISH)[500])


def test_favicon_is_the_dsfr_icon_not_a_404(db, client):
    # db: with PostgreSQL's pool, every request takes its connection first.
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("vendor/dsfr/favicon/favicon.ico")
    assert client.get(response["Location"]).status_code == 200
