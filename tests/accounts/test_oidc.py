"""FranceConnect and ProConnect against a real OpenID Connect provider (tests/oidc_provider:
panva's oidc-provider in its own process on loopback, with its own keys), through the Django
test client: Guichet's server-side calls (discovery, token, JWKS, userinfo) really go to it."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlencode, urljoin, urlparse, urlsplit, urlunsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts import oidc
from accounts.models import OidcIdentity
from contactcenter import settings as project_settings
from tests.conftest import make_user
from tests.oidc_provider import (
    AGENT_SUB,
    CITIZEN_SUB,
    NO_EMAIL_SUB,
    UNKNOWN_AGENT_SUB,
    ProviderProcess,
    environment,
    franceconnect_config,
    proconnect_config,
)

# A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent("postgresql")

User = get_user_model()
SITE = "http://testserver"
AGENT_EMAIL = "agent.a@guichet.example.fr"
FC_EMAIL = "angela.dubois@example.fr"


@pytest.fixture(scope="module")
def fc_provider():
    with ProviderProcess(franceconnect_config([SITE])) as provider:
        yield provider


@pytest.fixture(scope="module")
def pc_provider():
    with ProviderProcess(proconnect_config([SITE], AGENT_EMAIL)) as provider:
        yield provider


@pytest.fixture
def providers(db, settings, monkeypatch, fc_provider, pc_provider):
    """Guichet configured by environment variables, as in production (settings.oidc_provider)."""
    for prefix, provider in (("FRANCECONNECT", fc_provider), ("PROCONNECT", pc_provider)):
        for name, value in environment(prefix, provider).items():
            monkeypatch.setenv(name, value)
    settings.SITE_URL = SITE
    settings.OIDC_PROVIDERS = {
        "franceconnect": project_settings.oidc_provider(
            "FRANCECONNECT",
            scopes="openid given_name family_name birthdate email",
            acr_values="eidas1",
            two_factor=False,
        ),
        "proconnect": project_settings.oidc_provider(
            "PROCONNECT",
            scopes="openid email given_name usual_name uid",
            acr_values="",
            two_factor=True,
        ),
    }
    return settings.OIDC_PROVIDERS


def start(client, provider: str) -> str:
    """Guichet's redirect to the provider's authorization endpoint."""
    response = client.post(f"/compte/{provider}/connexion/")
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def at_provider(authorize_url: str, login: str, browser: requests.Session | None = None) -> str:
    """A person at the provider: follows its redirects, types ``login`` on its login page and
    returns the URL it sends back to Guichet (the callback with ``code`` and ``state``)."""
    browser = browser or requests.Session()
    url, method, data = authorize_url, "GET", None
    for _ in range(12):
        response = browser.request(method, url, data=data, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            method, data = "GET", None
            if url.startswith(SITE):
                return url
            continue
        assert response.status_code == 200, response.text[:1000]
        assert 'name="login"' in response.text, response.text[:1000]
        path = response.text.split('action="', 1)[1].split('"', 1)[0]
        url, method, data = urljoin(url, path), "POST", {"login": login}
    raise AssertionError("the provider never sent back to Guichet")


def callback(client, url: str):
    return client.get(url.removeprefix(SITE))


def login_with(client, provider: str, login: str):
    return callback(client, at_provider(start(client, provider), login))


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def assert_refused(response, caplog, reason: str) -> None:
    """A 400 page, nobody logged in, and the log names why (not some other failure)."""
    assert response.status_code == 400
    assert any(reason in record.getMessage() for record in caplog.records), caplog.text


def logged_in_user(client):
    return User.objects.filter(pk=client.session.get("_auth_user_id")).first()


# --- FranceConnect: citizens ------------------------------------------------------------------


def test_authorization_request_uses_pkce_nonce_state_and_eidas1(client, providers):
    query = parse_qs(urlparse(start(client, "franceconnect")).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["acr_values"] == ["eidas1"]
    assert query["scope"] == ["openid given_name family_name birthdate email"]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"{SITE}/compte/franceconnect/retour/"]


def test_first_login_creates_the_citizen_from_the_identity(client, providers):
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response.status_code == 302
    assert response["Location"] == "/compte/franceconnect/bienvenue/"
    assert logged_in_user(client) is None
    page = client.get("/compte/franceconnect/bienvenue/")
    content = page.content.decode()
    # The claims came from the userinfo endpoint, as a JWT signed by the provider (ES256).
    assert "Angela Claire Louise" in content and "Dubois" in content
    assert "24 août 1962" in content and FC_EMAIL in content
    bad = client.post("/compte/franceconnect/bienvenue/", {"create-mobile_phone": "01 23"})
    assert bad.status_code == 200 and 'aria-invalid="true"' in bad.content.decode()
    response = client.post(
        "/compte/franceconnect/bienvenue/",
        {"create-mobile_phone": "06 12 34 56 78", "create": ""},
    )
    assert response.status_code == 302
    user = logged_in_user(client)
    assert user.email == FC_EMAIL and user.is_citizen and user.is_active
    assert (user.first_name, user.last_name) == ("Angela Claire Louise", "Dubois")
    assert user.mobile_phone == "+33612345678"
    assert not user.has_usable_password()
    link = OidcIdentity.objects.get(provider="franceconnect", sub=CITIZEN_SUB)
    assert link.user == user and str(link.birthdate) == "1962-08-24"
    assert client.session[oidc.SESSION_KEY]["provider"] == "franceconnect"


def test_first_login_without_email_asks_for_it_and_verifies_it(
    client, providers, mailoutbox, django_capture_on_commit_callbacks
):
    response = login_with(client, "franceconnect", NO_EMAIL_SUB)
    assert response["Location"] == "/compte/franceconnect/bienvenue/"
    page = client.get("/compte/franceconnect/bienvenue/").content.decode()
    assert "Yanis" in page and "Moreau" in page
    assert 'name="create-email"' in page and 'name="create-mobile_phone"' in page
    # The address is required, and must be one.
    for typed in ("", "pas-une-adresse"):
        bad = client.post("/compte/franceconnect/bienvenue/", {"create-email": typed, "create": ""})
        assert bad.status_code == 200 and 'aria-invalid="true"' in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/compte/franceconnect/bienvenue/",
            {
                "create-email": "yanis.moreau@example.fr",
                "create-mobile_phone": "06 12 34 56 78",
                "create": "",
            },
        )
    # The account exists and is used at once; e-mail alerts wait for the address's link.
    assert response["Location"] == reverse("messaging:space")
    user = logged_in_user(client)
    assert user is not None and user.is_active and not user.has_usable_password()
    assert (user.first_name, user.last_name, user.mobile_phone) == (
        "Yanis",
        "Moreau",
        "+33612345678",
    )
    assert user.email.endswith("@franceconnect.invalid") and not user.notify_email
    assert not User.objects.filter(email="yanis.moreau@example.fr").exists()
    assert OidcIdentity.objects.get(provider="franceconnect", sub=NO_EMAIL_SUB).user == user
    assert [m.to for m in mailoutbox] == [["yanis.moreau@example.fr"]]
    account = client.get(reverse("accounts:account")).content.decode()
    assert "non vérifiée" in account and "franceconnect.invalid" not in account
    # Another FranceConnect login is the same account (matched by its sub).
    client.post("/deconnexion/")
    response = login_with(client, "franceconnect", NO_EMAIL_SUB)
    assert response["Location"] == reverse("messaging:space")
    assert logged_in_user(client) == user
    # A tampered link changes nothing; the genuine one, opened logged in, verifies the
    # address and turns e-mail alerts on. Nobody is told at the placeholder.
    link = re.search(r"https?://\S+", mailoutbox[0].body).group(0).removeprefix(SITE)
    assert client.get(link[:-3] + "abc/").status_code == 400
    assert not User.objects.get(pk=user.pk).notify_email
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(link).status_code == 302
    user.refresh_from_db()
    assert user.email == user.username == "yanis.moreau@example.fr" and user.notify_email
    assert len(mailoutbox) == 1


def test_first_login_without_email_can_ask_for_the_link_again(
    client, providers, mailoutbox, django_capture_on_commit_callbacks
):
    login_with(client, "franceconnect", NO_EMAIL_SUB)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/compte/franceconnect/bienvenue/", {"create-email": "faute@example.fr", "create": ""}
        )
    # A mistyped address: typed again from "Mon compte", without a password (it has none).
    page = client.get(reverse("accounts:email_change")).content.decode()
    assert 'name="current_password"' not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:email_change"), {"email": "bon@example.fr"})
    assert response.status_code == 302
    assert [m.to for m in mailoutbox] == [["faute@example.fr"], ["bon@example.fr"]]
    link = re.search(r"https?://\S+", mailoutbox[1].body).group(0).removeprefix(SITE)
    client.get(link)
    user = logged_in_user(client)
    assert user.email == "bon@example.fr" and user.notify_email
    # From then on, a new FranceConnect login stands for the password it does not have
    # (tests/accounts/test_oidc_email.py).
    page = client.get(reverse("accounts:email_change")).content.decode()
    assert 'name="current_password"' not in page and "Confirmer avec FranceConnect" in page


def test_first_login_without_email_and_a_taken_address_links_nothing_to_it(
    client, providers, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_user("deja.pris@example.fr", User.Role.CITIZEN)
    login_with(client, "franceconnect", NO_EMAIL_SUB)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/compte/franceconnect/bienvenue/",
            {"create-email": "deja.pris@example.fr", "create": ""},
        )
    # The same answer as for a free address; the owner is told by mail; their account is
    # untouched and the new one keeps its placeholder.
    assert response["Location"] == reverse("messaging:space")
    assert User.objects.filter(email__iexact="deja.pris@example.fr").get() == owner
    link = OidcIdentity.objects.get(sub=NO_EMAIL_SUB)
    assert link.user != owner and link.user.email.endswith("@franceconnect.invalid")
    assert [m.to for m in mailoutbox] == [[owner.email]]


def test_later_login_matches_the_sub_not_the_email(client, providers):
    user = make_user("nouvelle.adresse@example.fr", User.Role.CITIZEN)
    OidcIdentity.objects.create(provider="franceconnect", sub=CITIZEN_SUB, user=user)
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response.status_code == 302 and response["Location"] == reverse("messaging:space")
    assert logged_in_user(client) == user
    assert OidcIdentity.objects.get(user=user).last_login_at is not None


def test_local_account_is_linked_only_with_its_password(client, providers):
    local = make_user(FC_EMAIL, User.Role.CITIZEN)
    login_with(client, "franceconnect", CITIZEN_SUB)
    page = client.get("/compte/franceconnect/bienvenue/").content.decode()
    assert "Vous avez déjà un compte Guichet" in page and 'id="oidc-create"' not in page
    # Same e-mail address, but no silent link and no account created.
    assert client.post("/compte/franceconnect/bienvenue/", {"create": ""}).status_code == 200
    assert not OidcIdentity.objects.exists() and User.objects.count() == 1
    wrong = client.post(
        "/compte/franceconnect/bienvenue/",
        {"link-username": FC_EMAIL, "link-password": "pas-le-bon-mot-de-passe", "link": ""},
    )
    assert "mot de passe incorrect" in wrong.content.decode()
    assert not OidcIdentity.objects.exists() and logged_in_user(client) is None
    response = client.post(
        "/compte/franceconnect/bienvenue/",
        {"link-username": FC_EMAIL, "link-password": "motdepasse-solide-2026", "link": ""},
    )
    assert response.status_code == 302
    assert logged_in_user(client) == local
    assert OidcIdentity.objects.get(provider="franceconnect", sub=CITIZEN_SUB).user == local


def test_logged_in_citizen_links_franceconnect_after_the_password(client, providers, citizen):
    client.force_login(citizen)
    assert client.get("/compte/franceconnect/lier/").status_code == 200
    wrong = client.post("/compte/franceconnect/lier/", {"password": "pas-le-bon"})
    assert wrong.status_code == 200 and "Mot de passe incorrect" in wrong.content.decode()
    response = client.post("/compte/franceconnect/lier/", {"password": "motdepasse-solide-2026"})
    assert response.status_code == 302
    back = callback(client, at_provider(response["Location"], CITIZEN_SUB))
    assert back.status_code == 302 and logged_in_user(client) == citizen
    assert OidcIdentity.objects.get(provider="franceconnect", sub=CITIZEN_SUB).user == citizen
    # From now on FranceConnect logs this citizen in.
    client.logout()
    login_with(client, "franceconnect", CITIZEN_SUB)
    assert logged_in_user(client) == citizen


def test_linking_needs_a_citizen_and_an_identity_nobody_has(client, providers, citizen, agent_a):
    assert client.get("/compte/franceconnect/lier/").status_code == 302  # to the login page
    client.force_login(agent_a)
    assert client.get("/compte/franceconnect/lier/").status_code == 403
    other = make_user("autre@example.fr", User.Role.CITIZEN)
    OidcIdentity.objects.create(provider="franceconnect", sub=CITIZEN_SUB, user=other)
    client.force_login(citizen)
    response = client.post("/compte/franceconnect/lier/", {"password": "motdepasse-solide-2026"})
    refused = callback(client, at_provider(response["Location"], CITIZEN_SUB))
    assert refused.status_code == 403
    assert not OidcIdentity.objects.filter(user=citizen).exists()


def test_staff_cannot_use_franceconnect(client, providers, agent_a):
    OidcIdentity.objects.create(provider="franceconnect", sub=CITIZEN_SUB, user=agent_a)
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response.status_code == 403 and logged_in_user(client) is None


# --- ProConnect: staff -------------------------------------------------------------------------


def test_agent_logs_in_by_email_first_then_by_sub(client, providers, agent_a):
    response = login_with(client, "proconnect", AGENT_SUB)
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert logged_in_user(client) == agent_a
    assert OidcIdentity.objects.get(provider="proconnect", sub=AGENT_SUB).user == agent_a
    # Later, the stored sub decides, whatever the address in Guichet.
    User.objects.filter(pk=agent_a.pk).update(email="autre.adresse@guichet.example.fr")
    client.logout()
    login_with(client, "proconnect", AGENT_SUB)
    assert logged_in_user(client) == agent_a


def test_unknown_staff_sub_is_refused(client, providers, agent_a):
    response = login_with(client, "proconnect", UNKNOWN_AGENT_SUB)
    assert response.status_code == 403
    assert "Aucun compte agent actif" in response.content.decode()
    assert logged_in_user(client) is None and not OidcIdentity.objects.exists()


def test_no_self_provisioning_nor_citizen_nor_inactive_agent(client, providers, agent_a):
    User.objects.filter(pk=agent_a.pk).update(is_active=False)
    assert login_with(client, "proconnect", AGENT_SUB).status_code == 403
    User.objects.filter(pk=agent_a.pk).update(role=User.Role.CITIZEN, is_active=True)
    assert login_with(client, "proconnect", AGENT_SUB).status_code == 403
    assert logged_in_user(client) is None
    assert User.objects.count() == 1 and not OidcIdentity.objects.exists()


# --- What an attacker could try ----------------------------------------------------------------


def test_wrong_state_is_refused(client, providers, caplog):
    url = at_provider(start(client, "franceconnect"), CITIZEN_SUB)
    response = callback(client, with_query(url, state="forged-state"))
    assert_refused(response, caplog, "mismatching_state")
    assert logged_in_user(client) is None
    assert "bienvenue" not in response.get("Location", "")


def test_state_and_code_are_single_use(client, providers, agent_a, caplog):
    url = at_provider(start(client, "proconnect"), AGENT_SUB)
    assert callback(client, url).status_code == 302
    client.logout()
    # The same answer again: its state was used up.
    assert_refused(callback(client, url), caplog, "mismatching_state")
    # The same code with a fresh state of this session: the provider refuses the replayed code.
    caplog.clear()
    fresh_state = parse_qs(urlparse(start(client, "proconnect")).query)["state"][0]
    response = callback(client, with_query(url, state=fresh_state))
    assert_refused(response, caplog, "invalid_grant")
    assert logged_in_user(client) is None


def test_wrong_nonce_is_refused(client, providers, agent_a, caplog):
    authorize = with_query(start(client, "proconnect"), nonce="not-the-session-nonce")
    response = callback(client, at_provider(authorize, AGENT_SUB))
    assert_refused(response, caplog, "Invalid claim: 'nonce'")
    assert logged_in_user(client) is None
    assert not OidcIdentity.objects.exists()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tampered_payload(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def _alg_none(id_token: str) -> str:
    _, payload, _ = id_token.split(".")
    return ".".join([_b64(b'{"alg":"none","typ":"JWT"}'), payload, ""])


def _hs256_with_public_key(id_token: str, jwks: dict) -> str:
    import hashlib
    import hmac

    _, payload, _ = id_token.split(".")
    header = _b64(json.dumps({"alg": "HS256", "kid": jwks["keys"][0]["kid"]}).encode())
    secret = json.dumps(jwks["keys"][0]).encode()
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ("payload", "bad_signature"),
        ("none", "Algorithm of 'none' is not allowed"),
        ("hs256", "Algorithm of 'HS256' is not allowed"),
    ],
)
def test_tampered_id_token_is_refused(
    client, providers, agent_a, monkeypatch, pc_provider, caplog, forge, reason
):
    """The real provider's token response, altered in transit."""
    jwks = requests.get(f"{pc_provider.issuer}/jwks", timeout=5).json()
    real_fetch = oidc.ProviderClient.fetch_access_token

    def altered(self, *args, **kwargs):
        token = real_fetch(self, *args, **kwargs)
        if forge == "payload":
            token["id_token"] = _tampered_payload(token["id_token"])
        elif forge == "none":
            token["id_token"] = _alg_none(token["id_token"])
        else:
            token["id_token"] = _hs256_with_public_key(token["id_token"], jwks)
        return token

    monkeypatch.setattr(oidc.ProviderClient, "fetch_access_token", altered)
    response = login_with(client, "proconnect", AGENT_SUB)
    assert_refused(response, caplog, reason)
    assert logged_in_user(client) is None
    assert not OidcIdentity.objects.exists()


def test_id_token_signed_with_other_keys_is_refused(
    client, providers, agent_a, fc_provider, caplog
):
    """A real signature, but not by this provider: its JWKS is not the one used."""
    providers["proconnect"]["endpoints"] = {"jwks_uri": f"{fc_provider.issuer}/jwks"}
    response = login_with(client, "proconnect", AGENT_SUB)
    assert_refused(response, caplog, "bad_signature")
    assert logged_in_user(client) is None


# --- Configuration --------------------------------------------------------------------------


def test_providers_are_off_when_unset(client, settings, db):
    settings.OIDC_PROVIDERS = {}
    for path in ("connexion", "retour", "bienvenue", "deconnecte"):
        assert client.get(f"/compte/franceconnect/{path}/").status_code in (404, 405)
        assert client.post(f"/compte/proconnect/{path}/").status_code in (404, 405)
    assert client.post("/compte/franceconnect/connexion/").status_code == 404
    page = client.get("/connexion/").content.decode()
    assert "fr-connect" not in page


def test_buttons_on_the_login_page(client, providers):
    page = client.get("/connexion/").content.decode()
    assert 'class="fr-connect"' in page and "Qu’est-ce que FranceConnect ?" in page
    assert 'class="fr-connect fr-connect--pro"' in page
    assert 'action="/compte/franceconnect/connexion/"' in page


def test_settings_need_discovery_or_endpoints(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("PROCONNECT_CLIENT_ID", "x")
    with pytest.raises(ImproperlyConfigured):
        project_settings.oidc_provider(
            "PROCONNECT", scopes="openid", acr_values="", two_factor=True
        )
    monkeypatch.setenv("PROCONNECT_ISSUER", "https://idp.example.fr/api/v2/")
    conf = project_settings.oidc_provider(
        "PROCONNECT", scopes="openid", acr_values="", two_factor=True
    )
    assert conf is not None
    assert conf["discovery_url"] == "https://idp.example.fr/api/v2/.well-known/openid-configuration"


# --- Logout ---------------------------------------------------------------------------------


def provider_logout(browser: requests.Session, url: str) -> str:
    """The person confirms the logout at the provider; returns where it sends them back."""
    page = browser.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    form = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert form is not None, page.text[:500]
    action = form.group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    response = browser.post(
        urljoin(url, action), data={**fields, "logout": "yes"}, allow_redirects=False, timeout=10
    )
    assert response.is_redirect, response.text[:500]
    return response.headers["Location"]


def test_logout_ends_the_provider_session_too(client, providers, agent_a, pc_provider, caplog):
    browser = requests.Session()
    callback(client, at_provider(start(client, "proconnect"), AGENT_SUB, browser))
    id_token = client.session[oidc.SESSION_KEY]["id_token"]
    response = client.post("/deconnexion/")
    assert logged_in_user(client) is None
    assert response.status_code == 302
    end_session = response["Location"]
    assert end_session.startswith(f"{pc_provider.issuer}/session/end?")
    query = parse_qs(urlparse(end_session).query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == [f"{SITE}/compte/proconnect/deconnecte/"]
    back = provider_logout(browser, end_session)
    assert back.startswith(f"{SITE}/compte/proconnect/deconnecte/?")
    assert parse_qs(urlparse(back).query)["state"] == query["state"]
    assert client.get(back.removeprefix(SITE)).status_code == 302
    # The provider's session is over: the next login asks for the identifier again.
    page = browser.get(start(client, "proconnect"), timeout=10)
    assert 'name="login"' in page.text
    # The same return again, or a forged state: refused.
    assert_refused(client.get(back.removeprefix(SITE)), caplog, "state")
    assert client.get("/compte/proconnect/deconnecte/?state=forged").status_code == 400


def test_local_login_logs_out_locally_only(client, providers, citizen):
    client.force_login(citizen)
    response = client.post("/deconnexion/")
    assert response.status_code == 302 and "127.0.0.1" not in response["Location"]


def test_csp_lets_forms_redirect_to_the_providers_only(client, settings, db):
    settings.CSP_FORM_ACTION = ["https://oidc.franceconnect.gouv.fr"]
    policy = client.get("/connexion/")["Content-Security-Policy"]
    assert "form-action 'self' https://oidc.franceconnect.gouv.fr;" in policy
    settings.CSP_FORM_ACTION = []
    assert "form-action 'self';" in client.get("/connexion/")["Content-Security-Policy"]


# --- English -----------------------------------------------------------------------------------


def test_first_login_and_error_pages_in_english(client, providers):
    from tests.contactcenter.test_english_pages import FRENCH

    client.cookies["django_language"] = "en"
    login_with(client, "franceconnect", CITIZEN_SUB)
    page = client.get("/compte/franceconnect/bienvenue/").content.decode()
    assert "Welcome to Guichet" in page and "24 August 1962" in page
    make_user(FC_EMAIL, User.Role.CITIZEN)  # the address is taken: the link form only
    taken = client.get("/compte/franceconnect/bienvenue/").content.decode()
    assert "You already have a Guichet account" in taken
    refused = login_with(client, "proconnect", UNKNOWN_AGENT_SUB).content.decode()
    assert "No active staff account" in refused
    login = client.get("/connexion/").content.decode()
    assert "What is FranceConnect?" in login
    client.force_login(make_user("autre@example.fr", User.Role.CITIZEN))
    link = client.get("/compte/franceconnect/lier/").content.decode()
    assert "Continue to FranceConnect" in link
    for content in (page, taken, refused, login, link):
        found = [word for word in FRENCH if re.search(word, content)]
        assert not found, found
        for french in ("Associer", "Créer mon compte", "Qu’est-ce que", "S’identifier"):
            assert french not in content


# --- Second factor (accounts.twofactor) ------------------------------------------------------


def test_franceconnect_asks_the_code_of_a_citizen_who_turned_it_on(client, providers, citizen):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=citizen, name="Application", confirmed=True)
    OidcIdentity.objects.create(provider="franceconnect", sub=CITIZEN_SUB, user=citizen)
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response["Location"] == reverse("accounts:two_factor_verify")
    assert logged_in_user(client) is None


def test_proconnect_stands_for_the_staff_second_factor_unless_told_not_to(
    client, providers, agent_a
):
    login_with(client, "proconnect", AGENT_SUB)
    assert logged_in_user(client) == agent_a  # no TOTP asked
    client.logout()
    providers["proconnect"]["two_factor"] = False
    response = login_with(client, "proconnect", AGENT_SUB)
    assert response["Location"] == reverse("accounts:two_factor_enrol")
    assert logged_in_user(client) is None


def test_account_page_offers_to_link_franceconnect(client, providers, citizen):
    client.force_login(citizen)
    page = client.get("/compte/").content.decode()
    assert 'href="/compte/franceconnect/lier/"' in page
    OidcIdentity.objects.create(provider="franceconnect", sub=CITIZEN_SUB, user=citizen)
    page = client.get("/compte/").content.decode()
    assert "Vous pouvez vous connecter avec FranceConnect" in page
    assert 'href="/compte/franceconnect/lier/"' not in page
