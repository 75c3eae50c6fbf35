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


def _webhook_event_schema() -> dict:
    from contactcenter.models import Case, Channel

    from .models import WebhookEndpoint

    status = {"type": "string", "enum": list(Case.Status.values)}
    reference = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    return {
        "type": "object",
        "description": (
            "Corps d'un webhook (docs/api.md, « Webhooks ») : des références seulement, jamais "
            "l'objet, un message ni l'identité de l'usager. En-têtes webhook-id, "
            "webhook-timestamp, webhook-signature (Standard Webhooks)."
        ),
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "enum": list(WebhookEndpoint.EventType.values)},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "description": (
                    "« case » pour les événements case.* et message.*, « demarche » pour les "
                    "événements demarche.*."
                ),
                "properties": {
                    "case": {
                        "type": "object",
                        "required": [
                            "reference",
                            "url",
                            "service",
                            "topic",
                            "kind",
                            "channel",
                            "status",
                        ],
                        "properties": {
                            "reference": {"type": "string"},
                            "url": {"type": "string", "format": "uri"},
                            "service": {"type": "string"},
                            "topic": {"type": "string"},
                            "kind": {"type": "string", "enum": list(Case.Kind.values)},
                            "channel": {"type": "string", "enum": list(Channel.values)},
                            "status": status,
                        },
                    },
                    "event": reference,
                    "message": reference,
                    "status": {
                        "type": "object",
                        "properties": {
                            "from": status,
                            "to": status,
                            "resolution": {"type": "string"},
                        },
                    },
                    "assignment": {
                        "type": "object",
                        "properties": {"assigned_at": {"type": "string", "format": "date-time"}},
                    },
                    "demarche": {
                        "type": "object",
                        "required": ["id", "type", "reference", "service", "step", "url"],
                        "properties": {
                            "id": {"type": "string", "format": "uuid"},
                            "type": {"type": "string"},
                            "reference": {"type": "string"},
                            "service": {"type": "string"},
                            "step": {"type": "string"},
                            "closed_at": {
                                "type": "string",
                                "format": "date-time",
                                "nullable": True,
                            },
                            "url": {"type": "string", "format": "uri"},
                        },
                    },
                    "history": {
                        "type": "object",
                        "properties": {"id": {"type": "string", "format": "uuid"}},
                    },
                    "step": {
                        "type": "object",
                        "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
                    },
                    "document": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string", "format": "uuid"},
                            "content_type": {"type": "string"},
                            "size": {"type": "integer"},
                            "sha256": {"type": "string"},
                            "url": {"type": "string", "format": "uri"},
                        },
                    },
                },
            },
        },
        "example": {
            "type": "case.status_changed",
            "timestamp": "2026-03-02T09:14:07.512000Z",
            "data": {
                "case": {
                    "reference": "2026-000123",
                    "url": "https://guichet.example.fr/api/cases/2026-000123/",
                    "service": "sip",
                    "topic": "impots-changement-adresse",
                    "kind": "question",
                    "channel": "web",
                    "status": "closed",
                },
                "event": {"id": 4812},
                "status": {"from": "in_progress", "to": "closed", "resolution": "answered"},
            },
        },
    }


def webhooks_schema(result, generator, request, public):
    """Postprocessing hook: the webhooks' body as the ``WebhookEvent`` component, and each event
    under ``x-webhooks`` (the schema stays OpenAPI 3.0, whose root has no ``webhooks``)."""
    from .models import WebhookEndpoint

    result.setdefault("components", {}).setdefault("schemas", {})["WebhookEvent"] = (
        _webhook_event_schema()
    )
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}},
    }
    result["x-webhooks"] = {
        event: {
            "post": {
                "summary": str(label),
                "description": (
                    "Envoyé aux points de réception des clients ayant la portée « webhooks », "
                    "pour les demandes et les démarches de leurs services."
                ),
                "requestBody": body,
                "responses": {"2XX": {"description": "Reçu ; tout autre code est une erreur."}},
            }
        }
        for event, label in WebhookEndpoint.EventType.choices
    }
    return result
