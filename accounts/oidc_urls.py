"""OpenID Connect routes, included by accounts/urls.py (namespace "accounts"). ``provider`` is
"franceconnect" or "proconnect"; a provider that is not configured answers 404."""

from django.urls import path

from . import oidc_views

urlpatterns = [
    path("<slug:provider>/connexion/", oidc_views.start, name="oidc_start"),
    path("<slug:provider>/retour/", oidc_views.callback, name="oidc_callback"),
    path("<slug:provider>/bienvenue/", oidc_views.complete, name="oidc_complete"),
    path("<slug:provider>/lier/", oidc_views.link, name="oidc_link"),
    path("<slug:provider>/deconnecte/", oidc_views.logged_out, name="oidc_logged_out"),
]
