"""The site's entrance, at the root without a namespace (``home``, ``login``, ``logout`` are the
names settings and templates use). Included before the Django admin: its login page sends to
ours, which asks staff for their second factor."""

from django.urls import path

from . import oidc_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("deconnexion/", oidc_views.LogoutView.as_view(), name="logout"),
    path("admin/login/", views.admin_login, name="admin_login"),
]
