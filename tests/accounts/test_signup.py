"""Sign-up with e-mail verification: an inactive account until the signed link is opened; the
same page whatever the address; expired, tampered and replayed links."""

import time
from unittest import mock

import pytest
from django.contrib.auth import get_user
from django.urls import reverse

from accounts.models import PendingVerification
from contactcenter.models import User

from .conftest import link_in

pytestmark = pytest.mark.django_db

STRONG = "une phrase de passe solide"


def signup_data(**overrides):
    return {
        "first_name": "Zoé",
        "last_name": "Garnier",
        "email": "zoe.garnier@example.fr",
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }


def test_sign_up_creates_an_inactive_citizen_and_mails_a_link(client, send, mailoutbox):
    response = send(client, "post", reverse("accounts:signup"), signup_data())
    assert response.status_code == 302 and response["Location"] == reverse("accounts:link_sent")
    user = User.objects.get(email="zoe.garnier@example.fr")
    assert not user.is_active and user.is_citizen and user.username == user.email
    assert PendingVerification.objects.filter(user=user).exists()
    assert [m.to for m in mailoutbox] == [["zoe.garnier@example.fr"]]
    assert "vérifiez votre adresse" in mailoutbox[0].subject
    # Not usable before the link is opened.
    login = client.post(reverse("login"), {"username": user.email, "password": STRONG})
    assert login.status_code == 200 and not get_user(client).is_authenticated
    page = client.get(reverse("accounts:link_sent"))
    assert "zoe.garnier@example.fr" in page.content.decode()


def test_the_link_activates_the_account_once(client, send, mailoutbox):
    send(client, "post", reverse("accounts:signup"), signup_data())
    link = link_in(mailoutbox[0])
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == reverse("login")
    user = User.objects.get(email="zoe.garnier@example.fr")
    assert user.is_active and not PendingVerification.objects.filter(user=user).exists()
    login = client.post(reverse("login"), {"username": user.email, "password": STRONG})
    assert login.status_code == 302 and get_user(client) == user
    # Opened again: nothing more happens, the account stays as it is.
    assert client.get(link).status_code == 302


def test_expired_and_tampered_links_are_refused(client, send, mailoutbox, settings):
    send(client, "post", reverse("accounts:signup"), signup_data())
    link = link_in(mailoutbox[0])
    later = time.time() + settings.ACCOUNT_VERIFICATION_MAX_AGE + 5
    with mock.patch("django.core.signing.time.time", return_value=later):
        expired = client.get(link)
    assert expired.status_code == 410
    assert "Lien expiré" in expired.content.decode()
    assert 'action="/compte/renvoyer-le-lien/"' in expired.content.decode()
    token = link.rstrip("/").rsplit("/", 1)[1]
    tampered = client.get(reverse("accounts:verify", args=[token[:-2] + "xx"]))
    assert tampered.status_code == 400
    assert not User.objects.get(email="zoe.garnier@example.fr").is_active


def test_a_deactivated_account_is_not_reactivated_by_an_old_link(client, send, mailoutbox):
    send(client, "post", reverse("accounts:signup"), signup_data())
    user = User.objects.get(email="zoe.garnier@example.fr")
    link = link_in(mailoutbox[0])
    client.get(link)
    User.objects.filter(pk=user.pk).update(is_active=False)  # an administrator closed it
    assert client.get(link).status_code == 400
    assert not User.objects.get(pk=user.pk).is_active


def test_an_existing_address_gets_the_same_page_and_a_notice(client, send, mailoutbox, citizen):
    response = send(
        client, "post", reverse("accounts:signup"), signup_data(email=citizen.email.upper())
    )
    assert response["Location"] == reverse("accounts:link_sent")
    assert User.objects.filter(email__iexact=citizen.email).count() == 1
    assert User.objects.get(pk=citizen.pk).check_password("motdepasse-solide-2026")
    assert [m.to for m in mailoutbox] == [[citizen.email]]
    assert "déjà un compte" in mailoutbox[0].subject


def test_signing_up_twice_sends_the_link_again_and_creates_one_account(client, send, mailoutbox):
    send(client, "post", reverse("accounts:signup"), signup_data())
    send(client, "post", reverse("accounts:signup"), signup_data())
    assert User.objects.filter(email="zoe.garnier@example.fr").count() == 1
    assert len(mailoutbox) == 2 and all("vérifiez" in m.subject for m in mailoutbox)


def test_resend_only_mails_accounts_waiting_for_verification(client, send, mailoutbox, citizen):
    send(client, "post", reverse("accounts:signup"), signup_data())
    mailoutbox.clear()
    for email in ("zoe.garnier@example.fr", citizen.email, "personne@example.fr"):
        response = send(client, "post", reverse("accounts:resend"), {"email": email})
        assert response["Location"] == reverse("accounts:link_sent")
    assert [m.to for m in mailoutbox] == [["zoe.garnier@example.fr"]]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (
            "court-2026",
            "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères.",
        ),
        ("123456789012345", "Ce mot de passe est entièrement numérique."),
        ("cookiemonster", "Ce mot de passe est trop courant."),
        ("zoe.garnier@example", "trop semblable au champ «\xa0adresse électronique\xa0»"),
    ],
)
def test_password_rules_are_explained_in_french(client, password, message):
    response = client.post(
        reverse("accounts:signup"), signup_data(password1=password, password2=password)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not User.objects.filter(email="zoe.garnier@example.fr").exists()


def test_mismatched_confirmation_is_an_error(client):
    response = client.post(reverse("accounts:signup"), signup_data(password2=STRONG + "!"))
    assert "Les deux mots de passe ne sont pas identiques." in response.content.decode()


def test_one_address_gets_a_limited_number_of_account_mails(client, send, mailoutbox, settings):
    send(client, "post", reverse("accounts:signup"), signup_data())
    for _ in range(settings.ACCOUNT_MAILS_PER_HOUR + 2):
        send(client, "post", reverse("accounts:resend"), {"email": "Zoe.Garnier@example.fr"})
        send(
            client, "post", reverse("accounts:password_reset"), {"email": "zoe.garnier@example.fr"}
        )
    assert len(mailoutbox) == settings.ACCOUNT_MAILS_PER_HOUR


def test_unverified_accounts_are_purged_once_their_link_expired(
    client, send, mailoutbox, settings, citizen
):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import purge_unverified
    from accounts.tasks import purge_unverified_accounts
    from contactcenter.celery import app as celery_app

    send(client, "post", reverse("accounts:signup"), signup_data())
    send(client, "post", reverse("accounts:signup"), signup_data(email="lea@example.fr"))
    zoe = User.objects.get(email="zoe.garnier@example.fr")
    # A deactivated account (no pending verification) and a fresh one are never purged.
    citizen.is_active = False
    citizen.save()
    later = timezone.now() + timedelta(seconds=settings.ACCOUNT_VERIFICATION_MAX_AGE + 60)
    # Léa asked for a new link just before the purge: hers counts from then.
    PendingVerification.objects.filter(user=zoe).update(
        link_sent_at=timezone.now() - timedelta(seconds=120)
    )
    with mock.patch("django.utils.timezone.now", return_value=later - timedelta(seconds=90)):
        send(client, "post", reverse("accounts:resend"), {"email": "lea@example.fr"})
    assert purge_unverified(now=later) == 1
    assert not User.objects.filter(pk=zoe.pk).exists()
    assert User.objects.filter(email="lea@example.fr", is_active=False).exists()
    assert User.objects.filter(pk=citizen.pk).exists()
    # Idempotent: a second run deletes nothing more.
    assert purge_unverified(now=later) == 0
    # The purged address can sign up again.
    send(client, "post", reverse("accounts:signup"), signup_data())
    assert User.objects.filter(email="zoe.garnier@example.fr", is_active=False).exists()
    # Run by Celery beat, and the task itself purges with the current time.
    tasks = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert "accounts.tasks.purge_unverified_accounts" in tasks
    assert purge_unverified_accounts() == 0


def test_an_unverified_account_that_logged_in_is_not_purged(client, send, mailoutbox, settings):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import purge_unverified

    send(client, "post", reverse("accounts:signup"), signup_data())
    user = User.objects.get(email="zoe.garnier@example.fr")
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    later = timezone.now() + timedelta(seconds=settings.ACCOUNT_VERIFICATION_MAX_AGE + 60)
    assert purge_unverified(now=later) == 0
    assert User.objects.filter(pk=user.pk).exists()
