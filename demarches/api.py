"""API of the démarches, for business systems (API clients with the ``demarches:write``
scope): create a démarche for a citizen, move it to a step, add a document, end it, read it.

Every write takes an ``Idempotency-Key`` (a repeated push acts once, the first answer is
replayed) and is recorded in the démarche's history under the client's technical account.
People's sessions get a 403: these operations belong to information systems.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, prefetch_related_objects
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiClient
from contactcenter.api import (
    NON_FIELD,
    NOT_BLANK,
    ErrorSerializer,
    SchemaMaxLength,
    StrictJsonMixin,
    StrictQueryMixin,
    django_errors,
    error_data,
)
from contactcenter.api_access import ApiClientThrottle
from contactcenter.attachments import check_upload
from contactcenter.exceptions import InvalidState
from contactcenter.idempotency import (
    IDEMPOTENCY_HEADER,
    KEY_PATTERN,
    IdempotencyError,
    fingerprint,
    idempotent_api,
)
from contactcenter.permissions import ServicePrincipal
from contactcenter.views import private_file_response

from . import batch, services
from .models import Demarche, DemarcheStep

SCOPE = ApiClient.Scope.DEMARCHES_WRITE.value
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NOT_FOUND = {"404": "Usager, type ou démarche introuvable pour ce client."}


def api_client(request: Request) -> ApiClient:
    """The API client behind the token; a person's session is refused (403)."""
    user = request.user
    if not isinstance(user, ServicePrincipal):
        raise PermissionDenied("Réservé aux clients de l'API (systèmes d'information).")
    # The row the token authentication read (accounts.api_clients), else read here once.
    cached = user.client if isinstance(user.client, ApiClient) else None
    cached = cached or getattr(request, "_demarches_client", None)
    if cached is None:
        cached = ApiClient.objects.get(application__client_id=user.client_id)
        request._demarches_client = cached
    return cached


# --- serializers ---------------------------------------------------------------------------


class DemarcheCitizenSerializer(StrictJsonMixin, serializers.Serializer):
    franceconnect_sub = serializers.CharField(
        required=False, max_length=255, help_text="Identifiant FranceConnect (sub) de l'usager."
    )
    tax_number = serializers.CharField(required=False, max_length=13, help_text="Numéro fiscal.")
    social_number = serializers.CharField(
        required=False, max_length=15, help_text="Numéro de sécurité sociale."
    )

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError(
                "Donnez exactement un identifiant : franceconnect_sub, tax_number ou social_number."
            )
        return attrs


class DemarcheCreateSerializer(StrictJsonMixin, serializers.Serializer):
    type = serializers.SlugField(max_length=64, help_text="Code du type de démarche.")
    reference = serializers.RegexField(
        REFERENCE_PATTERN,
        help_text="Référence de la démarche dans le système d'information (unique par type).",
        error_messages={
            "invalid": "Référence invalide : lettres, chiffres, « . _ - », 64 au plus."
        },
    )
    citizen = DemarcheCitizenSerializer()
    step = serializers.SlugField(
        required=False, max_length=64, help_text="Étape de départ (la première par défaut)."
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        validators=[SchemaMaxLength(services.NOTE_MAX_CHARS)],
        help_text="Note visible de l'usager dans l'historique.",
    )


class DemarcheStepSerializer(StrictJsonMixin, serializers.Serializer):
    step = serializers.SlugField(max_length=64, help_text="Code d'une étape du type.")
    note = serializers.CharField(
        required=False, allow_blank=True, validators=[SchemaMaxLength(services.NOTE_MAX_CHARS)]
    )


class DemarcheCloseSerializer(StrictJsonMixin, serializers.Serializer):
    step = serializers.SlugField(
        required=False, max_length=64, help_text="Dernière étape (l'étape actuelle par défaut)."
    )
    note = serializers.CharField(
        required=False, allow_blank=True, validators=[SchemaMaxLength(services.NOTE_MAX_CHARS)]
    )


class DemarcheDocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True, help_text="Un fichier PDF, JPEG ou PNG de 10 Mo au plus."
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        validators=[NOT_BLANK, SchemaMaxLength(services.NOTE_MAX_CHARS)],
    )


class DemarcheDocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField(source="document_name")
    content_type = serializers.CharField(source="document_type")
    size = serializers.IntegerField(source="document_size")
    sha256 = serializers.CharField(source="document_sha256")
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        demarche = obj.demarche
        return reverse(
            "demarches-api:document",
            args=[demarche.type.code, demarche.external_reference, obj.public_id],
        )


class DemarcheHistorySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    # "event", not "kind": the schema's enums are named after their field, and cases have one.
    event = serializers.ChoiceField(
        source="kind",
        choices=DemarcheStep.Kind.choices,
        help_text="created, step, document (du service), citizen_document (de l'usager), closed.",
    )
    step = serializers.CharField(source="step.code")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    document = serializers.SerializerMethodField()

    @extend_schema_field(DemarcheDocumentSerializer(allow_null=True))
    def get_document(self, obj) -> dict | None:
        if not obj.document_name:
            return None
        return DemarcheDocumentSerializer(obj).data


class DemarcheStateSerializer(serializers.Serializer):
    """A démarche without its history (the answer of each operation of a batch)."""

    id = serializers.UUIDField(source="public_id")
    type = serializers.CharField(source="type.code")
    reference = serializers.CharField(source="external_reference")
    service = serializers.CharField(source="type.service.code")
    step = serializers.CharField(source="current_step.code")
    step_label = serializers.CharField(source="current_step.label")
    requires_action = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_requires_action(self, obj) -> bool:
        return not obj.is_closed and obj.current_step.requires_action


class DemarcheSerializer(DemarcheStateSerializer):
    history = DemarcheHistorySerializer(many=True)


# --- views ---------------------------------------------------------------------------------


def _answer(demarche: Demarche, code: int = status.HTTP_200_OK) -> Response:
    """The démarche as the answers show it, from the row the service just read or wrote (with
    its type, service and current step): only its history is read, in one query."""
    prefetch_related_objects(
        [demarche], Prefetch("history", queryset=DemarcheStep.objects.select_related("step"))
    )
    return Response(DemarcheSerializer(demarche).data, status=code)


class ClientView(StrictQueryMixin, APIView):
    throttle_classes = [ApiClientThrottle]
    api_error_statuses = NOT_FOUND


CREATE_EXAMPLE = OpenApiExample(
    "Demande de passeport",
    value={
        "type": "passeport",
        "reference": "PASS-2026-000123",
        "citizen": {"franceconnect_sub": "b6048e95bb134ec5b1d1e1fa69f287172e91722b9354d637a1"},
        "step": "depot",
        "note": "Dossier reçu en mairie.",
    },
    request_only=True,
)


class DemarcheCreate(ClientView):
    client_scopes = {"post": SCOPE}
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="demarches_create",
        summary="Créer une démarche pour un usager (client de l'API)",
        description=(
            "L'usager est désigné par exactement un identifiant (FranceConnect, numéro fiscal ou "
            "de sécurité sociale) ; inconnu : 404. Le type doit appartenir à un service du "
            "client. Une référence déjà utilisée pour ce type : 409."
        ),
        request=DemarcheCreateSerializer,
        responses={201: DemarcheSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[CREATE_EXAMPLE],
        tags=["demarches"],
    )
    @idempotent_api
    def post(self, request):
        client = api_client(request)
        data = DemarcheCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        ((identifier, value),) = v["citizen"].items()
        citizen = services.find_citizen(identifier, value)
        demarche = services.create_demarche(
            client,
            citizen,
            v["type"],
            v["reference"],
            step=v.get("step", ""),
            note=v.get("note", ""),
        )
        return _answer(demarche, status.HTTP_201_CREATED)


class DemarcheDetail(ClientView):
    client_scopes = {"get": SCOPE}

    @extend_schema(
        operation_id="demarches_retrieve",
        summary="Une démarche du client, avec son historique",
        responses={200: DemarcheSerializer},
        tags=["demarches"],
    )
    def get(self, request, type_code, reference):
        demarche = services.get_demarche(api_client(request), type_code, reference)
        return _answer(demarche)


class DemarcheStepView(ClientView):
    client_scopes = {"post": SCOPE}
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="demarches_step",
        summary="Faire passer une démarche à une étape",
        description=(
            "L'étape doit être une de celles du type : sinon 400, avec les étapes possibles. "
            "Une démarche terminée : 409. Demander l'étape actuelle ne change rien (200). "
            "L'usager est averti sans contenu (« votre démarche passe à l'étape … »)."
        ),
        request=DemarcheStepSerializer,
        responses={200: DemarcheSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[
            OpenApiExample(
                "Pièce manquante",
                value={"step": "piece-manquante", "note": "Photo d'identité non conforme."},
                request_only=True,
            )
        ],
        tags=["demarches"],
    )
    @idempotent_api
    def post(self, request, type_code, reference):
        data = DemarcheStepSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        demarche, _changed = services.move_to_step(
            api_client(request),
            type_code,
            reference,
            data.validated_data["step"],
            data.validated_data.get("note", ""),
        )
        return _answer(demarche)


class DemarcheClose(ClientView):
    client_scopes = {"post": SCOPE}
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="demarches_close",
        summary="Terminer une démarche",
        request=DemarcheCloseSerializer,
        responses={200: DemarcheSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[
            OpenApiExample(
                "Titre remis",
                value={"step": "remis", "note": "Passeport remis en mairie."},
                request_only=True,
            )
        ],
        tags=["demarches"],
    )
    @idempotent_api
    def post(self, request, type_code, reference):
        data = DemarcheCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        demarche = services.close_demarche(
            api_client(request),
            type_code,
            reference,
            data.validated_data.get("step", ""),
            data.validated_data.get("note", ""),
        )
        return _answer(demarche)


class DemarcheDocuments(ClientView):
    client_scopes = {"post": SCOPE}
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="demarches_document_create",
        summary="Joindre un document à une démarche (visible de l'usager)",
        description=(
            "Mêmes contrôles que les pièces jointes des demandes : PDF, JPEG ou PNG vérifiés "
            "par leur contenu (400 sinon)."
        ),
        request={"multipart/form-data": DemarcheDocumentUploadSerializer},
        responses={201: DemarcheSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["demarches"],
    )
    @idempotent_api
    def post(self, request, type_code, reference):
        data = DemarcheDocumentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            checked = check_upload(data.validated_data["file"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"file": exc.messages}) from None
        entry = services.add_document(
            api_client(request), type_code, reference, checked, data.validated_data.get("note", "")
        )
        return _answer(entry.demarche, status.HTTP_201_CREATED)


class DemarcheDocument(ClientView):
    client_scopes = {"get": SCOPE}

    @extend_schema(
        operation_id="demarches_document_download",
        summary="Télécharger un document d'une démarche (celui envoyé par l'usager)",
        responses={
            (200, content_type): OpenApiResponse(OpenApiTypes.BINARY)
            for content_type in ("application/pdf", "image/jpeg", "image/png")
        },
        tags=["demarches"],
    )
    def get(self, request, type_code, reference, document_id):
        demarche = services.get_demarche(api_client(request), type_code, reference)
        entry = demarche.history.filter(public_id=document_id).exclude(document="").first()
        if entry is None:
            raise services.NotFound("Document introuvable.")
        return private_file_response(entry.document, entry.document_name, entry.document_type)


# --- batches -------------------------------------------------------------------------------


class BatchOperationSerializer(StrictJsonMixin, serializers.Serializer):
    op = serializers.ChoiceField(
        choices=[(batch.STEP, "étape"), (batch.CLOSE, "fin")],
        help_text="step : faire passer à une étape ; close : terminer.",
    )
    idempotency_key = serializers.RegexField(
        KEY_PATTERN.pattern,
        max_length=255,
        help_text=(
            "Clé d'idempotence de l'opération (comme l'en-tête Idempotency-Key d'un appel "
            "seul) : une opération renvoyée avec la même clé ne refait rien et redonne la "
            "première réponse."
        ),
    )
    type = serializers.SlugField(max_length=64, help_text="Code du type de démarche.")
    reference = serializers.CharField(max_length=64, help_text="Référence de la démarche.")
    step = serializers.SlugField(
        required=False,
        max_length=64,
        help_text="Étape (obligatoire pour step ; pour close, l'étape actuelle par défaut).",
    )
    note = serializers.CharField(
        required=False, allow_blank=True, validators=[SchemaMaxLength(services.NOTE_MAX_CHARS)]
    )

    def validate(self, attrs):
        if attrs["op"] == batch.STEP and not attrs.get("step"):
            raise serializers.ValidationError({"step": ["Ce champ est obligatoire."]})
        return attrs


class BatchRequestSerializer(StrictJsonMixin, serializers.Serializer):
    """The request as documented; each operation is checked on its own (``post``)."""

    operations = serializers.ListField(
        child=BatchOperationSerializer(), min_length=1, max_length=batch.MAX_OPERATIONS
    )


class BatchEnvelopeSerializer(StrictJsonMixin, serializers.Serializer):
    operations = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=batch.MAX_OPERATIONS,
        error_messages={
            "max_length": (
                f"Un lot compte {batch.MAX_OPERATIONS} opérations au plus : "
                "envoyez les suivantes dans un autre lot. Rien n'a été fait."
            ),
            "min_length": "Le lot ne contient aucune opération.",
        },
    )


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Rang de l'opération dans le lot (à partir de 0).")
    idempotency_key = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(
        help_text="Le statut qu'aurait eu l'appel seul : 200, 400, 404, 409 ou 422."
    )
    replayed = serializers.BooleanField(help_text="Réponse rejouée (clé déjà traitée).")
    demarche = DemarcheStateSerializer(allow_null=True, help_text="La démarche après l'opération.")
    history_id = serializers.UUIDField(
        allow_null=True, help_text="L'entrée d'historique écrite (null : rien à changer)."
    )
    error = ErrorSerializer(allow_null=True, help_text="Le refus, comme pour l'appel seul.")


class BatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()


BATCH_EXAMPLE = OpenApiExample(
    "Deux changements d'étape et une fin",
    value={
        "operations": [
            {
                "op": "step",
                "idempotency_key": "9b1d7c0e-5b1f-4c8e-9f43-2f0f7f3c1a01",
                "type": "passeport",
                "reference": "PASS-2026-000123",
                "step": "piece-manquante",
                "note": "Photo d'identité non conforme.",
            },
            {
                "op": "step",
                "idempotency_key": "9b1d7c0e-5b1f-4c8e-9f43-2f0f7f3c1a02",
                "type": "passeport",
                "reference": "PASS-2026-000124",
                "step": "instruction",
            },
            {
                "op": "close",
                "idempotency_key": "9b1d7c0e-5b1f-4c8e-9f43-2f0f7f3c1a03",
                "type": "passeport",
                "reference": "PASS-2026-000099",
                "step": "remis",
            },
        ]
    },
    request_only=True,
)
BATCH_ANSWER_EXAMPLE = OpenApiExample(
    "Un succès, une étape inconnue",
    value={
        "results": [
            {
                "index": 0,
                "idempotency_key": "9b1d7c0e-5b1f-4c8e-9f43-2f0f7f3c1a01",
                "status": 200,
                "replayed": False,
                "demarche": {
                    "id": "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f",
                    "type": "passeport",
                    "reference": "PASS-2026-000123",
                    "service": "titres",
                    "step": "piece-manquante",
                    "step_label": "Pièce manquante",
                    "requires_action": True,
                    "created_at": "2026-03-02T09:12:00Z",
                    "updated_at": "2026-03-04T14:30:00Z",
                    "closed_at": None,
                },
                "history_id": "5c4b3a29-1807-4f6e-9d5c-4b3a29180706",
                "error": None,
            },
            {
                "index": 1,
                "idempotency_key": "9b1d7c0e-5b1f-4c8e-9f43-2f0f7f3c1a02",
                "status": 400,
                "replayed": False,
                "demarche": None,
                "history_id": None,
                "error": {
                    "detail": "Étape inconnue pour le type « passeport » : « instuction ». "
                    "Étapes possibles : depot, piece-manquante, instruction, remis.",
                    "errors": {"step": ["Étape inconnue pour le type « passeport » : …"]},
                },
            },
        ],
        "succeeded": 1,
        "failed": 1,
    },
    response_only=True,
)


def _batch_answer(demarche: Demarche, entry: DemarcheStep | None) -> dict:
    return {
        "demarche": DemarcheStateSerializer(demarche).data,
        "history_id": str(entry.public_id) if entry is not None else None,
    }


def _batch_error(exc: Exception) -> tuple[int, dict]:
    """An operation's refusal as the single call would answer it: (status, error body)."""
    if isinstance(exc, serializers.ValidationError):
        return 400, {"error": error_data(exc.detail)}
    if isinstance(exc, DjangoValidationError):
        return 400, {"error": error_data(django_errors(exc))}
    if isinstance(exc, services.NotFound):
        return 404, {"error": {"detail": str(exc.message)}}
    if isinstance(exc, InvalidState):
        return 409, {"error": error_data({NON_FIELD: [str(exc.message)]})}
    if isinstance(exc, IdempotencyError):
        return exc.status, {"error": {"detail": exc.message}}
    raise exc


class DemarcheBatch(ClientView):
    client_scopes = {"post": SCOPE}
    parser_classes = [JSONParser]
    api_error_statuses: dict[str, str] = {}

    @extend_schema(
        operation_id="demarches_batch",
        summary="Un lot de changements d'étape et de fins (jusqu'à 100 opérations)",
        description=(
            "Pour les flux d'états en masse : chaque opération (step ou close) agit comme "
            "l'appel seul (mêmes contrôles, même historique, mêmes webhooks et alertes) avec "
            "sa propre clé d'idempotence. Réponse 200 dès que le lot est bien formé, avec le "
            "résultat de chaque opération dans l'ordre : son statut (celui de l'appel seul), "
            "la démarche après l'opération, ou le refus. Une opération refusée ne fait rien "
            "et n'empêche pas les autres ; les opérations sur une même démarche s'appliquent "
            "dans l'ordre. Plus de 100 opérations : 400, rien n'est fait."
        ),
        request=BatchRequestSerializer,
        responses={200: BatchResponseSerializer},
        examples=[BATCH_EXAMPLE, BATCH_ANSWER_EXAMPLE],
        tags=["demarches"],
    )
    def post(self, request):
        client = api_client(request)
        envelope = BatchEnvelopeSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        operations: list[batch.Operation] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(envelope.validated_data["operations"]):
            operations.append(_operation(index, raw, seen))
        batch.run(client, operations, _batch_answer, _batch_error)
        results = [
            {
                "index": operation.index,
                "idempotency_key": operation.key or None,
                "status": operation.status,
                "replayed": operation.replayed,
                "demarche": None,
                "history_id": None,
                "error": None,
                **(operation.body or {}),
            }
            for operation in operations
        ]
        failed = sum(operation.status >= 400 for operation in operations)
        return Response(
            {"results": results, "succeeded": len(operations) - failed, "failed": failed}
        )


def _operation(index: int, raw: dict, seen: dict[str, int]) -> batch.Operation:
    """One operation of the request, checked for shape (a refusal answers it at once)."""
    key = raw.get("idempotency_key")
    data = BatchOperationSerializer(data=raw)
    valid = data.is_valid()
    v = data.validated_data if valid else {}
    operation = batch.Operation(
        index,
        v.get("op", ""),
        key if isinstance(key, str) else "",
        v.get("type", ""),
        v.get("reference", ""),
        v.get("step", ""),
        v.get("note", ""),
        fingerprint(f"batch:{v.get('op')}:{v.get('type')}/{v.get('reference')}", raw),
    )
    if not valid:
        operation.status, operation.body = _batch_error(serializers.ValidationError(data.errors))
    elif operation.key in seen:
        operation.status, operation.body = _batch_error(
            serializers.ValidationError(
                {
                    "idempotency_key": [
                        f"Clé déjà donnée à l'opération {seen[operation.key]} de ce lot."
                    ]
                }
            )
        )
    else:
        seen[operation.key] = index
    return operation
