"""Routes of the accounts app, included under ``/compte/`` with the "accounts" namespace."""

app_name = "accounts"

urlpatterns: list = []
