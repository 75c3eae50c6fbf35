"""A real OpenID Connect provider for the tests, in its own process on loopback.

``provider.mjs`` runs panva's certified ``oidc-provider`` (npm devDependency, installed by
``bin/setup``) with keys it generates at start. :class:`ProviderProcess` starts it on a free port,
waits until its discovery document is served, and stops it. Two configurations stand for the
two real providers: :func:`franceconnect_config` (identity claims, ``acr`` eidas1, signed JWT
userinfo, encrypted too if asked, ``client_secret_post``) and :func:`proconnect_config` (agent
claims, JSON userinfo, ``client_secret_basic``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE = shutil.which("node") or "node"

CITIZEN_SUB = "fc-citizen-1"
CITIZEN2_SUB = "fc-citizen-2"
NO_EMAIL_SUB = "fc-citizen-no-email"
# Used by one browser test each (tests/e2e/test_oidc_reauth.py): its own account there.
REAUTH_SUB = "fc-citizen-reauth"
NO_EMAIL2_SUB = "fc-citizen-no-email-2"
# The provider alters the payload of this account's ID token after signing it.
TAMPERED_SUB = "fc-citizen-tampered"
# Refused for a wrong nonce (tests/e2e/test_oidc_refusals.py): never linked to an account.
NONCE_SUB = "fc-citizen-nonce"
AGENT_SUB = "pc-agent-1"
UNKNOWN_AGENT_SUB = "pc-unknown"

FRANCECONNECT_SCOPES = "openid given_name family_name birthdate email"
PROCONNECT_SCOPES = "openid email given_name usual_name uid"


class ProviderProcess:
    """``with ProviderProcess(config) as provider:`` → ``provider.issuer``."""

    def __init__(self, config: dict):
        self.config = config
        self.process: subprocess.Popen | None = None
        self.issuer = ""
        self.port = 0

    def start(self) -> ProviderProcess:
        if not (ROOT / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("oidc-provider is not installed: run bin/setup --test")
        tmp = Path(tempfile.mkdtemp(prefix="guichet-oidc-"))
        config_path = tmp / "config.json"
        config_path.write_text(json.dumps(self.config))
        self.process = subprocess.Popen(
            [NODE, str(HERE / "provider.mjs"), str(config_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=(tmp / "provider.log").open("w"),
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "listening <port>", or nothing if it died
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(
                f"OIDC provider did not start: {(tmp / 'provider.log').read_text()[-3000:]}"
            )
        self.port = int(line.split()[1])
        self.issuer = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.get(self.discovery_url, timeout=2)
                if response.status_code == 200 and response.json()["issuer"] == self.issuer:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("OIDC provider: no discovery document")
            time.sleep(0.05)
        return self

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> ProviderProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _client(client_id: str, site_urls: list[str], name: str, **extra) -> dict:
    return {
        "client_id": client_id,
        "client_secret": f"{client_id}-secret-0123456789abcdef0123456789abcdef",
        "redirect_uris": [f"{site}/compte/{name}/retour/" for site in site_urls],
        "post_logout_redirect_uris": [f"{site}/compte/{name}/deconnecte/" for site in site_urls],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        **extra,
    }


def franceconnect_config(
    site_urls: list[str],
    userinfo_encryption_key: dict | None = None,
    *,
    encrypt_id_token: bool = False,
) -> dict:
    """FranceConnect-like: identity claims, ``acr`` eidas1, userinfo as a signed JWT; also
    encrypted (JWE, RSA-OAEP-256 and A256GCM) to ``userinfo_encryption_key``, the public JWK
    the client registers, when given; and the ID token too with ``encrypt_id_token``."""
    encryption: dict = {}
    if userinfo_encryption_key:
        encryption = {
            "jwks": {"keys": [userinfo_encryption_key]},
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
            "userinfo_encrypted_response_enc": "A256GCM",
        }
        if encrypt_id_token:
            encryption["id_token_encrypted_response_alg"] = "RSA-OAEP-256"
            encryption["id_token_encrypted_response_enc"] = "A256GCM"
    return {
        "clients": [
            _client(
                "guichet-fc",
                site_urls,
                "franceconnect",
                token_endpoint_auth_method="client_secret_post",
                id_token_signed_response_alg="ES256",
                userinfo_signed_response_alg="ES256",
                **encryption,
            )
        ],
        "acr": "eidas1",
        "scopes": {
            "given_name": ["given_name"],
            "family_name": ["family_name"],
            "birthdate": ["birthdate"],
            "email": ["email"],
        },
        "accounts": {
            CITIZEN_SUB: {
                "given_name": "Angela Claire Louise",
                "family_name": "Dubois",
                "birthdate": "1962-08-24",
                "email": "angela.dubois@example.fr",
            },
            CITIZEN2_SUB: {
                "given_name": "Camille",
                "family_name": "Martin",
                "birthdate": "1990-03-12",
                "email": "camille.martin@fc.example.fr",
            },
            # An identity without an e-mail address (FranceConnect does not always give one).
            NO_EMAIL_SUB: {
                "given_name": "Yanis",
                "family_name": "Moreau",
                "birthdate": "1985-11-02",
            },
            REAUTH_SUB: {
                "given_name": "Louise",
                "family_name": "Bernard",
                "birthdate": "1971-05-09",
                "email": "louise.bernard@example.fr",
            },
            NO_EMAIL2_SUB: {
                "given_name": "Inès",
                "family_name": "Roux",
                "birthdate": "1999-01-30",
            },
            TAMPERED_SUB: {
                "given_name": "Hugo",
                "family_name": "Lefèvre",
                "birthdate": "1980-07-14",
                "email": "hugo.lefevre@example.fr",
            },
            NONCE_SUB: {
                "given_name": "Nora",
                "family_name": "Petit",
                "birthdate": "1975-02-21",
                "email": "nora.petit@example.fr",
            },
        },
        "tamper": {TAMPERED_SUB: "payload"},
    }


def proconnect_config(site_urls: list[str], agent_email: str) -> dict:
    """ProConnect-like: agent claims, JSON userinfo, ``client_secret_basic``, RS256."""
    return {
        "clients": [
            _client(
                "guichet-pc",
                site_urls,
                "proconnect",
                token_endpoint_auth_method="client_secret_basic",
                id_token_signed_response_alg="RS256",
            )
        ],
        "acr": None,
        "scopes": {
            "email": ["email"],
            "given_name": ["given_name"],
            "usual_name": ["usual_name"],
            "uid": ["uid"],
        },
        "accounts": {
            AGENT_SUB: {
                "email": agent_email,
                "given_name": "Alice",
                "usual_name": "Durand",
                "uid": "a-1",
            },
            UNKNOWN_AGENT_SUB: {
                "email": "inconnu@administration.example.fr",
                "given_name": "Inconnu",
                "usual_name": "Agent",
                "uid": "x-9",
            },
        },
    }


def environment(prefix: str, provider: ProviderProcess) -> dict[str, str]:
    """The environment variables that point Guichet at ``provider`` (see docs/oidc.md)."""
    client = provider.config["clients"][0]
    env = {
        f"{prefix}_DISCOVERY_URL": provider.discovery_url,
        f"{prefix}_CLIENT_ID": client["client_id"],
        f"{prefix}_CLIENT_SECRET": client["client_secret"],
        f"{prefix}_TOKEN_AUTH_METHOD": client["token_endpoint_auth_method"],
    }
    return env
