"""OAuth2 endpoints of the API clients, under /api/oauth/ (django-oauth-toolkit's views): the
token (client credentials only: each application is created with that grant) and its
revocation."""

from django.urls import path
from oauth2_provider import views

app_name = "oauth2_provider"

urlpatterns = [
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke/", views.RevokeTokenView.as_view(), name="revoke-token"),
]
