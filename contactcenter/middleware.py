"""Security headers that Django does not set by itself, and the sliding session expiry."""

import time

from django.conf import settings
from django.core.exceptions import DisallowedHost

# No inline script anywhere: every script is a static file. Inline styles stay allowed because
# the DSFR and the rrweb replay set style attributes.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src {connect_src}",
        "media-src 'self' blob:",
        "frame-src 'self' blob: about:{frame_src}",
        "frame-ancestors 'none'",
        "form-action 'self'{form_action}",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


def connect_src(request) -> str:
    """The page may open connections to its own origin only, websockets included: ``'self'``
    alone does not cover ``ws:``/``wss:`` in every browser, so the socket origin is named (the
    host the request came to, already checked against ALLOWED_HOSTS)."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return "'self'"
    scheme = "wss" if request.is_secure() else "ws"
    return f"'self' {scheme}://{host}"


def form_action() -> str:
    """Forms post to the site itself, which may redirect to an identity provider
    (``settings.CSP_FORM_ACTION``: FranceConnect, ProConnect)."""
    return "".join(f" {origin}" for origin in settings.CSP_FORM_ACTION)


def content_security_policy(request, frame_origins: tuple[str, ...] = ()) -> str:
    """The policy; ``frame_origins`` adds https origins a page may frame (a tutorial's video
    host, set by that page's view only)."""
    return (
        CONTENT_SECURITY_POLICY.replace("{connect_src}", connect_src(request))
        .replace("{form_action}", form_action())
        .replace("{frame_src}", "".join(f" {origin}" for origin in frame_origins))
    )


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(request))
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            # Personal data: never kept by a shared cache or the browser's back button.
            response.headers.setdefault("Cache-Control", "no-store, private")
        return response


def is_production() -> bool:
    return settings.PRODUCTION


SESSION_REFRESHED_KEY = "_guichet_refreshed"


class SlidingSessionMiddleware:
    """Idle timeout: a session ends ``SESSION_COOKIE_AGE`` after the last request, as with
    ``SESSION_SAVE_EVERY_REQUEST``, but its expiry is written at most once per
    ``SESSION_REFRESH_INTERVAL`` seconds instead of on every request (one UPDATE and one
    commit less on nearly every page and API call). The idle timeout is thus exact to within
    that interval. Placed after SessionMiddleware, which saves a modified session."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.interval = getattr(settings, "SESSION_REFRESH_INTERVAL", 60)

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty() or session.modified:
            return response
        now = int(time.time())
        if now - int(session.get(SESSION_REFRESHED_KEY, 0)) >= self.interval:
            session[SESSION_REFRESHED_KEY] = now  # marks it modified: saved with a new expiry
        return response


class DomainErrorMiddleware:
    """Translate the domain errors a view lets through (``contactcenter.exceptions``) to HTTP:
    ``NotFound`` and ``NotAllowed`` become Django's 404 and 403 (the error pages), with the same
    message; ``InvalidState`` is a 409 carrying its message."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.core.exceptions import PermissionDenied
        from django.http import Http404, HttpResponse

        from .exceptions import InvalidState, NotAllowed, NotFound

        if isinstance(exception, NotFound):
            raise Http404(exception.message) from exception
        if isinstance(exception, NotAllowed):
            raise PermissionDenied(exception.message) from exception
        if isinstance(exception, InvalidState):
            return HttpResponse(
                str(exception.message), status=409, content_type="text/plain; charset=utf-8"
            )
        return None
