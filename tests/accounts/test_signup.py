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


def _age(user, *, days: float, link_days: float | None = None) -> None:
    """Make a sign-up ``days`` old, its last link sent ``link_days`` ago (the same by default)."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    link_days = days if link_days is None else link_days
    PendingVerification.objects.filter(user=user).update(
        created_at=now - timedelta(days=days), link_sent_at=now - timedelta(days=link_days)
    )


def test_unverified_sign_ups_are_purged_after_the_configured_days(
    client, send, mailoutbox, settings, citizen, topic_a, capsys
):
    from django.core.management import call_command

    from accounts.services import purge_unverified
    from accounts.tasks import purge_unverified_accounts
    from contactcenter.celery import app as celery_app
    from contactcenter.models import Case
    from contactcenter.services import open_case

    settings.ACCOUNTS_UNVERIFIED_DAYS = 7
    for email in ("zoe.garnier@example.fr", "lea@example.fr", "old.link@example.fr"):
        send(client, "post", reverse("accounts:signup"), signup_data(email=email))
    for email in ("young@example.fr", "owner@example.fr"):
        send(client, "post", reverse("accounts:signup"), signup_data(email=email))
    zoe, lea, relinked, young, owner = (
        User.objects.get(email=email)
        for email in (
            "zoe.garnier@example.fr",
            "lea@example.fr",
            "old.link@example.fr",
            "young@example.fr",
            "owner@example.fr",
        )
    )
    _age(zoe, days=8)
    _age(lea, days=30)
    # A new link asked for yesterday: still valid, so the account waits for it.
    _age(relinked, days=9, link_days=1)
    # Past its link's lifetime but younger than the configured days.
    _age(young, days=6)
    # Owns a case (an account created otherwise, e.g. by an agent): kept.
    _age(owner, days=20)
    open_case(
        citizen=owner,
        topic=topic_a,
        kind=Case.Kind.QUESTION,
        channel="web",
        subject="Sujet",
        body="Texte",
        route=False,
    )
    # A deactivated account (no pending verification) is never purged.
    citizen.is_active = False
    citizen.save()

    # --dry-run lists and deletes nothing.
    call_command("purge_unverified_accounts", "--dry-run")
    out = capsys.readouterr().out
    assert "lea@example.fr" in out and "zoe.garnier@example.fr" in out
    assert "2 compte(s)" in out and "young@" not in out and "owner@" not in out
    assert User.objects.filter(pk__in=[zoe.pk, lea.pk]).count() == 2

    assert sorted(purge_unverified()) == ["lea@example.fr", "zoe.garnier@example.fr"]
    remaining = set(User.objects.values_list("email", flat=True))
    assert {"old.link@example.fr", "young@example.fr", "owner@example.fr"} <= remaining
    assert citizen.email in remaining and not {zoe.email, lea.email} & remaining
    # Idempotent: a second run deletes nothing more.
    assert purge_unverified() == []
    call_command("purge_unverified_accounts")
    assert "0 compte(s)" in capsys.readouterr().out
    # A shorter setting catches the younger one.
    settings.ACCOUNTS_UNVERIFIED_DAYS = 5
    assert purge_unverified_accounts() == 1
    assert not User.objects.filter(pk=young.pk).exists()
    # The purged address can sign up again.
    send(client, "post", reverse("accounts:signup"), signup_data())
    assert User.objects.filter(email="zoe.garnier@example.fr", is_active=False).exists()
    # Run nightly by Celery beat.
    entry = celery_app.conf.beat_schedule["accounts-purge-unverified"]
    assert entry["task"] == "accounts.tasks.purge_unverified_accounts"
    assert entry["schedule"].hour == {3}


def test_an_unverified_account_that_logged_in_is_not_purged(client, send, mailoutbox, settings):
    from django.utils import timezone

    from accounts.services import purge_unverified

    send(client, "post", reverse("accounts:signup"), signup_data())
    user = User.objects.get(email="zoe.garnier@example.fr")
    _age(user, days=60)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    assert purge_unverified() == []
    assert User.objects.filter(pk=user.pk).exists()
