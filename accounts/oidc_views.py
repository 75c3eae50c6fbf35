"""FranceConnect and ProConnect login and logout (accounts/oidc.py, accounts/identities.py).

POST <provider>/connexion/   -> redirect to the provider (state, nonce, PKCE in the session)
GET  <provider>/retour/      -> checks the answer; logs in, or asks what is missing
GET/POST franceconnect/bienvenue/ -> first FranceConnect login: create or link the account
GET/POST franceconnect/lier/ -> a logged-in citizen links FranceConnect (password first)
(accounts.views.reauthenticate: an account without a password logs in again at FranceConnect,
back on <provider>/retour/, to change its e-mail address or to delete the account)
POST /deconnexion/ (LogoutView) -> local logout, then the provider's end-session endpoint
GET  <provider>/deconnecte/  -> back from the provider (its state checked); after a deletion
                               confirmed with FranceConnect, on to the "account deleted" page
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contactcenter.exceptions import InvalidState
from contactcenter.models import User

from . import identities, oidc, services, twofactor
from .models import OidcIdentity
from .oidc_forms import CompleteForm, LinkForm, PasswordForm
from .views import DELETED_KEY, delete_and_log_out, home_url_for

log = logging.getLogger(__name__)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
NEXT_KEY = "accounts_oidc_next"
PENDING_KEY = "accounts_oidc_pending"  # a first FranceConnect login waiting for its account
LINK_KEY = "accounts_oidc_link"  # a logged-in citizen linking FranceConnect: {"user", "at"}
PENDING_SECONDS = 600
PROVIDER_NAMES = dict(OidcIdentity.Provider.choices)


def _failure(request, provider: str, message: str, status: int = 400):
    return render(
        request,
        "accounts/oidc_error.html",
        {"provider_name": PROVIDER_NAMES.get(provider, provider), "message": message},
        status=status,
    )


@require_POST
def start(request, provider):
    client = oidc.client(provider)
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        request.session[NEXT_KEY] = target
    else:
        request.session.pop(NEXT_KEY, None)
    try:
        return client.start(request)
    except Exception as error:  # the provider cannot be reached (discovery): say so
        log.warning("OIDC %s: cannot start a login: %s", provider, error)
        return _failure(
            request, provider, _("Le service de connexion ne répond pas. Réessayez plus tard."), 502
        )


@require_GET
def callback(request, provider):
    client = oidc.client(provider)
    try:
        identity = client.finish(request)
    except oidc.OidcError as error:
        log.warning("OIDC login refused: %s", error)
        return _failure(
            request,
            provider,
            _("La connexion n'a pas pu être vérifiée. Recommencez, s'il vous plaît."),
        )
    user: User | None
    linking = request.session.pop(LINK_KEY, None)
    if linking is not None:
        return _finish_link(request, identity, linking)
    reauth = request.session.pop(oidc.REAUTH_KEY, None)
    if reauth is not None:
        return _finish_reauth(request, identity, reauth)
    try:
        if provider == OidcIdentity.Provider.PROCONNECT:
            user = identities.staff_user(
                identity, require_verified_email=client.conf["require_verified_email"]
            )
        else:
            user = identities.linked_user(identity)
    except identities.Refused as refusal:
        log.warning("OIDC %s: sub %s refused: %s", provider, identity.sub, refusal)
        return _failure(request, provider, str(refusal), 403)
    if user is None:  # first FranceConnect login
        request.session[PENDING_KEY] = {
            "provider": identity.provider,
            "sub": identity.sub,
            "claims": {
                key: identity.claims.get(key)
                for key in ("given_name", "family_name", "birthdate", "email")
            },
            "id_token": identity.id_token,
            "acr": identity.acr,
            "at": time.time(),
        }
        return redirect("accounts:oidc_complete", provider)
    return _log_in(request, user, identity)


def _log_in(request, user, identity: oidc.Identity):
    """Log in, remembering the ID token for the logout at the provider. Someone who needs a
    second factor (staff, a citizen who turned it on: accounts.twofactor) gives it first, unless
    the provider's login counts as one (``<PREFIX>_COUNTS_AS_TWO_FACTOR``, ProConnect)."""
    target = request.session.pop(NEXT_KEY, "")
    request.session[oidc.SESSION_KEY] = {
        "provider": identity.provider,
        "id_token": identity.id_token,
    }
    user.backend = MODEL_BACKEND

    def log_in():
        auth_login(request, user, backend=MODEL_BACKEND)
        return redirect(target or home_url_for(user))

    if settings.OIDC_PROVIDERS[identity.provider]["two_factor"]:
        return log_in()
    return twofactor.log_in_or_ask(request, user, target, log_in)


def _pending(request, provider) -> oidc.Identity | None:
    data = request.session.get(PENDING_KEY)
    if not data or data["provider"] != provider or time.time() - data["at"] > PENDING_SECONDS:
        return None
    return oidc.Identity(
        provider=provider,
        sub=data["sub"],
        claims=data["claims"],
        id_token=data["id_token"],
        acr=data["acr"],
    )


@require_http_methods(["GET", "POST"])
def complete(request, provider):
    """First FranceConnect login: show the identity, ask for the mobile (optional) and create
    the account, or link an existing local account after its password."""
    if provider != OidcIdentity.Provider.FRANCECONNECT or not oidc.enabled(provider):
        raise Http404
    identity = _pending(request, provider)
    if identity is None:
        messages.warning(request, _("Votre connexion avec FranceConnect a expiré : recommencez."))
        return redirect("login")
    email = identities.identity_email(identity)
    email_taken = bool(email) and User.objects.filter(email__iexact=email).exists()
    ask_email = not email
    complete_form = CompleteForm(prefix="create", ask_email=ask_email)
    link_form = LinkForm(request, prefix="link", initial={"username": email})
    if request.method == "POST":
        try:
            if "link" in request.POST:
                link_form = LinkForm(request, request.POST, prefix="link")
                if link_form.is_valid() and link_form.user is not None:
                    identities.link_citizen(identity, link_form.user)
                    request.session.pop(PENDING_KEY, None)
                    messages.success(request, _("FranceConnect est lié à votre compte Guichet."))
                    return _log_in(request, link_form.user, identity)
            elif not email_taken:
                complete_form = CompleteForm(request.POST, prefix="create", ask_email=ask_email)
                if complete_form.is_valid() and ask_email:
                    typed = complete_form.cleaned_data["email"]
                    user = identities.create_citizen_without_email(
                        identity,
                        email=typed,
                        mobile_phone=complete_form.cleaned_data["mobile_phone"],
                    )
                    request.session.pop(PENDING_KEY, None)
                    messages.info(
                        request,
                        _(
                            "Votre compte Guichet est créé. Ouvrez le lien envoyé à %(email)s "
                            "pour vérifier votre adresse : les alertes par courriel commencent "
                            "ensuite."
                        )
                        % {"email": typed},
                    )
                    return _log_in(request, user, identity)
                if complete_form.is_valid():
                    user = identities.create_citizen(
                        identity, mobile_phone=complete_form.cleaned_data["mobile_phone"]
                    )
                    request.session.pop(PENDING_KEY, None)
                    messages.success(request, _("Votre compte Guichet est créé."))
                    return _log_in(request, user, identity)
        except identities.Refused as refusal:
            request.session.pop(PENDING_KEY, None)
            return _failure(request, provider, str(refusal), 403)
    return render(
        request,
        "accounts/oidc_complete.html",
        {
            "page_title": _("Bienvenue sur Guichet"),
            "claims": identity.claims,
            "birthdate": identities.parse_birthdate(identity.claims.get("birthdate")),
            "email_taken": email_taken,
            "complete_form": complete_form,
            "link_form": link_form,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def link(request, provider):
    """A logged-in citizen links FranceConnect to their account: their password, then a
    FranceConnect login whose identity is linked to them (accounts.identities.link_citizen)."""
    if provider != OidcIdentity.Provider.FRANCECONNECT or not oidc.enabled(provider):
        raise Http404
    if not request.user.is_citizen:
        raise PermissionDenied
    if OidcIdentity.objects.filter(provider=provider, user=request.user).exists():
        messages.info(request, _("FranceConnect est déjà lié à votre compte Guichet."))
        return redirect(home_url_for(request.user))
    form = PasswordForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        request.session[LINK_KEY] = {"user": request.user.pk, "at": time.time()}
        request.session.pop(NEXT_KEY, None)
        return oidc.client(provider).start(request)
    return render(
        request,
        "accounts/oidc_link.html",
        {"page_title": _("Associer FranceConnect à mon compte Guichet"), "form": form},
    )


def _finish_link(request, identity: oidc.Identity, linking: dict):
    user = request.user
    fresh = time.time() - linking["at"] <= PENDING_SECONDS
    if not user.is_authenticated or user.pk != linking["user"] or not fresh:
        return _failure(
            request, identity.provider, _("Cette demande d'association n'est plus valable.")
        )
    try:
        identities.link_citizen(identity, user)
    except identities.Refused as refusal:
        return _failure(request, identity.provider, str(refusal), 403)
    request.session[oidc.SESSION_KEY] = {
        "provider": identity.provider,
        "id_token": identity.id_token,
    }
    messages.success(request, _("FranceConnect est lié à votre compte Guichet."))
    return redirect(home_url_for(user))


def _finish_reauth(request, identity: oidc.Identity, pending: dict):
    """Back from the FranceConnect login that stands for the password of an account without
    one (accounts.views.reauthenticate): the same person, within 10 minutes, with the identity
    linked to that account; then the e-mail change goes on, or the account is deleted."""
    user = request.user
    fresh = time.time() - pending["at"] <= PENDING_SECONDS
    same = (
        user.is_authenticated
        and user.pk == pending["user"]
        and pending["provider"] == identity.provider
        and OidcIdentity.objects.filter(
            provider=identity.provider, sub=identity.sub, user=user
        ).exists()
    )
    deleting = pending.get("action") == "delete"
    if not (same and fresh):
        log.warning(
            "OIDC %s: %s refused for sub %s",
            identity.provider,
            "deletion" if deleting else "e-mail change",
            identity.sub,
        )
        if deleting:
            message = _(
                "Cette identité FranceConnect n'est pas celle de votre compte Guichet, ou la "
                "demande a expiré : votre compte n'est pas supprimé."
            )
        else:
            message = _(
                "Cette identité FranceConnect n'est pas celle de votre compte Guichet, ou la "
                "demande a expiré : votre adresse électronique n'est pas modifiée."
            )
        return _failure(request, identity.provider, message, 403)
    if deleting:
        # The account is gone: the provider's session of that login is ended too, back on
        # ``<provider>/deconnecte/`` then on the page that says the account is deleted.
        deleted = delete_and_log_out(request)
        return _logout_at_provider(request, identity.provider, identity.id_token) or deleted
    request.session[oidc.SESSION_KEY] = {
        "provider": identity.provider,
        "id_token": identity.id_token,
    }
    try:
        services.request_email_change(user, pending["email"])
    except InvalidState as error:
        messages.error(request, error.message)
        return redirect("accounts:email_change")
    messages.success(
        request,
        _(
            "Un lien de confirmation a été envoyé à %(email)s. Votre adresse actuelle "
            "reste celle du compte tant que ce lien n'est pas ouvert."
        )
        % {"email": pending["email"]},
    )
    return redirect("accounts:account")


class LogoutView(auth_views.LogoutView):
    """Django's logout; after a FranceConnect or ProConnect login, the provider's session is
    ended too (RP-initiated logout, back on ``<provider>/deconnecte/``)."""

    def post(self, request, *args, **kwargs):
        login = request.session.get(oidc.SESSION_KEY)
        response = super().post(request, *args, **kwargs)
        if login:
            return _logout_at_provider(request, login["provider"], login["id_token"]) or response
        return response


def _logout_at_provider(request, provider: str, id_token: str):
    """The redirect to the provider's end-session endpoint (RP-initiated logout), made after
    the local logout (its ``state`` goes in the new session); None if there is none."""
    if not oidc.enabled(provider):
        return None
    try:
        return oidc.client(provider).logout(request, id_token)
    except Exception as error:  # the provider is down: the local logout stands
        log.warning("OIDC %s: logout at the provider failed: %s", provider, error)
        return None


@require_GET
def logged_out(request, provider):
    client = oidc.client(provider)
    try:
        client.finish_logout(request)
    except oidc.OidcError as error:
        log.warning("OIDC logout return refused: %s", error)
        return _failure(request, provider, _("Cette demande de déconnexion n'est pas valable."))
    if DELETED_KEY in request.session:  # the logout that follows an account's deletion
        return redirect("accounts:deleted")
    messages.success(request, _("Vous êtes déconnecté."))
    return redirect(settings.LOGOUT_REDIRECT_URL)
