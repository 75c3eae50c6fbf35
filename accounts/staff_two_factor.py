"""A lost staff second factor: a supervisor (for the agents of their services) or an
administrator (for any staff member) removes an agent's TOTP application, passkeys and recovery
codes from ``/compte/equipe/double-authentification/``. The agent enrols a new device at their
next local login (the set-up page follows the password of staff without a device). The person
resetting must have given a second factor in this session (or logged in with ProConnect where
it stands for one); each reset is an AuditLog entry and ends every session of the agent,
websockets included (contactcenter.sockets.end_user_sessions)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcenter.models import AuditLog, Service, User
from contactcenter.sockets import end_user_sessions

from . import oidc
from .models import OidcIdentity, PasskeyDevice


def can_reset(user: User) -> bool:
    return user.is_authenticated and (user.is_supervisor or user.is_admin_role)


def session_has_second_factor(request) -> bool:
    """This session's login included a second factor: a django-otp device recorded at login
    (code, recovery code, passkey, remembered browser), or ProConnect when it counts as one."""
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    if persistent_id:
        device = Device.from_persistent_id(persistent_id, for_verify=False)
        if device is not None and device.user_id == request.user.pk and device.confirmed:
            return True
    login = request.session.get(oidc.SESSION_KEY) or {}
    provider = settings.OIDC_PROVIDERS.get(OidcIdentity.Provider.PROCONNECT) or {}
    return login.get("provider") == OidcIdentity.Provider.PROCONNECT and bool(
        provider.get("two_factor")
    )


def resettable(actor: User) -> QuerySet[User]:
    """Whose second factor ``actor`` may reset: an administrator any other staff member, a
    supervisor the agents of the services they supervise. Never oneself."""
    staff = User.objects.exclude(pk=actor.pk).exclude(role=User.Role.CITIZEN, is_superuser=False)
    if actor.is_admin_role:
        return staff
    if actor.is_supervisor:
        services = Service.objects.filter(agents__user=actor)
        return staff.filter(
            role=User.Role.AGENT, is_superuser=False, agent_profile__services__in=services
        ).distinct()
    return User.objects.none()


def _delete(devices: QuerySet) -> int:
    """Delete the devices; returns how many (not counting the recovery codes they hold)."""
    count = devices.count()
    devices.delete()
    return count


def _check(request) -> None:
    if not can_reset(request.user):
        raise PermissionDenied


@login_required
@require_GET
def staff_list(request):
    _check(request)
    verified = session_has_second_factor(request)
    people = (
        resettable(request.user)
        .filter(is_active=True)
        .annotate(
            totp=Count("totpdevice", filter=Q(totpdevice__confirmed=True), distinct=True),
            passkeys=Count("passkeydevice", filter=Q(passkeydevice__confirmed=True), distinct=True),
        )
        .order_by("last_name", "first_name", "pk")
    )
    return render(
        request,
        "accounts/staff_two_factor.html",
        {
            "page_title": _("Double authentification des agents"),
            "people": people,
            "verified": verified,
        },
        status=200 if verified else 403,
    )


@login_required
@require_POST
def reset(request, pk: int):
    """Remove the person's devices (safe to repeat: a second reset finds nothing to remove and
    records nothing)."""
    _check(request)
    if not session_has_second_factor(request):
        raise PermissionDenied
    target = get_object_or_404(resettable(request.user), pk=pk)
    with transaction.atomic():
        target = User.objects.select_for_update().get(pk=target.pk)
        removed = {
            name: _delete(model.objects.filter(user=target))
            for name, model in (
                ("totp", TOTPDevice),
                ("passkeys", PasskeyDevice),
                ("recovery", StaticDevice),
            )
        }
        if any(removed.values()):
            shared = (
                Service.objects.filter(agents__user=request.user)
                .filter(agents__user=target)
                .order_by("pk")
                .first()
            )
            AuditLog.objects.create(
                actor=request.user,
                actor_service=shared,
                action=AuditLog.Action.RESET_TWO_FACTOR,
                detail={"staff": target.pk, "email": target.email, "removed": removed},
            )
            # Whoever holds the lost device may be logged in with it: every session of the
            # person ends (websockets included) and the next login asks for a new device.
            end_user_sessions(target.pk, "second factor reset")
    if any(removed.values()):
        messages.success(
            request,
            _(
                "La double authentification de %(name)s est réinitialisée : un nouvel appareil "
                "lui sera demandé à sa prochaine connexion."
            )
            % {"name": target.display_name},
        )
    else:
        messages.info(
            request, _("%(name)s n'a plus d'appareil enregistré.") % {"name": target.display_name}
        )
    return redirect("accounts:staff_two_factor")
