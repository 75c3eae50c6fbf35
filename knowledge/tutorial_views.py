"""Public pages of the video tutorials: the accessible player (native ``<video>`` with its
``<track>``, transcript below), the media, and the anonymous view beacon."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from contactcenter.middleware import content_security_policy

from . import tutorials
from .models import Tutorial


def with_frame_origins(request, response: HttpResponse, shown) -> HttpResponse:
    """Let the page frame the hosts of the embedded tutorials it shows, and nothing else."""
    origins = sorted({f"https://{urlsplit(t.embed_url).hostname}" for t in shown if t.embed_url})
    if origins:
        response.headers["Content-Security-Policy"] = content_security_policy(
            request, tuple(origins)
        )
    return response


def _published(slug: str) -> Tutorial:
    return get_object_or_404(tutorials.published_tutorials(), slug=slug)


@require_GET
def tutorial(request, slug):
    item = _published(slug)
    response = render(
        request,
        "knowledge/tutorial.html",
        {"tutorial": item, "page_title": item.title},
    )
    return with_frame_origins(request, response, [item])


@require_GET
def tutorial_media(request, slug, kind):
    item = _published(slug)
    if kind == "captions":
        return HttpResponse(item.captions, content_type="text/vtt; charset=utf-8")
    if not item.video:
        raise Http404
    try:
        handle = item.video.open("rb")
    except OSError:
        raise Http404
    return FileResponse(handle, content_type=tutorials.CONTENT_TYPES.get(item.video_format))


@require_POST
def tutorial_view(request, slug):
    """The player's beacon: ``kind`` (start, half, complete) and the browser's daily token."""
    item = _published(slug)
    try:
        counted = tutorials.record_view(
            item, request.POST.get("kind", ""), request.POST.get("visitor", "")
        )
    except ValidationError as exc:
        return JsonResponse({"error": exc.messages[0]}, status=400)
    return JsonResponse({"counted": counted}, status=201 if counted else 200)
