"""What API clients (other information systems, OAuth2 client credentials) may call: the
401 of a bad token, the scope each operation needs, and the per-client throttle.

Kept apart from ``contactcenter.api`` because the authentication class imports it, and DRF
loads authentication classes while ``rest_framework.views`` is being imported."""

from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle


class InvalidToken(exceptions.AuthenticationFailed):
    """A bearer token that is unknown, expired or revoked: always a 401 (DRF would answer 403
    because the first authentication class, the session, has no challenge to send)."""

    default_detail = "Jeton d'accès invalide, expiré ou révoqué."
    default_code = "invalid_token"


CLIENT_OPERATION_CLOSED = "Cette opération n'est pas ouverte aux clients de l'API."


def check_client_scope(view, request, scopes) -> None:
    """Endpoints are closed to API clients unless the view maps the operation (its action, or
    the lower-case method) to a scope in ``client_scopes``; the token must carry that scope.
    Called by the client authentication, so that no view can forget it (403 otherwise)."""
    key = getattr(view, "action", None) or request.method.lower()
    required = getattr(view, "client_scopes", {}).get(key)
    if required is None:
        raise exceptions.PermissionDenied(CLIENT_OPERATION_CLOSED)
    if required not in scopes:
        raise exceptions.PermissionDenied(f"Ce jeton n'a pas la portée « {required} ».")


class ApiClientThrottle(SimpleRateThrottle):
    """Per API client rate limit (``GUICHET_API_CLIENT_THROTTLE``); sessions are not counted."""

    scope = "api_client"

    def get_cache_key(self, request, view):
        client_id = getattr(request.user, "client_id", None)
        if client_id is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": client_id}
