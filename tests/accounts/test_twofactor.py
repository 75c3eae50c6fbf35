"""Two-factor authentication: staff are logged in only after a TOTP or recovery code; first
login enrols; a browser may be remembered 12 hours; wrong codes count for the lockout; the
console, the dashboard and the admin are out of reach after the password alone."""

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor

from .conftest import PASSWORD, enrol, password_step, totp_code

pytestmark = pytest.mark.django_db


def test_the_password_alone_logs_no_staff_member_in(client, agent_a, supervisor, admin_user):
    for user in (agent_a, supervisor, admin_user):
        client = Client()
        enrol(user)
        response = password_step(client, user)
        assert response.status_code == 302
        assert response["Location"] == reverse("accounts:two_factor_verify")
        assert not get_user(client).is_authenticated
        for path in ("/console/", "/supervision/tableau-de-bord/", "/admin/", "/api/cases/"):
            page = client.get(path)
            assert page.status_code in (302, 403), (path, page.status_code)
            if page.status_code == 302:
                assert page["Location"].startswith(("/connexion/", "/admin/login/")), path


def test_the_admin_login_page_sends_to_ours(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/connexion/?next=/admin/"


def test_first_staff_login_enrols_then_shows_recovery_codes_once(client, agent_a):
    response = password_step(client, agent_a)
    assert response["Location"] == reverse("accounts:two_factor_enrol")
    page = client.get(reverse("accounts:two_factor_enrol"))
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html
    device = TOTPDevice.objects.get(user=agent_a, confirmed=False)
    wrong = client.post(reverse("accounts:two_factor_enrol"), {"code": "000000"})
    assert "Code incorrect" in wrong.content.decode() and not get_user(client).is_authenticated
    # django-otp throttles a device after a failure (1 s, then 2, 4...): a person types slower.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=2)
    )
    response = client.post(reverse("accounts:two_factor_enrol"), {"code": totp_code(device)})
    assert response["Location"] == reverse("accounts:recovery_codes")
    assert get_user(client) == agent_a
    codes_page = client.get(reverse("accounts:recovery_codes")).content.decode()
    codes = list(StaticToken.objects.filter(device__user=agent_a).values_list("token", flat=True))
    assert len(codes) == twofactor.RECOVERY_CODES and all(code in codes_page for code in codes)
    assert 'href="/console/"' in codes_page
    assert client.get(reverse("accounts:recovery_codes")).status_code == 302  # shown once
    assert client.get("/console/").status_code == 200
    assert TOTPDevice.objects.get(user=agent_a).confirmed


def test_login_with_the_application_code(client, supervisor):
    device = enrol(supervisor)
    password_step(client, supervisor, **{"QUERY_STRING": "next=/supervision/tableau-de-bord/"})
    page = client.get(reverse("accounts:two_factor_verify"))
    assert supervisor.email in page.content.decode()
    response = client.post(reverse("accounts:two_factor_verify"), {"code": totp_code(device)})
    assert response.status_code == 302
    assert get_user(client) == supervisor
    assert client.session["otp_device_id"] == device.persistent_id
    assert client.get("/supervision/tableau-de-bord/").status_code == 200
    assert twofactor.PENDING_KEY not in client.session


def test_a_code_is_accepted_once(client, agent_a):
    device = enrol(agent_a)
    code = totp_code(device)
    password_step(client, agent_a)
    client.post(reverse("accounts:two_factor_verify"), {"code": code})
    other = Client()
    password_step(other, agent_a)
    replay = other.post(reverse("accounts:two_factor_verify"), {"code": code})
    assert replay.status_code == 200 and "Code incorrect ou déjà utilisé" in replay.content.decode()
    assert not get_user(other).is_authenticated


def test_a_recovery_code_works_once(client, agent_a):
    enrol(agent_a)
    codes = twofactor.new_recovery_codes(agent_a)
    password_step(client, agent_a)
    response = client.post(reverse("accounts:two_factor_verify"), {"code": codes[0].upper()})
    assert response.status_code == 302 and get_user(client) == agent_a
    assert StaticToken.objects.filter(device__user=agent_a).count() == len(codes) - 1
    again = Client()
    password_step(again, agent_a)
    # The throttle of django-otp waits after a failure: the reused code fails anyway.
    refused = again.post(reverse("accounts:two_factor_verify"), {"code": codes[0]})
    assert refused.status_code == 200 and not get_user(again).is_authenticated


def test_wrong_codes_lock_the_login_like_wrong_passwords(client, agent_a, settings):
    enrol(agent_a)
    password_step(client, agent_a)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(reverse("accounts:two_factor_verify"), {"code": "123456"})
        assert response.status_code == 200
    locked = client.post(reverse("accounts:two_factor_verify"), {"code": "123456"})
    assert locked.status_code == 429
    assert "Compte temporairement bloqué" in locked.content.decode()
    # The pending login is gone, and the password is refused too for the cool-off time.
    assert client.get(reverse("accounts:two_factor_verify"))["Location"] == reverse("login")
    assert password_step(client, agent_a).status_code == 429
    assert not get_user(client).is_authenticated


def test_a_pending_login_expires(client, agent_a, settings):
    device = enrol(agent_a)
    password_step(client, agent_a)
    later = time.time() + settings.TWO_FACTOR_PENDING_SECONDS + 1
    with mock.patch("accounts.twofactor.time.time", return_value=later):
        response = client.post(reverse("accounts:two_factor_verify"), {"code": totp_code(device)})
    assert response["Location"] == reverse("login")
    assert not get_user(client).is_authenticated


def test_a_remembered_browser_skips_the_code_for_12_hours(client, agent_a, settings):
    device = enrol(agent_a)
    password_step(client, agent_a)
    response = client.post(
        reverse("accounts:two_factor_verify"), {"code": totp_code(device), "remember": "on"}
    )
    cookie = response.cookies[twofactor.REMEMBER_COOKIE]
    assert cookie["max-age"] == 12 * 3600 and cookie["httponly"]
    client.post(reverse("logout"))
    assert password_step(client, agent_a)["Location"] == reverse("console:home")
    assert get_user(client) == agent_a
    # Past 12 hours, or after a new password, the browser is no longer remembered.
    client.post(reverse("logout"))
    later = time.time() + 12 * 3600 + 5
    with mock.patch("django.core.signing.time.time", return_value=later):
        expired = password_step(client, agent_a)
    assert expired["Location"] == reverse("accounts:two_factor_verify")
    client.post(reverse("logout"))
    agent_a.set_password("un-autre-mot-de-passe-2026")
    agent_a.save()
    changed = password_step(client, agent_a, password="un-autre-mot-de-passe-2026")
    assert changed["Location"] == reverse("accounts:two_factor_verify")


def test_a_remembered_browser_is_for_one_person(client, agent_a, agent_b):
    device = enrol(agent_a)
    enrol(agent_b)
    password_step(client, agent_a)
    client.post(
        reverse("accounts:two_factor_verify"), {"code": totp_code(device), "remember": "on"}
    )
    client.post(reverse("logout"))
    assert password_step(client, agent_b)["Location"] == reverse("accounts:two_factor_verify")


def test_a_citizen_may_turn_two_factor_on_and_off(client, citizen):
    assert password_step(client, citizen)["Location"] == reverse("messaging:space")
    client.get(reverse("accounts:two_factor_enrol"))
    device = TOTPDevice.objects.get(user=citizen, confirmed=False)
    response = client.post(reverse("accounts:two_factor_enrol"), {"code": totp_code(device)})
    assert response["Location"] == reverse("accounts:recovery_codes")
    assert "codes de secours" in client.get(reverse("accounts:account")).content.decode()
    client.post(reverse("logout"))
    assert password_step(client, citizen)["Location"] == reverse("accounts:two_factor_verify")
    client.post(
        reverse("accounts:two_factor_verify"),
        {"code": totp_code(TOTPDevice.objects.get(user=citizen), 1)},
    )
    assert get_user(client) == citizen
    refused = client.post(reverse("accounts:two_factor_disable"), {"current_password": "non"})
    assert "Mot de passe incorrect." in refused.content.decode()
    client.post(reverse("accounts:two_factor_disable"), {"current_password": PASSWORD})
    assert not TOTPDevice.objects.filter(user=citizen).exists()


def test_staff_cannot_turn_it_off(client, agent_a):
    enrol(agent_a)
    client.force_login(agent_a)
    response = client.post(reverse("accounts:two_factor_disable"), {"current_password": PASSWORD})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=agent_a).exists()


def test_new_recovery_codes_replace_the_old_ones(client, citizen):
    enrol(citizen)
    old = twofactor.new_recovery_codes(citizen)
    client.force_login(citizen)
    response = client.post(reverse("accounts:recovery_codes"))
    assert response["Location"] == reverse("accounts:recovery_codes")
    page = client.get(reverse("accounts:recovery_codes")).content.decode()
    new = list(StaticToken.objects.filter(device__user=citizen).values_list("token", flat=True))
    assert not set(old) & set(new) and all(code in page for code in new)


def test_the_password_alone_cannot_set_up_a_new_device(client, agent_a):
    enrol(agent_a)
    password_step(client, agent_a)
    response = client.get(reverse("accounts:two_factor_enrol"))
    assert response["Location"] == reverse("accounts:two_factor_verify")
    posted = client.post(reverse("accounts:two_factor_enrol"), {"code": "123456"})
    assert posted["Location"] == reverse("accounts:two_factor_verify")
    assert TOTPDevice.objects.filter(user=agent_a).count() == 1
    assert not get_user(client).is_authenticated
