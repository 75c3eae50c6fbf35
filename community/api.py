"""Read-only public API of the forum (DRF), under /api/forum/.

GET /api/forum/threads/                 published threads, newest first (keyset cursor)
GET /api/forum/threads/<id>/            one published thread
GET /api/forum/threads/<id>/posts/      its published posts, oldest first (keyset cursor)

No login needed. Authors appear only as ``services.author_label`` gives them: a citizen's
pseudonym, or "Conseiller — <service>" for staff. No account id, name, e-mail or moderation
detail is ever in a payload; pending and hidden posts are never listed.
"""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.throttling import AnonRateThrottle

from contactcenter.api import StrictQueryMixin
from contactcenter.models import Topic

from . import services
from .models import Post, Thread

PUBLISHED = Post.Status.PUBLISHED


class ThreadSerializer(serializers.ModelSerializer):
    topic: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    author = serializers.SerializerMethodField(help_text="Pseudonyme de l'auteur de la question.")
    answers = serializers.IntegerField(read_only=True, help_text="Réponses publiées.")
    certified = serializers.BooleanField(
        read_only=True, help_text="Au moins une réponse certifiée par un conseiller."
    )
    resolved = serializers.BooleanField(source="is_resolved", read_only=True)
    locked = serializers.BooleanField(source="is_locked", read_only=True)

    class Meta:
        model = Thread
        fields = [
            "id",
            "title",
            "topic",
            "language",
            "author",
            "resolved",
            "locked",
            "answers",
            "certified",
            "created_at",
            "last_activity_at",
        ]

    def get_author(self, thread: Thread) -> str:
        return services.pseudonym_of(thread.author)


class PostSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField(
        help_text="Pseudonyme, ou « Conseiller — service » pour un conseiller."
    )
    question = serializers.BooleanField(source="is_question", read_only=True)
    certified = serializers.BooleanField(source="is_certified", read_only=True)
    accepted = serializers.BooleanField(source="is_accepted", read_only=True)

    class Meta:
        model = Post
        fields = ["id", "author", "body", "question", "certified", "accepted", "created_at"]

    def get_author(self, post: Post) -> str:
        return services.author_label(post)


class ThreadPagination(CursorPagination):
    ordering = ("-id",)
    page_size = 25


class PostPagination(CursorPagination):
    ordering = ("id",)
    page_size = 50


@extend_schema_view(
    list=extend_schema(
        summary="Fils de discussion publiés du forum",
        parameters=[
            OpenApiParameter("topic", str, description="Thème (identifiant)"),
            OpenApiParameter("resolved", bool, description="Résolus ou non"),
            OpenApiParameter("language", str, enum=Thread.Language.values),
        ],
    ),
    retrieve=extend_schema(summary="Un fil de discussion publié"),
    posts=extend_schema(summary="Messages publiés d'un fil", responses=PostSerializer(many=True)),
)
class ThreadViewSet(
    StrictQueryMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [AllowAny]
    authentication_classes: list = []  # public and read-only: no session, no CSRF
    throttle_classes = [AnonRateThrottle]
    lookup_value_regex = r"[0-9]+"
    serializer_class = ThreadSerializer
    pagination_class = ThreadPagination
    query_parameters = {
        "list": {"topic", "resolved", "language", "cursor"},
        "retrieve": set(),
        "posts": {"cursor"},
    }

    def get_queryset(self):
        answered = Post.objects.filter(thread=OuterRef("pk"), status=PUBLISHED, is_question=False)
        threads = (
            Thread.objects.filter(is_published=True, topic__is_active=True)
            .select_related("topic", "author__forum_member")
            .annotate(
                answers=Count("posts", filter=Q(posts__status=PUBLISHED, posts__is_question=False)),
                certified=Exists(answered.filter(certified_at__isnull=False)),
            )
        )
        if self.action != "list":
            return threads
        params = self.request.query_params
        if "topic" in params:
            topic = Topic.objects.filter(slug=params["topic"], is_active=True).first()
            if topic is None:
                raise serializers.ValidationError({"topic": ["Thème inconnu."]})
            threads = threads.filter(topic=topic)
        if "resolved" in params:
            value = params["resolved"].lower()
            if value not in ("true", "false"):
                raise serializers.ValidationError({"resolved": ["Attendu : true ou false."]})
            threads = threads.filter(is_resolved=value == "true")
        if "language" in params:
            if params["language"] not in Thread.Language.values:
                raise serializers.ValidationError({"language": ["Langue inconnue."]})
            threads = threads.filter(language=params["language"])
        return threads

    @action(detail=True, methods=["get"], pagination_class=PostPagination)
    def posts(self, request, pk=None):
        thread = self.get_object()
        posts = (
            Post.objects.filter(thread=thread, status=PUBLISHED)
            .select_related("author__forum_member", "thread__topic__service")
            .order_by("id")
        )
        page = self.paginate_queryset(posts)
        return self.get_paginated_response(PostSerializer(page, many=True).data)
