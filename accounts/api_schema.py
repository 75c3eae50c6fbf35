"""The API clients' security scheme in the OpenAPI schema (drf-spectacular): OAuth2 client
credentials, with the scope each operation open to clients needs (its ``client_scopes``).
Operations closed to clients list only the session cookie."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .models import ApiClient


class ApiClientScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_clients.ApiClientAuthentication"
    name = "oauth2"

    def get_security_requirement(self, auto_schema):
        view = auto_schema.view
        key = getattr(view, "action", None) or auto_schema.method.lower()
        scope = getattr(view, "client_scopes", {}).get(key)
        return None if scope is None else {self.name: [scope]}

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": (
                "Systèmes d'information partenaires : jeton obtenu par client credentials, "
                f"valable {settings.OAUTH2_PROVIDER['ACCESS_TOKEN_EXPIRE_SECONDS']} s."
            ),
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/api/oauth/token/",
                    "scopes": dict(ApiClient.Scope.choices),
                }
            },
        }
