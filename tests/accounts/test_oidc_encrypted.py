"""FranceConnect v2 userinfo encrypted to Guichet (a JWE around the signed JWT), from the real
provider process (tests/oidc_provider) configured with Guichet's public key: decrypted with
``FRANCECONNECT_DECRYPTION_KEY``, then verified against the provider's JWKS; refused without
the key, with another key, or with an algorithm not allowed."""

from __future__ import annotations

import pytest
from joserfc.jwk import RSAKey

from contactcenter import settings as project_settings
from tests.oidc_provider import CITIZEN_SUB, ProviderProcess, environment, franceconnect_config

from .test_oidc import SITE, logged_in_user, login_with

# A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent("postgresql")

KEY = RSAKey.generate_key(2048, private=True)


@pytest.fixture(scope="module")
def encrypting_provider():
    public = {**KEY.as_dict(private=False), "use": "enc", "alg": "RSA-OAEP-256", "kid": "g-1"}
    with ProviderProcess(franceconnect_config([SITE], userinfo_encryption_key=public)) as provider:
        yield provider


@pytest.fixture
def configure(db, settings, monkeypatch, encrypting_provider):
    def configure(**env: str) -> dict:
        for name, value in environment("FRANCECONNECT", encrypting_provider).items():
            monkeypatch.setenv(name, value)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings.SITE_URL = SITE
        settings.OIDC_PROVIDERS = {
            "franceconnect": project_settings.oidc_provider(
                "FRANCECONNECT",
                scopes="openid given_name family_name birthdate email",
                acr_values="eidas1",
                two_factor=False,
            )
        }
        return settings.OIDC_PROVIDERS["franceconnect"]

    return configure


def pem(key: RSAKey) -> str:
    return key.as_pem(private=True).decode()


def test_encrypted_userinfo_is_decrypted_then_verified(client, configure):
    configure(FRANCECONNECT_DECRYPTION_KEY=pem(KEY))
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response["Location"] == "/compte/franceconnect/bienvenue/"
    page = client.get("/compte/franceconnect/bienvenue/").content.decode()
    # given_name and birthdate are userinfo claims (not in the ID token).
    assert "Angela Claire Louise" in page and "24 août 1962" in page


def test_the_key_may_be_given_as_a_jwk(client, configure):
    import json

    configure(FRANCECONNECT_DECRYPTION_KEY=json.dumps(KEY.as_dict(private=True)))
    assert login_with(client, "franceconnect", CITIZEN_SUB).status_code == 302
    assert "Angela Claire Louise" in client.get("/compte/franceconnect/bienvenue/").content.decode()


@pytest.mark.parametrize(
    "env,reason",
    [
        ({}, "encrypted userinfo, no franceconnect decryption key"),
        ({"FRANCECONNECT_DECRYPTION_KEY": pem(RSAKey.generate_key(2048))}, "userinfo:"),
        (
            {"FRANCECONNECT_DECRYPTION_KEY": pem(KEY), "FRANCECONNECT_DECRYPTION_ALGS": "RSA-OAEP"},
            "userinfo:",
        ),
    ],
    ids=["no-key", "other-key", "algorithm-not-allowed"],
)
def test_encrypted_userinfo_is_refused_without_the_right_key(
    client, configure, caplog, env, reason
):
    configure(**env)
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response.status_code == 400
    assert logged_in_user(client) is None
    assert "/compte/franceconnect/bienvenue/" not in response.get("Location", "")
    messages = [record.getMessage() for record in caplog.records]
    assert any("OIDC login refused" in m and reason in m for m in messages), messages


def test_a_tampered_signed_userinfo_inside_the_encryption_is_refused(
    client, configure, monkeypatch, caplog
):
    """The provider's real answer, decrypted, with its claims changed: the signature fails."""
    from accounts import oidc

    from .test_oidc import _tampered_payload

    configure(FRANCECONNECT_DECRYPTION_KEY=pem(KEY))
    real_decrypt = oidc.ProviderClient.decrypt

    def altered(self, value, what):
        inner = real_decrypt(self, value, what)
        assert inner.count(".") == 2  # the provider did sign it
        return _tampered_payload(inner)

    monkeypatch.setattr(oidc.ProviderClient, "decrypt", altered)
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response.status_code == 400 and logged_in_user(client) is None
    assert "bad_signature" in caplog.text


def test_encrypted_but_unsigned_claims_are_refused(client, configure, monkeypatch, caplog):
    """Anyone can encrypt to our public key: claims that are only encrypted are not trusted."""
    import json

    from joserfc import jwe

    from accounts import oidc

    configure(FRANCECONNECT_DECRYPTION_KEY=pem(KEY))
    real_get = oidc.ProviderClient.get

    def forged(self, url, **kwargs):
        response = real_get(self, url, **kwargs)
        if "userinfo" in url or "/me" in url:
            claims = {"sub": CITIZEN_SUB, "given_name": "Mallory", "family_name": "Forge"}
            response._content = jwe.encrypt_compact(
                {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
                json.dumps(claims),
                KEY,
                algorithms=["RSA-OAEP-256", "A256GCM"],
            ).encode()
        return response

    monkeypatch.setattr(oidc.ProviderClient, "get", forged)
    response = login_with(client, "franceconnect", CITIZEN_SUB)
    assert response.status_code == 400 and logged_in_user(client) is None
    assert "encrypted userinfo without a signed JWT inside" in caplog.text
