"""Small JSON API of routing (same permissions as the pages)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

import routing
from contactcenter.api import StrictQueryMixin
from contactcenter.permissions import get_case_or_404


class AvailabilityView(StrictQueryMixin, APIView):
    """GET: chat availability per topic slug (``?topic=<slug>`` for one topic)."""

    permission_classes = [IsAuthenticated]
    query_parameters = {"get": {"topic"}}

    @extend_schema(
        parameters=[OpenApiParameter("topic", str, description="Un seul thème (slug).")],
        responses=inline_serializer(
            "Availability", {"topics": serializers.DictField(child=serializers.BooleanField())}
        ),
    )
    def get(self, request):
        snapshot = routing.availability_snapshot()
        slug = request.query_params.get("topic")
        if slug is not None:
            if slug not in snapshot:
                raise ValidationError({"topic": ["Thème inconnu."]})
            snapshot = {slug: snapshot[slug]}
        return Response({"topics": snapshot})


class QueuePositionView(StrictQueryMixin, APIView):
    """GET: position in the queue and estimated wait (seconds or null) of a visible case."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "QueuePosition",
            {
                "position": serializers.IntegerField(),
                "estimated_wait": serializers.IntegerField(allow_null=True),
            },
        )
    )
    def get(self, request, pk: int):
        case = get_case_or_404(request.user, pk=pk)
        position, wait = routing.queue_position(case)
        return Response({"position": position, "estimated_wait": wait})
