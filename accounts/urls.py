"""Routes of the accounts app, included under ``/compte/`` with the "accounts" namespace."""

from django.urls import include, path

app_name = "accounts"

urlpatterns = [
    path("", include("accounts.oidc_urls")),
]
