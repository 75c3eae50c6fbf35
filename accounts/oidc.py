"""OpenID Connect client: FranceConnect for citizens, ProConnect for staff (docs/oidc.md).

One piece of code for both providers, configured by ``settings.OIDC_PROVIDERS`` (environment
variables; a provider whose client id is unset does not exist: no button, its URLs are 404s).
Built on Authlib's Django client, which this module tightens:

- authorization code flow with PKCE (S256); ``state`` and ``nonce`` are kept in the session
  (Authlib's state data, here also refused once older than ``STATE_MAX_AGE``) and used once;
- the ID token's signature is checked against the provider's JWKS, with only the asymmetric
  algorithms of ``id_token_algs`` (RS256, ES256 by default: never ``none`` nor HMAC); ``iss``
  must be the provider's issuer, ``aud`` our client id, ``exp``/``iat`` current, ``nonce`` the
  one of this login, ``acr`` one of ``acr_values`` when some are asked;
- userinfo answers as JSON or as a signed JWT (FranceConnect v2), checked like the ID token,
  and must name the same ``sub``; a JWT encrypted to us (JWE, nested around the signed one) is
  decrypted first with ``<PREFIX>_DECRYPTION_KEY``, only with ``<PREFIX>_DECRYPTION_ALGS``;
- logout at the provider (RP-initiated logout) with ``id_token_hint`` and a ``state`` checked
  on return.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.http import Http404
from django.urls import reverse
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, import_key
from joserfc.jws import JWSRegistry

log = logging.getLogger(__name__)

STATE_MAX_AGE = 600  # seconds between the redirect to the provider and its answer
SESSION_KEY = "accounts_oidc"  # {"provider": name, "id_token": raw ID token} once logged in
# A logged-in person without a password confirms an e-mail change by logging in again at the
# provider (accounts.views.email_change): {"provider", "user", "email", "at"}.
EMAIL_REAUTH_KEY = "accounts_oidc_email"

_metadata_cache: dict[str, tuple[float, dict]] = {}
_metadata_lock = threading.Lock()


class OidcError(Exception):
    """A login or logout that cannot go on. ``str(error)`` is for the log, never for the page."""


@dataclass(frozen=True)
class Identity:
    """What the provider vouched for: its ``sub`` and the claims (ID token, then userinfo)."""

    provider: str
    sub: str
    claims: dict
    id_token: str
    acr: str


class _Integration(DjangoIntegration):
    """Authlib's session storage of ``state`` data, with an age limit it does not enforce."""

    expires_in = STATE_MAX_AGE

    def get_state_data(self, session, state):
        entry = session.get(f"_state_{self.name}_{state}")
        if not entry or entry.get("exp", 0) < time.time():
            return None
        return super().get_state_data(session, state)


class ProviderClient(DjangoOAuth2App):
    def __init__(self, name: str, conf: dict):
        self.conf = conf
        super().__init__(
            _Integration(f"oidc_{name}"),
            name=name,
            client_id=conf["client_id"],
            client_secret=conf["client_secret"],
            server_metadata_url=conf["discovery_url"] or None,
            client_kwargs={
                "scope": conf["scopes"],
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": conf["token_auth_method"],
                "timeout": 10,
            },
        )

    # --- Metadata -------------------------------------------------------------------------

    def load_server_metadata(self) -> dict:
        if "_loaded_at" in self.server_metadata:
            return self.server_metadata
        metadata: dict = {}
        url = self._server_metadata_url
        if url:
            with _metadata_lock:
                cached = _metadata_cache.get(url)
            if cached and time.time() - cached[0] < settings.OIDC_METADATA_CACHE_SECONDS:
                metadata = dict(cached[1])
            else:
                response = requests.get(url, timeout=10)
                response.raise_for_status()
                metadata = response.json()
                with _metadata_lock:
                    _metadata_cache[url] = (time.time(), dict(metadata))
        metadata.update(self.conf["endpoints"])
        issuer = self.conf["issuer"]
        if issuer and metadata.get("issuer", issuer).rstrip("/") != issuer:
            raise OidcError(f"{self.name}: discovery issuer {metadata.get('issuer')!r}")
        metadata.setdefault("issuer", issuer)
        # Authlib verifies the ID token with the algorithms listed here: keep only ours.
        announced = metadata.get("id_token_signing_alg_values_supported")
        allowed = self.conf["id_token_algs"]
        metadata["id_token_signing_alg_values_supported"] = [
            alg for alg in (announced or allowed) if alg in allowed
        ]
        metadata["_loaded_at"] = time.time()
        self.server_metadata.update(metadata)
        return self.server_metadata

    # --- Login ----------------------------------------------------------------------------

    def redirect_uri(self) -> str:
        return settings.SITE_URL + reverse("accounts:oidc_callback", args=[self.name])

    def start(self, request, **params):
        """The redirect to the provider's authorization endpoint (``params``: more of its
        query, e.g. ``prompt="login"`` to make the person authenticate again)."""
        if self.conf["acr_values"]:
            params["acr_values"] = self.conf["acr_values"]
        return self.authorize_redirect(request, self.redirect_uri(), **params)

    def finish(self, request) -> Identity:
        """Check the provider's answer on the callback and return who logged in."""
        acr_values = self.conf["acr_values"].split()
        claims_options = {"iss": {"essential": True, "values": [self._issuer()]}}
        if acr_values:
            claims_options["acr"] = {"essential": True, "values": acr_values}
        try:
            token = self.authorize_access_token(request, claims_options=claims_options)
        except (OAuthError, JoseError, ValueError, requests.RequestException) as error:
            raise OidcError(f"{self.name}: {type(error).__name__}: {error}") from error
        claims = token.get("userinfo")
        if not claims or "id_token" not in token:
            raise OidcError(f"{self.name}: no ID token")
        merged = dict(claims)
        merged.update(self.fetch_userinfo(token, claims["sub"]))
        return Identity(
            provider=self.name,
            sub=claims["sub"],
            claims=merged,
            id_token=token["id_token"],
            acr=claims.get("acr", ""),
        )

    def _issuer(self) -> str:
        return self.load_server_metadata()["issuer"]

    def fetch_userinfo(self, token: dict, sub: str) -> dict:
        """The userinfo endpoint's claims, as JSON or as a signed JWT."""
        endpoint = self.load_server_metadata().get("userinfo_endpoint")
        if not endpoint:
            return {}
        try:
            response = self.get(endpoint, token=token)
            response.raise_for_status()
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind == "application/jwt":
                data = self.verify_jwt(self.decrypt(response.text.strip()))
            else:
                data = response.json()
        except (JoseError, ValueError, requests.RequestException) as error:
            raise OidcError(f"{self.name}: userinfo: {type(error).__name__}: {error}") from error
        if data.get("sub") != sub:
            raise OidcError(f"{self.name}: userinfo for another sub")
        return data

    def decrypt(self, value: str) -> str:
        """The signed JWT inside a JWE encrypted to us (five parts), or ``value`` itself when it
        is only signed (three parts). An encrypted answer needs our key; its content must be
        a signed JWT (never trusted for being encrypted alone)."""
        if value.count(".") != 4:
            return value
        if not self.conf.get("decryption_key"):
            raise OidcError(f"{self.name}: encrypted userinfo, no {self.name} decryption key")
        key = _private_key(self.conf["decryption_key"])
        # The provider may copy claims into the JWE header (RFC 7519 5.3: iss, aud...); they
        # are not trusted from there: only the signed JWT inside counts.
        registry = jwe.JWERegistry(
            algorithms=self.conf["decryption_algs"], strict_check_header=False
        )
        decrypted = jwe.decrypt_compact(value, key, registry=registry)
        inner = (decrypted.plaintext or b"").decode()
        if inner.count(".") != 2:
            raise OidcError(f"{self.name}: encrypted userinfo without a signed JWT inside")
        return inner

    def verify_jwt(self, value: str) -> dict:
        """A JWT signed by the provider (userinfo): signature with our algorithms, and ``iss``
        and ``aud`` when present must be the provider and us."""
        registry = JWSRegistry(
            algorithms=self.load_server_metadata()["id_token_signing_alg_values_supported"]
        )
        keys = KeySet.import_key_set(self.fetch_jwk_set())
        try:
            decoded = jwt.decode(value, keys, registry=registry)
        except JoseError:  # perhaps a rotated key: fetch the set again, once
            keys = KeySet.import_key_set(self.fetch_jwk_set(force=True))
            decoded = jwt.decode(value, keys, registry=registry)
        claims = decoded.claims
        options: dict[str, jwt.ClaimsOption] = {}
        if "iss" in claims:
            options["iss"] = {"essential": True, "value": self._issuer()}
        if "aud" in claims:
            options["aud"] = {"essential": True, "value": self.client_id}
        jwt.JWTClaimsRegistry(now=None, leeway=120, **options).validate(claims)
        return claims

    # --- Logout ---------------------------------------------------------------------------

    def post_logout_uri(self) -> str:
        return settings.SITE_URL + reverse("accounts:oidc_logged_out", args=[self.name])

    def logout(self, request, id_token: str):
        """The redirect to the provider's end-session endpoint, or None if it has none."""
        if not self.load_server_metadata().get("end_session_endpoint"):
            return None
        return self.logout_redirect(
            request, post_logout_redirect_uri=self.post_logout_uri(), id_token_hint=id_token
        )

    def finish_logout(self, request) -> None:
        try:
            self.validate_logout_response(request)
        except OAuthError as error:
            raise OidcError(f"{self.name}: logout: {error}") from error


def _private_key(value: str):
    """A private key given as a PEM or as a JWK in JSON (``<PREFIX>_DECRYPTION_KEY``)."""
    value = value.strip()
    if value.startswith("{"):
        data = json.loads(value)
        return import_key(data, data.get("kty"))
    loaded = serialization.load_pem_private_key(value.encode(), password=None)
    return import_key(
        value.encode(), "EC" if isinstance(loaded, ec.EllipticCurvePrivateKey) else "RSA"
    )


def enabled(name: str) -> bool:
    return name in settings.OIDC_PROVIDERS


def client(name: str) -> ProviderClient:
    """The client of a configured provider; 404 for a provider that is off or unknown."""
    conf = settings.OIDC_PROVIDERS.get(name)
    if conf is None:
        raise Http404
    return ProviderClient(name, conf)
