"""Passkeys (WebAuthn) as a second factor: registration from the account, login's second step
with a real signature (software authenticator), and what is refused: another origin, a replayed
challenge, a cloned authenticator (counter going back), another person's key; failures count
for the lockout. The Chromium ceremony is in tests/e2e/test_passkeys.py."""

import json

import pytest
from axes.utils import reset as reset_lockouts
from django.conf import settings
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from webauthn.helpers import base64url_to_bytes

from accounts import passkeys, twofactor
from accounts.models import PasskeyDevice

from .conftest import enrol, password_step
from .softkey import SoftAuthenticator

pytestmark = pytest.mark.django_db


def post_json(client, name, body=None):
    return client.post(reverse(name), json.dumps(body or {}), content_type="application/json")


def authenticator():
    return SoftAuthenticator(settings.WEBAUTHN_RP_ID, settings.WEBAUTHN_ORIGINS[0])


def register(client, key, name="Clé USB"):
    options = post_json(client, "accounts:passkey_register_options").json()
    return post_json(
        client, "accounts:passkey_register", {"name": name, "credential": key.create(options)}
    )


def second_step(client, key, **kwargs):
    remember = kwargs.pop("remember", False)
    options = post_json(client, "accounts:passkey_login_options").json()
    return post_json(
        client,
        "accounts:passkey_login",
        {"credential": key.get(options, **kwargs), "remember": remember},
    )


def test_a_citizen_turns_it_on_with_a_passkey_and_logs_in_with_it(citizen):
    client = Client()
    client.force_login(citizen)
    page = client.get(reverse("accounts:passkeys")).content.decode()
    assert 'data-passkey="register"' in page and "Aucune clé d'accès" in page
    key = authenticator()
    options = post_json(client, "accounts:passkey_register_options").json()
    assert options["rp"]["id"] == settings.WEBAUTHN_RP_ID
    # The user handle is the account's keyed hash, with nothing personal in it (a random
    # base64 string may contain the id's digits: compare the decoded bytes).
    handle = base64url_to_bytes(options["user"]["id"])
    assert handle == passkeys.user_handle(citizen)
    assert str(citizen.pk).encode() != handle and citizen.email.encode() not in handle
    answer = register(client, key)
    # First second factor: recovery codes come with it, shown once.
    assert answer.json() == {"redirect": reverse("accounts:recovery_codes")}
    assert client.get(reverse("accounts:recovery_codes")).status_code == 200
    device = PasskeyDevice.objects.get(user=citizen)
    assert device.name == "Clé USB" and device.transports == ["usb"]
    assert StaticToken.objects.filter(device__user=citizen).count() == 10
    assert "1 clé d'accès enregistrée" in client.get(reverse("accounts:account")).content.decode()

    # Next login: the password is not enough, the passkey finishes it.
    client = Client()
    assert password_step(client, citizen)["Location"] == reverse("accounts:two_factor_verify")
    assert not get_user(client).is_authenticated
    page = client.get(reverse("accounts:two_factor_verify")).content.decode()
    assert 'data-passkey="login"' in page
    answer = second_step(client, key)
    assert answer.status_code == 200 and answer.json() == {"redirect": reverse("messaging:space")}
    assert get_user(client) == citizen
    device.refresh_from_db()
    assert device.sign_count == 1 and device.last_used_at is not None


def test_staff_add_a_passkey_beside_their_application(agent_a):
    enrol(agent_a)
    twofactor.new_recovery_codes(agent_a)
    client = Client()
    client.force_login(agent_a)
    key = authenticator()
    assert register(client, key).json() == {"redirect": reverse("accounts:passkeys")}
    # The same key cannot be registered twice.
    assert register(client, key).status_code == 400
    client = Client()
    password_step(client, agent_a)
    assert second_step(client, key, remember=True).json()["redirect"] == reverse("console:home")
    assert get_user(client) == agent_a
    # Remembered browser: the password alone logs in for the next 12 hours.
    client.post(reverse("logout"))
    assert password_step(client, agent_a)["Location"] == reverse("console:home")


def test_what_a_login_with_a_passkey_refuses(citizen, citizen2):
    client = Client()
    client.force_login(citizen)
    key = authenticator()
    register(client, key)
    other_key = authenticator()
    other = Client()
    other.force_login(citizen2)
    register(other, other_key)

    client = Client()
    password_step(client, citizen)
    # Without options first (no challenge in the session): refused.
    bare = post_json(client, "accounts:passkey_login", {"credential": key.get({"challenge": "x"})})
    assert bare.status_code == 400
    # Signed for another origin.
    assert second_step(client, key, origin="https://phishing.example").status_code == 400
    # Another person's key.
    assert second_step(client, other_key).status_code == 400
    # A replayed answer (same challenge, taken once).
    options = post_json(client, "accounts:passkey_login_options").json()
    assertion = key.get(options)
    assert post_json(client, "accounts:passkey_login", {"credential": assertion}).status_code == 200
    client.post(reverse("logout"))
    password_step(client, citizen)
    assert post_json(client, "accounts:passkey_login", {"credential": assertion}).status_code == 400
    reset_lockouts()  # four failures so far: the fifth would lock the login
    # A cloned authenticator: its counter goes back.
    assert second_step(client, key, counter=1).status_code == 400
    assert not get_user(client).is_authenticated
    assert second_step(client, key, counter=100).status_code == 200


def test_wrong_passkey_answers_count_for_the_lockout(citizen):
    client = Client()
    client.force_login(citizen)
    key = authenticator()
    register(client, key)
    client = Client()
    password_step(client, citizen)
    statuses = [
        second_step(client, key, origin="https://phishing.example").status_code for _ in range(5)
    ]
    assert statuses[:4] == [400] * 4 and statuses[4] == 429
    # The pending login is dropped: no ceremony until the password is given again, and the
    # login stays locked.
    assert post_json(client, "accounts:passkey_login_options").status_code == 403
    assert password_step(client, citizen).status_code in (403, 429)
    assert not get_user(client).is_authenticated


def test_passkey_calls_need_a_pending_login_or_a_session(client):
    assert post_json(client, "accounts:passkey_login_options").status_code == 403
    assert post_json(client, "accounts:passkey_register_options").status_code == 302
    assert client.get(reverse("accounts:passkeys")).status_code == 302


def test_removing_the_last_passkey_turns_a_citizen_s_second_factor_off(citizen, citizen2):
    client = Client()
    client.force_login(citizen)
    register(client, authenticator())
    device = PasskeyDevice.objects.get(user=citizen)
    # Nobody else can remove it.
    other = Client()
    other.force_login(citizen2)
    assert other.post(reverse("accounts:passkey_remove", args=[device.pk])).status_code == 404
    response = client.post(reverse("accounts:passkey_remove", args=[device.pk]))
    assert response["Location"] == reverse("accounts:passkeys")
    assert not PasskeyDevice.objects.filter(user=citizen).exists()
    assert not StaticToken.objects.filter(device__user=citizen).exists()
    client = Client()
    assert password_step(client, citizen)["Location"] == reverse("messaging:space")


def test_an_administrator_removes_a_lost_passkey(citizen, admin_user):
    client = Client()
    client.force_login(citizen)
    register(client, authenticator())
    device = PasskeyDevice.objects.get(user=citizen)
    admin = Client()
    admin.force_login(admin_user)
    listing = admin.get("/admin/accounts/passkeydevice/").content.decode()
    assert "Clé USB" in listing
    assert admin.get("/admin/accounts/passkeydevice/add/").status_code == 403
    url = f"/admin/accounts/passkeydevice/{device.pk}/delete/"
    assert admin.post(url, {"post": "yes"}).status_code == 302
    assert not PasskeyDevice.objects.filter(pk=device.pk).exists()
