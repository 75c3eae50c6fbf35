"""The site's entrance, at the root without a namespace (``home``, ``login``, ``logout`` are the
names settings and templates use). Included before the Django admin: its login page sends to
ours, which asks staff for their second factor."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/login/", views.admin_login, name="admin_login"),
]
