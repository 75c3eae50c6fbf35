"""Passkeys as a second factor: the page listing them, their registration and removal (logged
in), and a login's second step with one (pending login). The ceremonies' two steps are JSON
calls made by ``static/accounts/js/passkey.js``; their answers name the page to go to next."""

from __future__ import annotations

import json
import logging

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from . import passkeys, twofactor
from .models import PasskeyDevice
from .views import home_url_for

log = logging.getLogger(__name__)

BODY_MAX = 64 * 1024


def _json_body(request) -> dict:
    if len(request.body) > BODY_MAX:
        return {}
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _options(options_json: str) -> HttpResponse:
    return HttpResponse(options_json, content_type="application/json")


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def passkey_list(request):
    return render(
        request,
        "accounts/passkeys.html",
        {"devices": passkeys.devices(request.user), "name_max": passkeys.NAME_MAX},
    )


@never_cache
@login_required
@require_POST
def register_options(request):
    return _options(passkeys.registration_options(request, request.user))


@never_cache
@login_required
@require_POST
def register(request):
    """Store the new passkey. The person's first second factor also gets recovery codes (shown
    once, next page); the session counts as verified with it."""
    data = _json_body(request)
    credential = data.get("credential")
    name = data.get("name")
    name = name if isinstance(name, str) else ""
    if not isinstance(credential, dict):
        return _refused(_("La clé d'accès n'a pas pu être enregistrée. Réessayez."))
    try:
        device = passkeys.register(request, request.user, credential, name)
    except passkeys.PasskeyError as error:
        log.warning("Passkey registration refused for user %s: %s", request.user.pk, error)
        return _refused(_("La clé d'accès n'a pas pu être enregistrée. Réessayez."))
    otp_login(request, device)
    if not StaticDevice.objects.filter(user=request.user, confirmed=True).exists():
        codes = twofactor.new_recovery_codes(request.user)
        request.session[twofactor.CODES_KEY] = {"codes": codes, "next": ""}
        return JsonResponse({"redirect": reverse("accounts:recovery_codes")})
    messages.success(
        request, _("La clé d'accès « %(name)s » est enregistrée.") % {"name": device.name}
    )
    return JsonResponse({"redirect": reverse("accounts:passkeys")})


@login_required
@require_POST
def remove(request, pk: int):
    """Remove one of one's passkeys. A citizen's last second factor takes the recovery codes
    with it (two-factor authentication is then off); staff keep their application."""
    device = get_object_or_404(PasskeyDevice, pk=pk, user=request.user)
    device.delete()
    if not twofactor.has_device(request.user):
        StaticDevice.objects.filter(user=request.user).delete()
    messages.success(
        request, _("La clé d'accès « %(name)s » est supprimée.") % {"name": device.name}
    )
    return redirect("accounts:passkeys")


@never_cache
@require_POST
def login_options(request):
    user = twofactor.pending_user(request)
    if user is None:
        return _refused(_("Votre connexion a expiré : recommencez."), 403)
    return _options(passkeys.authentication_options(request, user))


def _locked(request) -> JsonResponse:
    twofactor.drop_pending(request)
    return JsonResponse(
        {
            "detail": _("Trop d'essais : la connexion à ce compte est bloquée pendant 15 minutes."),
            "redirect": reverse("login"),
        },
        status=429,
    )


@never_cache
@require_POST
def login(request):
    """Second step of a login with a passkey: like a right code (accounts.views
    .two_factor_verify), a wrong answer counts as a failed login for django-axes."""
    user = twofactor.pending_user(request)
    if user is None:
        return _refused(_("Votre connexion a expiré : recommencez."), 403)
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return _locked(request)
    data = _json_body(request)
    credential = data.get("credential")
    try:
        if not isinstance(credential, dict):
            raise passkeys.PasskeyError("no credential sent")
        device = passkeys.authenticate(request, user, credential)
    except passkeys.PasskeyError as error:
        log.warning("Passkey login refused for user %s: %s", user.pk, error)
        twofactor.record_failure(request, user)
        if AxesProxyHandler.is_locked(request, credentials):
            return _locked(request)
        return _refused(_("La clé d'accès n'a pas été reconnue. Réessayez, ou saisissez un code."))
    redirect_to = twofactor.complete_login(request, user, device)
    response = JsonResponse({"redirect": redirect_to or home_url_for(user)})
    if data.get("remember") is True:
        twofactor.remember(response, user)
    return response
