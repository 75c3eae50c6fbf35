"""An account FranceConnect created (no password) changes its e-mail address: a new
FranceConnect login, with the same identity, stands for the password; then the signed link
to the new address. Against the real provider process (tests/oidc_provider)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from accounts import oidc
from contactcenter.models import User
from tests.oidc_provider import CITIZEN2_SUB, CITIZEN_SUB

from .test_oidc import (  # noqa: F401 (fixtures)
    FC_EMAIL,
    SITE,
    at_provider,
    callback,
    fc_provider,
    logged_in_user,
    login_with,
    pc_provider,
    providers,
)

NEW_EMAIL = "angela.nouvelle@example.fr"
PAGE = reverse("accounts:email_change")


@pytest.fixture
def fc_citizen(client, providers):  # noqa: F811
    """A citizen whose account FranceConnect created: a real address, no password."""
    login_with(client, "franceconnect", CITIZEN_SUB)
    response = client.post("/compte/franceconnect/bienvenue/", {"create": ""})
    assert response.status_code == 302
    user = logged_in_user(client)
    assert user.email == FC_EMAIL and not user.has_usable_password()
    return user


def ask_change(client, email: str = NEW_EMAIL) -> str:
    page = client.get(PAGE).content.decode()
    assert 'name="current_password"' not in page and "Confirmer avec FranceConnect" in page
    response = client.post(PAGE, {"email": email})
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def test_a_franceconnect_login_stands_for_the_password(
    client, fc_citizen, mailoutbox, django_capture_on_commit_callbacks
):
    to_provider = ask_change(client)
    query = parse_qs(urlparse(to_provider).query)
    # The person authenticates again at FranceConnect, with the usual checks.
    assert query["prompt"] == ["login"] and query["acr_values"] == ["eidas1"]
    assert query["code_challenge_method"] == ["S256"] and query["nonce"][0]
    assert mailoutbox == []  # nothing is sent before the provider vouched
    back = at_provider(to_provider, CITIZEN_SUB)
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, back)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:account")
    assert oidc.EMAIL_REAUTH_KEY not in client.session
    assert logged_in_user(client) == fc_citizen
    assert [m.to for m in mailoutbox] == [[NEW_EMAIL]]
    fc_citizen.refresh_from_db()
    assert fc_citizen.email == FC_EMAIL  # until the link is opened
    link = re.search(r"https?://\S+", mailoutbox[0].body).group(0).removeprefix(SITE)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(link).status_code == 302
    fc_citizen.refresh_from_db()
    assert fc_citizen.email == fc_citizen.username == NEW_EMAIL
    # The former address is told.
    assert [m.to for m in mailoutbox[1:]] == [[FC_EMAIL]]
    # The code of that login was used once: replaying the callback changes nothing.
    assert callback(client, back).status_code == 400


def test_another_franceconnect_identity_changes_nothing(
    client, fc_citizen, mailoutbox, django_capture_on_commit_callbacks, caplog
):
    back = at_provider(ask_change(client), CITIZEN2_SUB)
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, back)
    assert response.status_code == 403
    assert "n&#x27;est pas celle de votre compte" in response.content.decode()
    assert "e-mail change refused" in caplog.text
    assert mailoutbox == []
    # Still logged in as themselves; nobody was logged in nor linked as the other identity.
    assert logged_in_user(client) == fc_citizen
    assert not User.objects.filter(oidc_identities__sub=CITIZEN2_SUB).exists()
    fc_citizen.refresh_from_db()
    assert fc_citizen.email == FC_EMAIL


def test_a_stale_request_is_refused(
    client, fc_citizen, mailoutbox, django_capture_on_commit_callbacks
):
    to_provider = ask_change(client)
    session = client.session
    session[oidc.EMAIL_REAUTH_KEY]["at"] -= 601
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, at_provider(to_provider, CITIZEN_SUB))
    assert response.status_code == 403 and mailoutbox == []


def test_an_account_with_a_password_is_asked_for_it(client, fc_citizen):
    fc_citizen.set_password("une phrase de passe solide 2026")
    fc_citizen.save()
    client.force_login(fc_citizen)
    page = client.get(PAGE).content.decode()
    assert 'name="current_password"' in page and "Confirmer avec FranceConnect" not in page
    response = client.post(PAGE, {"email": NEW_EMAIL})
    assert response.status_code == 200 and 'aria-invalid="true"' in response.content.decode()
