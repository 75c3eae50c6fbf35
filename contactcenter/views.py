"""Core views: the favicon, and the login as django-axes counts it. The entrance pages (home,
login, sign-up...) are the accounts app's."""

from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET


def axes_username(request, credentials=None) -> str:
    """The login as django-axes counts failures: e-mails are case-insensitive (the user manager
    matches them with iexact), so "Camille@..." and "camille@..." must share one counter, or
    changing the case would give an attacker 5 more tries each time."""
    source = credentials or getattr(request, "data", None) or request.POST
    return (source.get("username") or "").strip().lower()


@require_GET
def favicon(request):
    """Browsers ask for ``/favicon.ico`` on pages that do not name an icon (the Django admin):
    answer with the DSFR icon rather than a 404 in every console."""
    return redirect(static("vendor/dsfr/favicon/favicon.ico"))


def private_file_response(file, filename: str, content_type: str):
    """A stored private file as a download: never rendered inline nor sniffed, never cached.

    The caller has checked the reader's right to the file (and audited a staff read); used by
    every channel that keeps attachments (messaging, chat, mail, démarches). ``file`` is a
    ``FieldFile``."""
    from django.http import FileResponse, Http404

    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise Http404("Fichier introuvable")
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "no-store, private"
    return response
