"""API clients (OAuth2 client credentials, django-oauth-toolkit): creation, revocation, the
token's authentication as a service-scoped principal, and the scopes each client may ask for.
The checks of scope and the per-client throttle live with the other API rules in
``contactcenter.api``; the visibility of cases in ``contactcenter.permissions``."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, RefreshToken
from oauth2_provider.scopes import BaseScopes

from contactcenter.api_access import InvalidToken, check_client_scope
from contactcenter.models import Service, User
from contactcenter.permissions import ServicePrincipal

from .models import ApiClient

# last_used_at is written at most this often per client (not one UPDATE per call).
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Credentials:
    client: ApiClient
    client_id: str
    client_secret: str  # shown once: only its hash is stored


def create_api_client(name: str, services: Iterable[Service], scopes: Iterable[str]) -> Credentials:
    scopes = sorted(set(scopes))
    unknown = set(scopes) - set(ApiClient.Scope.values)
    if unknown:
        raise ValueError(f"Portées inconnues : {', '.join(sorted(unknown))}")
    services = list(services)
    if not services:
        raise ValueError("Un client de l'API appartient à au moins un service.")
    secret = generate_client_secret()
    with transaction.atomic():
        username = f"api-{secrets.token_hex(8)}"
        account = User(
            username=username,
            email=f"{username}@api.invalid",
            first_name="API",
            last_name=name[:150],
            role=User.Role.AGENT,
            is_active=False,
        )
        account.set_unusable_password()
        account.save()
        application = Application.objects.create(
            name=name,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
            hash_client_secret=True,
        )
        client = ApiClient.objects.create(application=application, account=account, scopes=scopes)
        client.services.set(services)
    return Credentials(client, application.client_id, secret)


def revoke_api_client(client: ApiClient) -> None:
    """No new token (the secret is replaced by one nobody knows), and the tokens already
    issued stop working at once."""
    with transaction.atomic():
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
        client.application.client_secret = generate_client_secret()
        client.application.save(update_fields=["client_secret"])
        RefreshToken.objects.filter(application=client.application).delete()
        AccessToken.objects.filter(application=client.application).delete()


class ClientScopesBackend(BaseScopes):
    """django-oauth-toolkit's SCOPES_BACKEND_CLASS: a client may ask only for its own scopes
    (all of them by default), a revoked client for none."""

    def get_all_scopes(self):
        return dict(ApiClient.Scope.choices)

    def _scopes_of(self, application) -> list[str]:
        client = ApiClient.objects.filter(application=application, revoked_at=None).first()
        return list(client.scopes) if client else []

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return self._scopes_of(application)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return self._scopes_of(application)


class ApiClientAuthentication(OAuth2Authentication):
    """``Authorization: Bearer <token>`` of an API client, as a ``ServicePrincipal``. No bearer
    header: not this authentication (the session's turn). An unknown, expired or revoked token,
    or a revoked client: 401. An operation the view does not open to clients, or a scope the
    token lacks: 403."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("bearer "):
            return None
        result = super().authenticate(request)
        if result is None:
            raise InvalidToken()
        _user, token = result
        client = (
            ApiClient.objects.select_related("account")
            .filter(application_id=token.application_id, revoked_at=None)
            .first()
        )
        if client is None:
            raise InvalidToken()
        client.application = token.application  # read with the token
        principal = ServicePrincipal(
            client_id=client.application.client_id,
            account=client.account,
            service_ids=client.services.values_list("id", flat=True),
            scopes=set(token.scope.split()) & set(client.scopes),
            client=client,
        )
        check_client_scope(request.parser_context["view"], request, principal.scopes)
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > LAST_USED_PRECISION:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return principal, token
