"""FranceConnect v2 ID token encrypted to Guichet (a JWE around the signed JWT), from the real
provider process (tests/oidc_provider) configured to encrypt it: decrypted with
``FRANCECONNECT_DECRYPTION_KEY``, then checked as a signed ID token (signature, nonce...);
refused without the key or altered inside; with ``FRANCECONNECT_ID_TOKEN_ENCRYPTED`` an ID token
that is only signed is refused."""

from __future__ import annotations

import pytest
import requests

from accounts import oidc
from tests.oidc_provider import CITIZEN_SUB, ProviderProcess, franceconnect_config

from .test_oidc import (
    SITE,
    _tampered_payload,
    at_provider,
    callback,
    fc_provider,  # noqa: F401
    logged_in_user,
    login_with,
    provider_logout,
    start,
)
from .test_oidc_encrypted import KEY, configure, pem  # noqa: F401 (fixtures)

# A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent("postgresql")


@pytest.fixture(scope="module")
def encrypting_provider():
    """Overrides the fixture ``configure`` uses: this provider encrypts the ID token too."""
    public = {**KEY.as_dict(private=False), "use": "enc", "alg": "RSA-OAEP-256", "kid": "g-1"}
    config = franceconnect_config([SITE], userinfo_encryption_key=public, encrypt_id_token=True)
    with ProviderProcess(config) as provider:
        yield provider


@pytest.fixture
def decrypted(monkeypatch):
    """What was decrypted, by kind (the provider's real answers)."""
    seen: list[tuple[str, str]] = []
    real = oidc.ProviderClient.decrypt

    def spy(self, value, what):
        inner = real(self, value, what)
        seen.append((what, value))
        return inner

    monkeypatch.setattr(oidc.ProviderClient, "decrypt", spy)
    return seen


def refused(response, client, caplog, reason: str) -> None:
    assert response.status_code == 400 and logged_in_user(client) is None
    messages = [record.getMessage() for record in caplog.records]
    assert any("OIDC login refused" in m and reason in m for m in messages), messages


@pytest.mark.parametrize("required", ["0", "1"])
def test_encrypted_id_token_is_decrypted_then_verified(client, configure, decrypted, required):  # noqa: F811
    configure(FRANCECONNECT_DECRYPTION_KEY=pem(KEY), FRANCECONNECT_ID_TOKEN_ENCRYPTED=required)
    browser = requests.Session()  # the person's browser at the provider, kept for the logout
    response = callback(client, at_provider(start(client, "franceconnect"), CITIZEN_SUB, browser))
    assert response["Location"] == "/compte/franceconnect/bienvenue/"
    # The provider did encrypt the ID token (five parts) and the userinfo.
    assert [what for what, _ in decrypted] == ["ID token", "userinfo"]
    assert decrypted[0][1].count(".") == 4
    assert client.post("/compte/franceconnect/bienvenue/", {"create": ""}).status_code == 302
    assert logged_in_user(client).oidc_identities.get().sub == CITIZEN_SUB
    # Kept for the logout at the provider: the ID token it signed, not its encryption.
    assert client.session[oidc.SESSION_KEY]["id_token"].count(".") == 2
    # The provider accepts it as id_token_hint and sends the person back to Guichet.
    back = provider_logout(browser, client.post("/deconnexion/")["Location"])
    assert back.startswith(f"{SITE}/compte/franceconnect/deconnecte/?")
    assert client.get(back.removeprefix(SITE)).status_code == 302


def test_encrypted_id_token_without_the_key_is_refused(client, configure, caplog):  # noqa: F811
    configure()
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    refused(response, client, caplog, "encrypted ID token, no franceconnect decryption key")


def test_a_tampered_id_token_inside_the_encryption_is_refused(
    client,
    configure,  # noqa: F811
    monkeypatch,
    caplog,
):
    configure(FRANCECONNECT_DECRYPTION_KEY=pem(KEY))
    real = oidc.ProviderClient.decrypt

    def altered(self, value, what):
        inner = real(self, value, what)
        return _tampered_payload(inner) if what == "ID token" else inner

    monkeypatch.setattr(oidc.ProviderClient, "decrypt", altered)
    refused(login_with(client, "franceconnect", CITIZEN_SUB), client, caplog, "bad_signature")


def test_a_signed_only_id_token_is_refused_when_encryption_is_required(
    db,
    client,
    settings,
    monkeypatch,
    fc_provider,  # noqa: F811
    caplog,
):
    """fc_provider signs the ID token without encrypting it: accepted by default (tests in
    test_oidc.py), refused once the configuration asks for encryption."""
    from contactcenter import settings as project_settings
    from tests.oidc_provider import environment

    for name, value in environment("FRANCECONNECT", fc_provider).items():
        monkeypatch.setenv(name, value)
    settings.SITE_URL = SITE
    for required, status in (("0", 302), ("1", 400)):
        monkeypatch.setenv("FRANCECONNECT_ID_TOKEN_ENCRYPTED", required)
        settings.OIDC_PROVIDERS = {
            "franceconnect": project_settings.oidc_provider(
                "FRANCECONNECT", scopes="openid email", acr_values="eidas1", two_factor=False
            )
        }
        client.cookies.clear()
        assert login_with(client, "franceconnect", CITIZEN_SUB).status_code == status
    refused(
        login_with(client, "franceconnect", CITIZEN_SUB), client, caplog, "ID token not encrypted"
    )
