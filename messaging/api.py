"""REST API of the secure messaging: cases, messages, attachments (under ``/api/``).

Same rules as the pages: every lookup goes through ``contactcenter.permissions`` (somebody
else's case, message or attachment is a 404), citizens create cases and write in their own,
staff read and answer the cases of their services (each read of a case is audited). Bad input
is a 400 with field errors: the services' ValidationErrors are turned into DRF ones by
``contactcenter.api.exception_handler``.
"""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from contactcenter.api import (
    NOT_BLANK,
    Conflict,
    SchemaMaxLength,
    StrictJsonMixin,
    StrictQueryMixin,
    conflict,
)
from contactcenter.api_access import ApiClientThrottle
from contactcenter.attachments import check_upload
from contactcenter.idempotency import IDEMPOTENCY_HEADER, idempotent_api
from contactcenter.labels import choice_labels
from contactcenter.models import AuditLog, Case, Event, Satisfaction, Topic, Transfer, User
from contactcenter.permissions import (
    ServicePrincipal,
    get_case_or_404,
    record_access,
    user_service_ids,
    visible_cases,
)
from contactcenter.services import rate_case

from . import services
from .models import Attachment
from .views import attachment_for, stream_attachment

MESSAGE_TYPES = (Event.Type.MESSAGE, Event.Type.REQUEST_INFO, Event.Type.NOTE)
MAX_PENDING_DRAFTS = 20
# Services' errors that come from the case's state, not from the request (409).
STATE_ERRORS = {"closed", "already_closed", "not_closed"}


def _service_error(exc: DjangoValidationError):
    """A services' ValidationError as the API answers it: field errors are a 400 (the
    exception handler), a closed case a 409, anything else about the user a 403."""
    if hasattr(exc, "error_dict"):
        raise exc
    if getattr(exc, "code", None) in STATE_ERRORS:
        raise conflict(exc) from exc
    raise PermissionDenied(" ".join(exc.messages)) from exc


def _state_error(exc: DjangoValidationError):
    """Closing, reopening, rating: field errors are a 400, the rest the case's state (409)."""
    if hasattr(exc, "error_dict"):
        raise exc
    raise conflict(exc) from exc


class IsCitizen(permissions.BasePermission):
    message = "Réservé aux usagers."

    def has_permission(self, request, view):
        return request.user.is_authenticated and request.user.is_citizen


# --- serializers ---------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(source="original_name", read_only=True)
    download_url = serializers.SerializerMethodField()
    message = serializers.IntegerField(source="event_id", read_only=True, allow_null=True)

    class Meta:
        model = Attachment
        fields = [
            "id",
            "name",
            "content_type",
            "size",
            "sha256",
            "message",
            "created_at",
            "download_url",
        ]

    def get_download_url(self, obj) -> str:
        return reverse("messaging-api:attachment-download", args=[obj.public_id])


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    from_citizen = serializers.BooleanField(source="by_citizen", read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "internal",
            "from_citizen",
            "author",
            "body",
            "created_at",
            "attachments",
        ]

    def get_author(self, obj) -> str:
        """The author's name for staff; for citizens, "Vous" or the service's name."""
        request = self.context["request"]
        if obj.by_citizen:
            return "Vous" if request.user.pk == obj.citizen_id else obj.case.citizen.display_name
        if request.user.is_staff_member and obj.actor is not None:
            return obj.actor.display_name
        return obj.case.service.name


class CaseSerializer(serializers.ModelSerializer):
    topic: serializers.SlugRelatedField[Topic] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    topic_title = serializers.CharField(source="topic.title", read_only=True)
    service = serializers.CharField(source="service.name", read_only=True)
    status_label = serializers.SerializerMethodField()
    kind_label = serializers.SerializerMethodField()
    waits_on_citizen = serializers.BooleanField(read_only=True)
    # "" until the case is closed: the schema lists it with the resolutions.
    resolution = serializers.ChoiceField(
        choices=Case.Resolution.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Case
        fields = [
            "reference",
            "subject",
            "topic",
            "topic_title",
            "service",
            "kind",
            "kind_label",
            "channel",
            "status",
            "status_label",
            "waits_on_citizen",
            "resolution",
            "created_at",
            "last_activity_at",
            "closed_at",
        ]
        read_only_fields = fields

    # As get_status_display / get_kind_display, from labels translated once per language: DRF
    # inspects the signature of a method used as a field source on every row.
    def get_status_label(self, obj) -> str:
        return choice_labels(Case.Status).get(obj.status, obj.status)

    def get_kind_label(self, obj) -> str:
        return choice_labels(Case.Kind).get(obj.kind, obj.kind)


class StaffCaseSerializer(CaseSerializer):
    citizen = serializers.CharField(source="citizen.display_name", read_only=True)
    assigned_to = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields,
            "citizen",
            "assigned_to",
            "fragile",
            "priority",
            "sla_deadline",
            "sla_breached",
            "first_response_at",
        ]
        read_only_fields = fields

    def get_assigned_to(self, obj) -> str | None:
        return obj.assigned_to.display_name if obj.assigned_to_id else None


class FilesMixin(StrictJsonMixin, serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        max_length=settings.GUICHET_ATTACHMENT_MAX_COUNT,
        default=list,
        help_text="Jusqu'à 5 fichiers PDF, JPEG ou PNG de 10 Mo au plus (multipart).",
    )


class CaseCreateSerializer(FilesMixin):
    topic = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Topic.objects.filter(is_active=True),
        error_messages={
            "does_not_exist": "Thème inconnu : choisissez un des thèmes proposés.",
            "required": "Choisissez un thème.",
        },
    )
    kind = serializers.ChoiceField(
        choices=Case.Kind.choices,
        error_messages={
            "invalid_choice": "Nature de demande inconnue.",
            "required": "Choisissez la nature de votre demande.",
        },
    )
    subject = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        validators=[NOT_BLANK, SchemaMaxLength(services.SUBJECT_MAX_CHARS)],
    )
    body = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        validators=[NOT_BLANK, SchemaMaxLength(settings.GUICHET_MESSAGE_MAX_CHARS)],
    )
    chatbot_conversation = serializers.CharField(required=False, allow_blank=True, max_length=64)
    fragile = serializers.BooleanField(required=False, default=False)


class MessageCreateSerializer(FilesMixin):
    type = serializers.ChoiceField(
        choices=[
            ("message", "Message (usager) ou réponse (agent)"),
            ("request_info", "Demande de précisions (agent)"),
            ("note", "Note interne (agent)"),
        ],
        required=False,
        default="message",
    )
    body = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        validators=[NOT_BLANK, SchemaMaxLength(settings.GUICHET_MESSAGE_MAX_CHARS)],
    )
    attachments = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        default=list,
        help_text="Identifiants de pièces jointes déjà téléversées sur cette demande.",
    )


class CloseSerializer(StrictJsonMixin, serializers.Serializer):
    resolution = serializers.ChoiceField(
        choices=Case.Resolution.choices,
        required=False,
        help_text="Obligatoire pour un agent ; ignorée pour l'usager.",
    )
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class RatingSerializer(StrictJsonMixin, serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


# --- views ---------------------------------------------------------------------------------


class CasePagination(CursorPagination):
    ordering = ("-last_activity_at", "-id")
    page_size = 25


@extend_schema_view(
    list=extend_schema(
        summary="Demandes visibles",
        parameters=[
            OpenApiParameter("status", str, enum=Case.Status.values, description="Filtre statut"),
        ],
    ),
    retrieve=extend_schema(summary="Une demande (consultation auditée pour les agents)"),
)
class CaseViewSet(
    StrictQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    lookup_field = "reference"
    query_parameters = {"list": {"status", "cursor"}}
    # Operations open to API clients, with the scope their token needs (contactcenter.api).
    client_scopes = {
        "list": "cases:read",
        "retrieve": "cases:read",
        "messages": "cases:read",
        "close": "cases:write",
        "reopen": "cases:write",
    }
    throttle_classes = [ApiClientThrottle]
    lookup_value_regex = r"[0-9A-Za-z-]+"
    pagination_class = CasePagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        user = cast(User, self.request.user)  # IsAuthenticated: never anonymous here
        cases = visible_cases(user).select_related("topic", "service", "citizen", "assigned_to")
        if user.is_staff_member and not user.is_admin_role and not self._pending_transfers(user):
            # Same rows (without pending transfers, staff see exactly their services' cases),
            # but PostgreSQL can walk the (service, status, activity) index instead of
            # sorting every case of the service.
            cases = cases.filter(service_id__in=user_service_ids(user))
        wanted = self.request.query_params.get("status")
        if wanted is not None:  # "?status=" too: an empty filter is not "no filter"
            if wanted not in Case.Status.values:
                raise serializers.ValidationError({"status": ["Statut inconnu."]})
            cases = cases.filter(status=wanted)
        return cases

    @staticmethod
    def _pending_transfers(user) -> bool:
        return user.is_agent and (
            Transfer.objects.filter(to_agent=user, accepted_at__isnull=True).exists()
        )

    def get_serializer_class(self):
        if self.request.user.is_authenticated and self.request.user.is_staff_member:
            return StaffCaseSerializer
        return CaseSerializer

    def get_object(self) -> Case:
        user = cast(User, self.request.user)  # IsAuthenticated: never anonymous here
        return get_case_or_404(user, reference=self.kwargs["reference"])

    def retrieve(self, request, *args, **kwargs):
        case = self.get_object()
        record_access(request.user, AuditLog.Action.VIEW_CASE, case=case, reason="api")
        return Response(self.get_serializer(case).data)

    @extend_schema(
        summary="Déposer une demande (usager)",
        request={
            "multipart/form-data": CaseCreateSerializer,
            "application/json": CaseCreateSerializer,
        },
        responses={201: CaseSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent_api
    def create(self, request, *args, **kwargs):
        if not IsCitizen().has_permission(request, self):
            raise PermissionDenied("Seuls les usagers déposent des demandes.")
        data = CaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            case = services.create_request(
                request.user,
                v["topic"],
                v["kind"],
                v["subject"],
                v["body"],
                files=v["files"],
                chatbot_conversation=v.get("chatbot_conversation") or None,
                fragile=v["fragile"],
            )
        except DjangoValidationError as exc:
            _service_error(exc)
        return Response(
            CaseSerializer(case, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    # --- messages ---

    def _messages(self, case: Case):
        events = (
            Event.objects.filter(case=case, type__in=MESSAGE_TYPES)
            .select_related("actor", "case__service", "case__citizen")
            .prefetch_related(
                Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id"))
            )
            .order_by("created_at", "id")
        )
        if not cast(User, self.request.user).is_staff_member:
            events = events.filter(internal=False)
        return events

    @extend_schema(summary="Fil des messages d'une demande", responses=MessageSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="messages", pagination_class=None)
    def messages(self, request, reference=None):
        case = self.get_object()
        record_access(request.user, AuditLog.Action.VIEW_CASE, case=case, reason="api messages")
        serializer = MessageSerializer(
            self._messages(case), many=True, context={"request": request}
        )
        return Response(serializer.data)

    @extend_schema(
        summary="Écrire dans une demande",
        description=(
            "Usager : un message (le type est « message »). Agent : « message » répond "
            "(statut « répondue »), « request_info » demande des précisions (statut « en attente "
            "de votre réponse »), « note » ajoute une note interne jamais visible de l'usager."
        ),
        request={
            "multipart/form-data": MessageCreateSerializer,
            "application/json": MessageCreateSerializer,
        },
        responses={201: MessageSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @messages.mapping.post
    @idempotent_api
    def post_message(self, request, reference=None):
        case = self.get_object()
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        drafts = list(
            Attachment.objects.filter(
                public_id__in=v["attachments"],
                case=case,
                uploaded_by=request.user,
                event__isnull=True,
            )
        )
        if len(drafts) != len(set(v["attachments"])):
            raise Conflict(
                {"attachments": ["Pièce jointe inconnue ou déjà envoyée avec un message."]}
            )
        user = request.user
        try:
            if user.is_citizen:
                if v["type"] != "message":
                    raise serializers.ValidationError(
                        {"type": ["Un usager envoie uniquement des messages."]}
                    )
                event = services.post_citizen_message(
                    case, user, v["body"], files=v["files"], attachments=drafts
                )
            elif v["type"] == "note":
                if v["files"] or drafts:
                    raise serializers.ValidationError(
                        {"files": ["Une note interne ne peut pas porter de pièce jointe."]}
                    )
                event = services.add_internal_note(case, user, v["body"])
            elif v["type"] == "request_info":
                event = services.request_details(
                    case, user, v["body"], files=v["files"], attachments=drafts
                )
            else:
                event = services.post_agent_reply(
                    case, user, v["body"], files=v["files"], attachments=drafts
                )
        except DjangoValidationError as exc:
            _service_error(exc)
        event = self._messages(case).get(pk=event.pk)
        return Response(
            MessageSerializer(event, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    # --- attachments ---

    @extend_schema(
        summary="Pièces jointes d'une demande", responses=AttachmentSerializer(many=True)
    )
    @action(detail=True, methods=["get"], url_path="attachments", pagination_class=None)
    def attachments(self, request, reference=None):
        case = self.get_object()
        files = Attachment.objects.filter(case=case).select_related("event")
        files = files.exclude(event__isnull=True) | files.filter(
            event__isnull=True, uploaded_by=request.user
        )
        if not request.user.is_staff_member:
            files = files.exclude(event__internal=True)
        return Response(AttachmentSerializer(files.order_by("created_at", "id"), many=True).data)

    @extend_schema(
        summary="Téléverser une pièce jointe (brouillon, à joindre ensuite à un message)",
        request={"multipart/form-data": UploadSerializer},
        responses={201: AttachmentSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @attachments.mapping.post
    @idempotent_api
    def upload_attachment(self, request, reference=None):
        case = self.get_object()
        if case.status == Case.Status.CLOSED:
            raise Conflict(
                {"file": ["Cette demande est clôturée : rouvrez-la pour ajouter un fichier."]}
            )
        data = UploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        pending = Attachment.objects.filter(uploaded_by=request.user, event__isnull=True).count()
        if pending >= MAX_PENDING_DRAFTS:
            raise Conflict(
                {"file": ["Trop de fichiers en attente : envoyez d'abord votre message."]}
            )
        try:
            info = check_upload(upload)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"file": exc.messages})
        attachment = Attachment(
            case=case,
            uploaded_by=request.user,
            original_name=info.name,
            content_type=info.content_type,
            size=info.size,
            sha256=info.sha256,
        )
        attachment.file.save(attachment.extension, info.as_file(), save=False)
        try:
            attachment.save()
        except BaseException:
            attachment.file.storage.delete(attachment.file.name)
            raise
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    # --- closing, reopening, rating ---

    @extend_schema(
        summary="Clôturer une demande", request=CloseSerializer, responses={200: CaseSerializer}
    )
    # JSON only: every field is optional, so an unreadable form body would read as "no field".
    @action(detail=True, methods=["post"], parser_classes=[JSONParser])
    def close(self, request, reference=None):
        case = self.get_object()
        if not isinstance(request.data, dict):
            raise serializers.ValidationError(
                "Corps de requête attendu : un objet JSON, ou aucun corps."
            )
        data = CloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if isinstance(request.user, ServicePrincipal) and data.validated_data.get("body"):
            # An information system changes the status; it does not write to the citizen.
            raise serializers.ValidationError(
                {"body": ["Un client de l'API ne peut pas joindre de message."]}
            )
        try:
            if request.user.is_citizen:
                services.citizen_close(case, request.user)
            else:
                services.close_case(
                    case,
                    request.user,
                    data.validated_data.get("resolution", ""),
                    data.validated_data.get("body", ""),
                )
        except DjangoValidationError as exc:
            _state_error(exc)
        case.refresh_from_db()
        return Response(self.get_serializer(case).data)

    @extend_schema(
        summary="Rouvrir une demande clôturée", request=None, responses={200: CaseSerializer}
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, reference=None):
        case = self.get_object()
        try:
            services.reopen_case(case, request.user)
        except DjangoValidationError as exc:
            _state_error(exc)
        case.refresh_from_db()
        return Response(self.get_serializer(case).data)

    @extend_schema(
        summary="Donner son avis (usager, une fois la demande traitée)",
        request=RatingSerializer,
        responses={201: RatingSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], permission_classes=[IsCitizen])
    @idempotent_api
    def rating(self, request, reference=None):
        case = self.get_object()
        data = RatingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if Satisfaction.objects.filter(case=case, event=None).exists():
            raise Conflict({"score": ["Vous avez déjà donné votre avis."]})
        try:
            rate_case(
                case,
                request.user,
                data.validated_data["score"],
                data.validated_data.get("comment", ""),
            )
        except DjangoValidationError as exc:
            _state_error(exc)
        return Response(data.validated_data, status=status.HTTP_201_CREATED)


class AttachmentViewSet(StrictQueryMixin, viewsets.GenericViewSet):
    lookup_field = "public_id"
    lookup_value_regex = (
        r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    )
    serializer_class = AttachmentSerializer
    queryset = Attachment.objects.none()

    @extend_schema(summary="Description d'une pièce jointe")
    def retrieve(self, request, public_id=None):
        return Response(AttachmentSerializer(attachment_for(request.user, public_id)).data)

    @extend_schema(
        summary="Télécharger une pièce jointe (consultation auditée pour les agents)",
        responses={
            (200, content_type): OpenApiResponse(OpenApiTypes.BINARY)
            for content_type in ("application/pdf", "image/jpeg", "image/png")
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request, public_id=None):
        return stream_attachment(request, attachment_for(request.user, public_id))
