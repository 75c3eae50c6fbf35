"""Shared API pieces: one error format, strict query strings, and a schema that says so.

Every error of the API, whatever its status, is ``{"detail": "...", "errors": {...}}``:
``detail`` is a sentence to show as is, ``errors`` (only on 400 and 409) lists the messages
per field (``non_field_errors`` for the request as a whole). The schema (drf-spectacular)
documents that body on every operation, with the statuses it can have: 400 (invalid request,
unknown query parameter), 403 (not logged in, or not allowed), 404 (for operations on one
object), 409 (the object's state forbids the action), 415 (request body of an unsupported
type), 429 (throttled operations).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator, RegexValidator
from django.db import DatabaseError
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .api_access import InvalidToken
from .exceptions import DomainError, InvalidState, NotAllowed, NotFound
from .idempotency import IDEMPOTENCY_HEADER

NON_FIELD = "non_field_errors"


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Message à afficher tel quel.")

    def get_fields(self) -> dict[str, serializers.Field]:
        # The body's "errors" field (this serializer only describes the schema) is added here:
        # declared on the class, it would shadow the serializer's own ``errors``.
        fields = super().get_fields()
        fields["errors"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text=(
                "Messages par champ (400 et 409) ; « non_field_errors » pour la requête entière."
            ),
        )
        return fields


class Conflict(exceptions.APIException):
    """The request is well formed but the object's current state forbids it (e.g. closing a
    case that is already closed)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Cette action n'est pas possible dans l'état actuel de la demande."
    default_code = "conflict"


def django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (NON_FIELD if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {NON_FIELD: exc.messages}


def conflict(exc: DjangoValidationError) -> Conflict:
    return Conflict(django_errors(exc))


def _messages(value) -> list[str]:
    """Every message under a (possibly nested) DRF error detail, in order."""
    if isinstance(value, dict):
        return [message for item in value.values() for message in _messages(item)]
    if isinstance(value, list | tuple):
        return [message for item in value for message in _messages(item)]
    return [str(value)]


def domain_to_api(exc: DomainError) -> Exception:
    """A service's domain error as the API exception with the same message (404, 403, 409)."""
    if isinstance(exc, NotFound):
        return Http404(exc.message)
    if isinstance(exc, NotAllowed):
        return DjangoPermissionDenied(exc.message)
    if isinstance(exc, InvalidState):
        return Conflict({NON_FIELD: [str(exc.message)]})
    return exceptions.ValidationError({NON_FIELD: [str(exc.message)]})


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        exc = domain_to_api(exc)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_errors(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, InvalidToken):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = 'Bearer realm="api", error="invalid_token"'
    detail = getattr(exc, "detail", None)
    if isinstance(exc, Http404) or not isinstance(detail, dict | list):
        message = response.data.get("detail") if isinstance(response.data, dict) else None
        response.data = {"detail": str(message or exc)}
        return response
    response.data = error_data(detail)
    return response


def error_data(detail: dict | list) -> dict:
    """The error body of a validation or state error's detail (per field, or a list for the
    request as a whole): ``{"detail": ..., "errors": {...}}``."""
    if isinstance(detail, list):
        detail = {NON_FIELD: detail}
    errors = {field: _messages(value) for field, value in detail.items()}
    return {"detail": " ".join(_messages(errors)), "errors": errors}


class StrictQueryMixin(APIView):
    """Reject query parameters the operation does not document (400), instead of ignoring a
    misspelt filter and answering as if it had been applied.

    ``query_parameters`` maps an action (viewsets) or a lower-case method (views) to the names
    it accepts."""

    query_parameters: dict[str, set[str]] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not hasattr(self, request.method.lower()):
            return  # a method the operation does not have: DRF answers 405
        key = getattr(self, "action", None) or request.method.lower()
        unknown = sorted(set(request.query_params) - self.query_parameters.get(key, set()))
        if unknown:
            raise exceptions.ValidationError(
                {name: ["Paramètre inconnu pour cette opération."] for name in unknown}
            )


class GuichetAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error responses every operation can give."""

    def _error_statuses(self) -> dict[str, str]:
        statuses = {
            "400": "Requête invalide (champs ou paramètres) : voir « errors ».",
            "403": "Non connecté, ou action non permise à ce compte (ou à ce jeton).",
        }
        key = getattr(self.view, "action", None) or self.method.lower()
        if key in getattr(self.view, "client_scopes", {}):
            statuses["401"] = "Jeton d'accès (client de l'API) invalide, expiré ou révoqué."
        if "{" in self.path:
            statuses["404"] = "Introuvable, ou pas visible de ce compte."
        elif self.method == "GET" and self._is_list_view() and self._get_paginator():
            statuses["404"] = "Curseur de pagination non valide."
        if self.method in ("POST", "PUT", "PATCH"):
            statuses["409"] = "L'état de l'objet ne permet pas cette action."
            statuses["415"] = "Type de contenu de la requête non pris en charge."
        if any(
            getattr(parameter, "name", None) == IDEMPOTENCY_HEADER.name
            for parameter in self.get_override_parameters()
        ):
            statuses["422"] = "Clé d'idempotence déjà utilisée pour une autre requête."
        if getattr(self.view, "throttle_classes", None):
            statuses["429"] = "Trop de requêtes : réessayez plus tard."
        # Statuses an operation adds (e.g. a 404 for an object named in the request body).
        statuses.update(getattr(self.view, "api_error_statuses", {}))
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_statuses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code
                )
        return responses


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
def not_found(request, path=""):
    """Any other path under /api/: a 404 in the API's error format, not an HTML page."""
    raise exceptions.NotFound("Cette adresse ne correspond à aucune opération de l'API.")


def topic_slug_enum(result, generator, request, public):
    """Postprocessing hook: "topic" fields and parameters take the active topics' slugs (read
    when the schema is generated, so that the schema lists exactly what the API accepts)."""
    from .models import Topic

    active = Topic.objects.filter(is_active=True).order_by("slug")
    try:
        slugs = list(active.values_list("slug", flat=True))
    except DatabaseError:
        # drf-spectacular's system check (check --deploy) builds the schema with no database.
        return result
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "topic" and parameter.get("in") == "query":
                    parameter["schema"] = {"type": "string", "enum": slugs}
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and "topic" in component.get("properties", {}):
            component["properties"]["topic"] = {"type": "string", "enum": slugs}
    return result


_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
}
_TYPE_NAMES = {
    "string": "du texte",
    "integer": "un nombre entier",
    "boolean": "true ou false",
    "array": "une liste",
}


def _json_type(field) -> str | None:
    if isinstance(field, serializers.FileField):
        return None
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.ListField):
        return "array"
    if isinstance(field, serializers.ChoiceField):
        kinds = {type(key) for key in field.choices}
        return "integer" if kinds == {int} else "string"
    if isinstance(field, serializers.CharField | serializers.UUIDField):
        return "string"
    if isinstance(field, serializers.SlugRelatedField):
        return "string"
    return None


class StrictJsonMixin(serializers.Serializer):
    """JSON request bodies must carry each field with the type the schema gives it: DRF
    itself turns 12 into "12" for a text field and "true" into True for a boolean, so a body
    that violates the schema would be accepted. Form-encoded bodies (all text) keep DRF's
    parsing."""

    def to_internal_value(self, data):
        from django.http import QueryDict

        if isinstance(data, QueryDict):
            # Form fields are text: a boolean is "true" or "false", as the schema's clients
            # send it, not any of the spellings DRF also takes ("0", "on", "yes", ...).
            errors = {
                name: ["Valeur attendue : true ou false."]
                for name, field in self.fields.items()
                if isinstance(field, serializers.BooleanField)
                and not field.read_only
                and name in data
                and str(data[name]).lower() not in ("true", "false")
            }
            if errors:
                raise serializers.ValidationError(errors)
        elif isinstance(data, dict):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data or data[name] is None:
                    continue
                kind = _json_type(field)
                value = data[name]
                if kind is None:
                    continue
                wrong = not isinstance(value, _JSON_TYPES[kind]) or (
                    kind == "integer" and isinstance(value, bool)
                )
                if wrong:
                    errors[name] = [f"Valeur attendue : {_TYPE_NAMES[kind]}."]
                elif (
                    isinstance(field, serializers.ListField)
                    and isinstance(field.child, serializers.UUIDField)
                    and any(not isinstance(item, str) for item in value)
                ):
                    errors[name] = ["Valeur attendue : une liste d'identifiants (texte)."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class SchemaMaxLength(MaxLengthValidator):
    """A limit written in the schema only: the services check it, with a precise message
    (both lengths) and together with the other fields' errors."""

    def __call__(self, value):
        return None


class SchemaPattern(RegexValidator):
    """A pattern written in the schema only, checked by the services (see SchemaMaxLength)."""

    def __call__(self, value):
        return None


# A text with at least one visible character (the services strip texts and refuse them empty).
NOT_BLANK = SchemaPattern(r"\S")
