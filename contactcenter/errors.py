"""Error pages (400, 403, 404, 500, CSRF failure) in the DSFR layout, in the visitor's language.

They are rendered without the request's context processors: a 500 may come from a database that
is down, and reading the user or the session would fail again. The language is the one
LocaleMiddleware chose, or else the one the request asks for (cookie, Accept-Language)."""

from django.http import HttpResponse
from django.template import loader
from django.utils import translation


def render_error(request, template_name: str, status: int) -> HttpResponse:
    language = getattr(request, "LANGUAGE_CODE", None) or translation.get_language_from_request(
        request
    )
    with translation.override(language):
        body = loader.render_to_string(template_name)
    return HttpResponse(body, status=status)


def bad_request(request, exception=None):
    return render_error(request, "400.html", 400)


def permission_denied(request, exception=None):
    return render_error(request, "403.html", 403)


def page_not_found(request, exception=None):
    return render_error(request, "404.html", 404)


def server_error(request):
    return render_error(request, "500.html", 500)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: the form's check failed (page open too long, cookies blocked)."""
    return render_error(request, "403_csrf.html", 403)
