"""An account FranceConnect created (no password) is deleted: a new FranceConnect login, with
the same identity, within 10 minutes, stands for the password. Against the real provider
process (tests/oidc_provider)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests
from django.urls import reverse

from accounts import oidc, services
from contactcenter.models import User
from tests.oidc_provider import CITIZEN2_SUB, CITIZEN_SUB

from .test_oidc import (  # noqa: F401 (fixtures)
    SITE,
    at_provider,
    callback,
    fc_provider,
    logged_in_user,
    pc_provider,
    provider_logout,
    providers,
    start,
)
from .test_oidc_email import fc_citizen  # noqa: F401 (fixture)

PAGE = reverse("accounts:delete")


def ask_deletion(client) -> str:
    page = client.get(PAGE).content.decode()
    assert 'name="current_password"' not in page
    assert "Confirmer avec FranceConnect et supprimer mon compte" in page
    response = client.post(PAGE, {"confirm": "on"})
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def test_a_franceconnect_login_stands_for_the_password(client, fc_citizen, fc_provider):  # noqa: F811
    to_provider = ask_deletion(client)
    query = parse_qs(urlparse(to_provider).query)
    assert query["prompt"] == ["login"] and query["acr_values"] == ["eidas1"]
    assert query["code_challenge_method"] == ["S256"] and query["nonce"][0]
    # Nothing is deleted before the provider vouched.
    assert User.objects.filter(pk=fc_citizen.pk).exists()
    browser = requests.Session()
    back = at_provider(to_provider, CITIZEN_SUB, browser)
    response = callback(client, back)
    assert not User.objects.filter(pk=fc_citizen.pk).exists()  # no case: the row is gone
    assert logged_in_user(client) is None and oidc.REAUTH_KEY not in client.session
    # The provider's session of that login is ended too (RP-initiated logout), with the ID
    # token of the login that confirmed the deletion; then the "account deleted" page.
    assert response.status_code == 302
    end_session = response["Location"]
    assert end_session.startswith(f"{fc_provider.issuer}/session/end?")
    assert parse_qs(urlparse(end_session).query)["id_token_hint"][0]
    returned = provider_logout(browser, end_session)
    assert returned.startswith(f"{SITE}/compte/franceconnect/deconnecte/?")
    deleted = client.get(returned.removeprefix(SITE))
    assert deleted.status_code == 302 and deleted["Location"] == reverse("accounts:deleted")
    page = browser.get(start(client, "franceconnect"), timeout=10)
    assert 'name="login"' in page.text  # the provider asks who it is again
    page = client.get(reverse("accounts:deleted")).content.decode()
    assert "effacé" in page or "supprimé" in page
    # The code of that login was used once.
    assert callback(client, back).status_code == 400


def test_another_franceconnect_identity_deletes_nothing(client, fc_citizen, caplog):  # noqa: F811
    response = callback(client, at_provider(ask_deletion(client), CITIZEN2_SUB))
    assert response.status_code == 403
    assert "votre compte n&#x27;est pas supprimé" in response.content.decode()
    assert "deletion refused" in caplog.text
    fc_citizen.refresh_from_db()
    assert fc_citizen.is_active and fc_citizen.email
    assert logged_in_user(client) == fc_citizen
    assert not User.objects.filter(oidc_identities__sub=CITIZEN2_SUB).exists()


def test_a_stale_request_is_refused(client, fc_citizen):  # noqa: F811
    to_provider = ask_deletion(client)
    session = client.session
    session[oidc.REAUTH_KEY]["at"] -= 601
    session.save()
    response = callback(client, at_provider(to_provider, CITIZEN_SUB))
    assert response.status_code == 403
    assert User.objects.filter(pk=fc_citizen.pk, is_active=True).exists()


def test_the_confirmation_is_still_asked(client, fc_citizen):  # noqa: F811
    response = client.post(PAGE, {"confirm": ""})
    assert response.status_code == 200
    assert "fr-checkbox-group--error" in response.content.decode()
    assert oidc.REAUTH_KEY not in client.session


def test_an_account_without_address_confirms_with_franceconnect_too(client, fc_citizen):  # noqa: F811
    fc_citizen.email = fc_citizen.username = f"fc-{fc_citizen.pk}@{services.PLACEHOLDER_DOMAIN}"
    fc_citizen.save()
    # Its first address needs only the link; deleting it needs FranceConnect.
    assert services.reauth_provider(fc_citizen, email_change=True) == ""
    assert services.reauth_provider(fc_citizen) == "franceconnect"
    assert "prompt=login" in ask_deletion(client)


def test_an_account_with_a_password_is_asked_for_it(client, fc_citizen):  # noqa: F811
    fc_citizen.set_password("une phrase de passe solide 2026")
    fc_citizen.save()
    client.force_login(fc_citizen)
    page = client.get(PAGE).content.decode()
    assert 'name="current_password"' in page and "Confirmer avec FranceConnect" not in page
    response = client.post(PAGE, {"confirm": "on", "current_password": "faux"})
    assert response.status_code == 200 and 'aria-invalid="true"' in response.content.decode()
    assert User.objects.filter(pk=fc_citizen.pk).exists()
