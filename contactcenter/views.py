"""Entry pages: home (dispatch by role), login/logout."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from .forms import LoginForm


def home_url_for(user) -> str:
    if user.is_citizen:
        return reverse("messaging:space")
    return reverse("console:home")


@login_required
def home(request):
    return redirect(home_url_for(request.user))


def axes_username(request, credentials=None) -> str:
    """The login as django-axes counts failures: e-mails are case-insensitive (the user manager
    matches them with iexact), so "Camille@..." and "camille@..." must share one counter, or
    changing the case would give an attacker 5 more tries each time."""
    source = credentials or getattr(request, "data", None) or request.POST
    return (source.get("username") or "").strip().lower()


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    extra_context = {"page_title": _("Se connecter")}

    def get_default_redirect_url(self):
        return home_url_for(self.request.user)


@require_GET
def favicon(request):
    """Browsers ask for ``/favicon.ico`` on pages that do not name an icon (the Django admin):
    answer with the DSFR icon rather than a 404 in every console."""
    return redirect(static("vendor/dsfr/favicon/favicon.ico"))
