"""My account: password reset (no enumeration) and change, e-mail change confirmed from the new
address, deletion (erased, or kept without identity when cases refer to the account)."""

import time
from unittest import mock

import pytest
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from contactcenter.idempotency import FIELD
from contactcenter.models import Case, User

from .conftest import PASSWORD, enrol, link_in, password_step

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "un nouveau mot de passe sûr"


# --- Password reset and change ----------------------------------------------------------------


def test_password_reset_by_mail(client, send, mailoutbox, citizen):
    response = send(client, "post", reverse("accounts:password_reset"), {"email": citizen.email})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert [m.to for m in mailoutbox] == [[citizen.email]]
    link = link_in(mailoutbox[0])
    form = client.get(link, follow=True)
    assert "Choisir un nouveau mot de passe" in form.content.decode()
    set_url = form.redirect_chain[-1][0]
    weak = client.post(set_url, {"new_password1": "court", "new_password2": "court"})
    assert "au minimum 12 caractères" in weak.content.decode()
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("accounts:password_reset_complete")
    assert User.objects.get(pk=citizen.pk).check_password(NEW_PASSWORD)
    # The link served once.
    again = client.get(link, follow=True)
    assert "Ce lien n'est pas valable" in again.content.decode()


def test_password_reset_says_the_same_for_any_address(client, send, mailoutbox, citizen):
    User.objects.filter(pk=citizen.pk).update(is_active=False)
    for email in ("personne@example.fr", citizen.email):
        response = send(client, "post", reverse("accounts:password_reset"), {"email": email})
        assert response["Location"] == reverse("accounts:password_reset_done")
    assert mailoutbox == []


def test_the_login_page_links_to_the_reset_and_the_sign_up(client):
    html = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("accounts:password_reset")}"' in html
    assert f'href="{reverse("accounts:signup")}"' in html


def test_password_change_keeps_the_session(client, citizen):
    client.force_login(citizen)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("accounts:account")
    assert get_user(client) == citizen
    assert User.objects.get(pk=citizen.pk).check_password(NEW_PASSWORD)


# --- E-mail change ----------------------------------------------------------------------------


def ask_change(client, send, email, password=PASSWORD, key=None):
    data = {"email": email, "current_password": password}
    if key:
        data[FIELD] = key
    return send(client, "post", reverse("accounts:email_change"), data)


def test_the_new_address_counts_once_confirmed(client, send, mailoutbox, citizen):
    client.force_login(citizen)
    response = ask_change(client, send, "camille.nouvelle@example.fr")
    assert response["Location"] == reverse("accounts:account")
    assert User.objects.get(pk=citizen.pk).email == citizen.email  # not yet
    assert [m.to for m in mailoutbox] == [["camille.nouvelle@example.fr"]]
    link = link_in(mailoutbox[0])
    mailoutbox.clear()
    # The link works for the account it was made for only.
    other = Client()
    other.force_login(User.objects.create_user("x@example.fr", "x@example.fr", PASSWORD))
    assert other.get(link).status_code == 400
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 3 * 86400):
        assert client.get(link).status_code == 410
    response = send(client, "get", link)
    assert response["Location"] == reverse("accounts:account")
    user = User.objects.get(pk=citizen.pk)
    assert user.email == user.username == "camille.nouvelle@example.fr"
    assert [m.to for m in mailoutbox] == [[citizen.email]]  # the former address is told
    assert client.get(link).status_code == 400  # made from the former address
    assert password_step(Client(), user).status_code == 302


def test_a_taken_address_gets_a_notice_not_a_link(client, send, mailoutbox, citizen, citizen2):
    client.force_login(citizen)
    ask_change(client, send, citizen2.email)
    assert [m.to for m in mailoutbox] == [[citizen2.email]]
    assert "déjà utilisée" in mailoutbox[0].subject and "/compte/adresse/" not in mailoutbox[0].body


def test_the_change_asks_for_the_password(client, send, mailoutbox, citizen):
    client.force_login(citizen)
    response = ask_change(client, send, "camille.nouvelle@example.fr", password="faux")
    assert "Mot de passe incorrect." in response.content.decode() and mailoutbox == []
    same = ask_change(client, send, citizen.email.upper())
    assert "déjà l&#x27;adresse de votre compte" in same.content.decode()


def test_a_double_submit_sends_one_link(client, send, mailoutbox, citizen):
    client.force_login(citizen)
    key = "0b9a5a4e-4a4c-4a43-9a8e-2f1d3c4b5a69"
    first = ask_change(client, send, "camille.nouvelle@example.fr", key=key)
    second = ask_change(client, send, "camille.nouvelle@example.fr", key=key)
    assert first["Location"] == second["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert len(mailoutbox) == 1


# --- Deletion ---------------------------------------------------------------------------------


def test_an_account_without_cases_is_erased(client, citizen):
    client.force_login(citizen)
    page = client.get(reverse("accounts:delete")).content.decode()
    assert "Ce qui est conservé" in page
    refused = client.post(reverse("accounts:delete"), {"current_password": "faux", "confirm": "on"})
    assert "Mot de passe incorrect." in refused.content.decode()
    response = client.post(
        reverse("accounts:delete"), {"current_password": PASSWORD, "confirm": "on"}
    )
    assert response["Location"] == reverse("accounts:deleted")
    assert not User.objects.filter(pk=citizen.pk).exists()
    assert not get_user(client).is_authenticated
    assert "Votre compte est effacé." in client.get(reverse("accounts:deleted")).content.decode()


def test_an_account_with_cases_is_kept_without_identity(client, citizen, case_a):
    enrol(citizen)
    client.force_login(citizen)
    client.post(reverse("accounts:delete"), {"current_password": PASSWORD, "confirm": "on"})
    user = User.objects.get(pk=citizen.pk)
    assert user.email == user.username == services.deleted_email(user)
    assert (user.first_name, user.last_name, user.mobile_phone) == ("", "", "")
    assert not user.is_active and not user.has_usable_password()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert Case.objects.get(pk=case_a.pk).citizen_id == user.pk
    page = client.get(reverse("accounts:deleted")).content.decode()
    assert "conservées sans votre identité" in page
    assert password_step(Client(), citizen).status_code == 200  # nobody logs in any more


def test_staff_accounts_are_not_deleted_by_their_owner(client, agent_a):
    client.force_login(agent_a)
    response = client.post(
        reverse("accounts:delete"), {"current_password": PASSWORD, "confirm": "on"}
    )
    assert response.status_code == 403 and User.objects.get(pk=agent_a.pk).is_active


def test_a_new_password_from_the_mail_lifts_the_lockout(
    client, send, mailoutbox, citizen, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_step(client, citizen, password="mauvais")
    assert password_step(client, citizen).status_code == 429
    send(client, "post", reverse("accounts:password_reset"), {"email": citizen.email})
    form = client.get(link_in(mailoutbox[0]), follow=True)
    set_url = form.redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert password_step(client, citizen, password=NEW_PASSWORD).status_code == 302
