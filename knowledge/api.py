"""Chatbot API (DRF, session authentication with CSRF, throttled).

POST /api/chatbot/messages            {"message": "...", "conversation": <id, optional>}
POST /api/chatbot/messages/<id>/rating {"value": 1 | -1}
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from contactcenter.api import StrictJsonMixin, StrictQueryMixin
from contactcenter.idempotency import IDEMPOTENCY_HEADER, idempotent_api

from . import services


class ChatbotMessageSerializer(StrictJsonMixin, serializers.Serializer):
    message = serializers.CharField(
        max_length=services.MAX_QUESTION_CHARS,
        trim_whitespace=True,
        allow_blank=False,
        error_messages={
            "blank": _("Écrivez votre question avant de l'envoyer."),
            "required": _("Écrivez votre question avant de l'envoyer."),
            "max_length": _("Votre question est trop longue : {max_length} caractères au maximum."),
        },
    )
    conversation = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class ChatbotRatingSerializer(StrictJsonMixin, serializers.Serializer):
    value = serializers.ChoiceField(
        choices=[1, -1],
        error_messages={"invalid_choice": _("La note doit valoir 1 (utile) ou -1 (pas utile).")},
    )


def _field_errors(exc: DjangoValidationError, field: str) -> dict:
    return {field: exc.messages}


class ChatbotMessageView(StrictQueryMixin, APIView):
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "chatbot"
    api_error_statuses = {"404": "Conversation introuvable (effacée, ou d'un autre compte)."}

    @extend_schema(
        request=ChatbotMessageSerializer, responses={201: dict}, parameters=[IDEMPOTENCY_HEADER]
    )
    @idempotent_api
    def post(self, request):
        serializer = ChatbotMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            payload = services.post_chatbot_message(
                request.user,
                serializer.validated_data["message"],
                conversation_id=serializer.validated_data.get("conversation"),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_field_errors(exc, "message")) from exc
        return Response(payload, status=status.HTTP_201_CREATED)


class ChatbotRatingView(StrictQueryMixin, APIView):
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "chatbot"

    @extend_schema(request=ChatbotRatingSerializer, responses={200: dict})
    def post(self, request, turn_id):
        serializer = ChatbotRatingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            payload = services.rate_turn(request.user, turn_id, serializer.validated_data["value"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_field_errors(exc, "value")) from exc
        return Response(payload)
