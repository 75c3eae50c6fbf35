"""Ways in: the public home, login (with its second factor), sign-up, e-mail verification,
password reset and change, e-mail change, account deletion, two-factor settings."""

from __future__ import annotations

import base64
import time
from io import BytesIO

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from contactcenter.exceptions import InvalidState
from contactcenter.forms import LoginForm
from contactcenter.idempotency import idempotent
from contactcenter.models import Service, Topic

from . import oidc, services, twofactor
from .forms import (
    CodeForm,
    DeleteAccountForm,
    DisableTwoFactorForm,
    EmailChangeForm,
    EmailForm,
    EnrolForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    SignUpForm,
)
from .models import PasskeyDevice


def home_url_for(user) -> str:
    if user.is_citizen:
        return reverse("messaging:space")
    return reverse("console:home")


# --- Public home and login --------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def home(request):
    """Logged in: the person's space (citizen) or the console (staff). Otherwise the public
    entrance: the FAQ search, the topics, how to contact each service, sign in or sign up."""
    if request.user.is_authenticated:
        return redirect(home_url_for(request.user))
    services_shown = Service.objects.filter(is_active=True, topics__is_active=True).distinct()
    return render(
        request,
        "accounts/home.html",
        {
            "services": services_shown.order_by("name").prefetch_related("topics"),
            "has_topics": Topic.objects.filter(is_active=True).exists(),
        },
    )


class LoginView(auth_views.LoginView):
    """Password first. A person who needs a second factor (staff, or a citizen who turned it
    on) is not logged in yet: the session keeps a pending login for the code page."""

    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    extra_context = {"page_title": gettext_lazy("Se connecter")}

    def get_default_redirect_url(self):
        return home_url_for(self.request.user)

    def form_valid(self, form):
        return twofactor.log_in_or_ask(
            self.request,
            form.get_user(),
            self.get_redirect_url(),
            lambda: super(LoginView, self).form_valid(form),
        )


@require_http_methods(["GET", "HEAD"])
def admin_login(request):
    """The Django admin's login page would log staff in with a password alone: ours instead."""
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


# --- Sign-up and verification -----------------------------------------------------------------


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request):
    """A double submit or a second sign-up with the same address creates nothing more and
    answers the same page (the address's owner is told by e-mail)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.sign_up(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
        )
        request.session["accounts_link_sent_to"] = form.cleaned_data["email"]
        return redirect("accounts:link_sent")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "HEAD"])
def link_sent(request):
    return render(
        request,
        "accounts/link_sent.html",
        {
            "email": request.session.get("accounts_link_sent_to", ""),
            "hours": settings.ACCOUNT_VERIFICATION_MAX_AGE // 3600,
            "resend_form": EmailForm(),
        },
    )


@require_http_methods(["GET", "HEAD"])
def verify(request, token):
    try:
        services.verify_email(token)
    except services.LinkExpired:
        return render(
            request,
            "accounts/link_invalid.html",
            {"expired": True, "resend_form": EmailForm()},
            status=410,
        )
    except services.LinkInvalid:
        return render(
            request, "accounts/link_invalid.html", {"resend_form": EmailForm()}, status=400
        )
    messages.success(
        request, _("Votre adresse est vérifiée : vous pouvez vous connecter à votre compte.")
    )
    return redirect("login")


@require_POST
def resend(request):
    form = EmailForm(request.POST)
    if not form.is_valid():
        return render(
            request, "accounts/link_invalid.html", {"resend_form": form, "resend_only": True}
        )
    services.resend_verification(form.cleaned_data["email"])
    request.session["accounts_link_sent_to"] = form.cleaned_data["email"]
    return redirect("accounts:link_sent")


# --- Password reset and change (Django's views, DSFR templates) ---------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """The same answer for any address: only an active account's owner gets a link."""

    form_class = PasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/mail/password_reset_body.txt"
    subject_template_name = "accounts/mail/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A new password from the mailed link also lifts a login lockout (django-axes): whoever
    reads the account's mail could reset the password anyway."""

    form_class = SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username().lower())
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Votre mot de passe est modifié."))
        return response


# --- My account -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD"])
def account(request):
    user = request.user
    return render(
        request,
        "accounts/account.html",
        {
            "two_factor_on": twofactor.has_device(user),
            "totp_on": twofactor.totp_device(user) is not None,
            "passkeys": PasskeyDevice.objects.filter(user=user, confirmed=True).count(),
            "codes_left": twofactor.recovery_codes_left(user),
            "no_email": services.has_placeholder_email(user),
        },
    )


@login_required
@sensitive_post_parameters("current_password")
@require_http_methods(["GET", "POST"])
@idempotent
def email_change(request):
    provider = services.reauth_provider(request.user, email_change=True)
    form = EmailChangeForm(request.POST or None, user=request.user, provider=provider)
    if request.method == "POST" and form.is_valid() and provider:
        # The link is sent on the return from FranceConnect (accounts.oidc_views.callback).
        return reauthenticate(request, provider, "email", email=form.cleaned_data["email"])
    if request.method == "POST" and form.is_valid():
        try:
            services.request_email_change(request.user, form.cleaned_data["email"])
        except InvalidState as error:
            form.add_error("email", error.message)
        else:
            messages.success(
                request,
                _(
                    "Un lien de confirmation a été envoyé à %(email)s. Votre adresse actuelle "
                    "reste celle du compte tant que ce lien n'est pas ouvert."
                )
                % {"email": form.cleaned_data["email"]},
            )
            return redirect("accounts:account")
    return render(request, "accounts/email_change.html", {"form": form, "provider": provider})


@require_http_methods(["GET", "HEAD"])
def email_confirm(request, token):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        new = services.confirm_email_change(request.user, token)
    except services.LinkExpired:
        return render(request, "accounts/link_invalid.html", {"expired": True}, status=410)
    except services.LinkInvalid:
        return render(request, "accounts/link_invalid.html", {}, status=400)
    except InvalidState as error:
        messages.error(request, error.message)
        return redirect("accounts:account")
    messages.success(
        request, _("Votre adresse électronique est désormais %(email)s.") % {"email": new}
    )
    return redirect("accounts:account")


def reauthenticate(request, provider: str, action: str, **data):
    """No password to ask ``request.user`` (an account FranceConnect created): they log in
    again at the provider (``prompt=login``) and ``action`` is done on their return, if it is
    the same linked identity within 10 minutes (accounts.oidc_views.callback)."""
    request.session[oidc.REAUTH_KEY] = {
        "action": action,
        "provider": provider,
        "user": request.user.pk,
        "at": time.time(),
        **data,
    }
    return oidc.client(provider).start(request, prompt="login")


# After a deletion, whether nothing was kept (shown once by ``deleted``).
DELETED_KEY = "accounts_deleted_fully"


def delete_and_log_out(request):
    """Delete the account of ``request.user`` (after its password or a new FranceConnect
    login) and log them out."""
    removed = services.delete_account(request.user)
    logout(request)
    request.session[DELETED_KEY] = removed
    return redirect("accounts:deleted")


@login_required
@sensitive_post_parameters("current_password")
@require_http_methods(["GET", "POST"])
def delete(request):
    if not request.user.is_citizen:
        return render(request, "accounts/delete.html", {"staff": True}, status=403)
    provider = services.reauth_provider(request.user)
    form = DeleteAccountForm(request.POST or None, user=request.user, provider=provider)
    if request.method == "POST" and form.is_valid():
        if provider:
            return reauthenticate(request, provider, "delete")
        return delete_and_log_out(request)
    return render(request, "accounts/delete.html", {"form": form, "provider": provider})


@require_http_methods(["GET", "HEAD"])
def deleted(request):
    if DELETED_KEY not in request.session:
        return redirect("home")
    return render(
        request,
        "accounts/deleted.html",
        {"fully": request.session.pop(DELETED_KEY)},
    )


# --- Two-factor authentication ----------------------------------------------------------------


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    out = BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _secret_groups(device) -> str:
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request):
    """Set up the application: QR code (or the key typed by hand), then its first code.
    Staff meet this page at their first login (pending login); a citizen from their account."""
    pending = None if request.user.is_authenticated else twofactor.pending_user(request)
    user = request.user if request.user.is_authenticated else pending
    if user is None:
        return redirect("login")
    if pending is not None and twofactor.has_device(pending):
        # Half logged in with a device already: its code, not a new device, finishes the login.
        return redirect("accounts:two_factor_verify")
    device = twofactor.enrolment_device(user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = twofactor.confirm_enrolment(user, form.cleaned_data["code"])
        if result is None:
            form.add_error("code", _("Code incorrect. Saisissez le code affiché en ce moment."))
        else:
            confirmed, codes = result
            if pending is not None:
                redirect_to = twofactor.complete_login(request, pending, confirmed)
            else:
                otp_login(request, confirmed)
                redirect_to = ""
            request.session[twofactor.CODES_KEY] = {"codes": codes, "next": redirect_to}
            return redirect("accounts:recovery_codes")
    return render(
        request,
        "accounts/two_factor_enrol.html",
        {
            "form": form,
            "qr": _qr_data_uri(device.config_url),
            "secret": _secret_groups(device),
            "pending": pending is not None,
        },
    )


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    user = twofactor.pending_user(request)
    if user is None:
        return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        credentials = {"username": user.get_username()}
        if AxesProxyHandler.is_locked(request, credentials):
            twofactor.drop_pending(request)
            return render(request, "registration/locked.html", status=429)
        device = twofactor.verify(user, form.cleaned_data["code"])
        if device is None:
            twofactor.record_failure(request, user)
            if AxesProxyHandler.is_locked(request, credentials):
                twofactor.drop_pending(request)
                return render(request, "registration/locked.html", status=429)
            form.add_error(
                "code",
                _(
                    "Code incorrect ou déjà utilisé. Après 5 essais, la connexion est bloquée "
                    "pendant 15 minutes."
                ),
            )
        else:
            redirect_to = twofactor.complete_login(request, user, device)
            response = HttpResponseRedirect(redirect_to or home_url_for(user))
            if form.cleaned_data["remember"]:
                twofactor.remember(response, user)
            if isinstance(device, StaticDevice):
                left = twofactor.recovery_codes_left(user)
                messages.warning(
                    request,
                    _(
                        "Vous vous êtes connecté avec un code de secours : il en reste "
                        "%(left)d. Générez-en de nouveaux depuis « Mon compte »."
                    )
                    % {"left": left},
                )
            return response
    return render(
        request,
        "accounts/two_factor_verify.html",
        {
            "form": form,
            "user_pending": user,
            "has_totp": twofactor.totp_device(user) is not None,
            "has_passkey": PasskeyDevice.objects.filter(user=user, confirmed=True).exists(),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """Shown once, right after they are made; POST makes a new set (the old ones stop)."""
    if request.method == "POST":
        if not twofactor.has_device(request.user):
            return redirect("accounts:account")
        codes = twofactor.new_recovery_codes(request.user)
        request.session[twofactor.CODES_KEY] = {"codes": codes, "next": ""}
        return redirect("accounts:recovery_codes")
    shown = request.session.pop(twofactor.CODES_KEY, None)
    if not shown:
        return redirect("accounts:account")
    return render(
        request,
        "accounts/recovery_codes.html",
        {"codes": shown["codes"], "next": shown["next"] or home_url_for(request.user)},
    )


@login_required
@sensitive_post_parameters("current_password")
@require_http_methods(["GET", "POST"])
def two_factor_disable(request):
    if request.user.is_staff_member:
        return render(request, "accounts/two_factor_disable.html", {"staff": True}, status=403)
    form = DisableTwoFactorForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        twofactor.disable(request.user)
        messages.success(request, _("La double authentification est désactivée."))
        return redirect("accounts:account")
    return render(request, "accounts/two_factor_disable.html", {"form": form})
