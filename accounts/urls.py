"""Routes of the accounts app, included under ``/compte/`` with the "accounts" namespace."""

from django.urls import include, path

from . import passkey_views, staff_two_factor, views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path("creer/", views.signup, name="signup"),
    path("lien-envoye/", views.link_sent, name="link_sent"),
    path("verifier/<str:token>/", views.verify, name="verify"),
    path("renvoyer-le-lien/", views.resend, name="resend"),
    path("mot-de-passe-oublie/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "mot-de-passe-oublie/envoye/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "mot-de-passe-oublie/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "mot-de-passe-oublie/termine/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("mot-de-passe/", views.PasswordChangeView.as_view(), name="password_change"),
    path("adresse/", views.email_change, name="email_change"),
    path("adresse/confirmer/<str:token>/", views.email_confirm, name="email_confirm"),
    path("supprimer/", views.delete, name="delete"),
    path("supprime/", views.deleted, name="deleted"),
    path("double-authentification/", views.two_factor_enrol, name="two_factor_enrol"),
    path("double-authentification/code/", views.two_factor_verify, name="two_factor_verify"),
    path(
        "double-authentification/codes-de-secours/",
        views.recovery_codes,
        name="recovery_codes",
    ),
    path(
        "double-authentification/desactiver/",
        views.two_factor_disable,
        name="two_factor_disable",
    ),
    path("cles-d-acces/", passkey_views.passkey_list, name="passkeys"),
    path("cles-d-acces/options/", passkey_views.register_options, name="passkey_register_options"),
    path("cles-d-acces/enregistrer/", passkey_views.register, name="passkey_register"),
    path("cles-d-acces/<int:pk>/supprimer/", passkey_views.remove, name="passkey_remove"),
    path(
        "double-authentification/cle/options/",
        passkey_views.login_options,
        name="passkey_login_options",
    ),
    path("double-authentification/cle/", passkey_views.login, name="passkey_login"),
    path(
        "equipe/double-authentification/",
        staff_two_factor.staff_list,
        name="staff_two_factor",
    ),
    path(
        "equipe/double-authentification/<int:pk>/reinitialiser/",
        staff_two_factor.reset,
        name="staff_two_factor_reset",
    ),
    path("", include("accounts.oidc_urls")),
]
