"""A lost staff second factor reset from the console page by a supervisor (their services'
agents) or an administrator, with a second factor of their own; audited; the agent enrols
again at the next login."""

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.models import PasskeyDevice
from contactcenter.models import AuditLog, User
from tests.conftest import make_staff, make_user

from .conftest import enrol, password_step, totp_code

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:staff_two_factor")


def reset_url(user) -> str:
    return reverse("accounts:staff_two_factor_reset", args=[user.pk])


def logged_in_with_code(user) -> Client:
    """A real local login: password, then the code of the person's TOTP application."""
    client = Client()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or enrol(user)
    assert password_step(client, user)["Location"] == reverse("accounts:two_factor_verify")
    response = client.post(reverse("accounts:two_factor_verify"), {"code": totp_code(device)})
    assert response.status_code == 302, response.content[:300]
    return client


def with_factors(user):
    enrol(user)
    twofactor.new_recovery_codes(user)
    PasskeyDevice.objects.create(
        user=user,
        name="Clé",
        confirmed=True,
        credential_id=f"cle-{user.pk}".encode(),
        credential_hash=f"hash-{user.pk}",
        public_key=b"k",
    )
    return user


def devices(user) -> int:
    return sum(
        model.objects.filter(user=user).count()
        for model in (TOTPDevice, PasskeyDevice, StaticDevice)
    )


def test_supervisor_resets_an_agent_of_their_service(supervisor, agent_a, agent_b):
    with_factors(agent_a)
    with_factors(agent_b)
    client = logged_in_with_code(supervisor)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    # Only the agents of the supervisor's services are listed.
    assert agent_a.email in html and agent_b.email not in html
    assert "1 clé d'accès" in html
    response = client.post(reset_url(agent_a))
    assert response.status_code == 302 and response["Location"] == PAGE
    assert devices(agent_a) == 0 and devices(agent_b) == 3
    entry = AuditLog.objects.get(action=AuditLog.Action.RESET_TWO_FACTOR)
    assert entry.actor == supervisor and entry.detail["staff"] == agent_a.pk
    assert entry.detail["removed"] == {"totp": 1, "passkeys": 1, "recovery": 1}
    assert entry.actor_service is not None
    # A second reset removes nothing and records nothing.
    client.post(reset_url(agent_a))
    assert AuditLog.objects.filter(action=AuditLog.Action.RESET_TWO_FACTOR).count() == 1
    # The agent's next login asks for a new device.
    agent_client = Client()
    response = password_step(agent_client, agent_a)
    assert response["Location"] == reverse("accounts:two_factor_enrol")


def test_an_agent_cannot_reset(agent_a, service_a):
    colleague = with_factors(
        make_staff("collegue@guichet.example.fr", User.Role.AGENT, [service_a])
    )
    client = logged_in_with_code(agent_a)
    assert client.get(PAGE).status_code == 403
    assert client.post(reset_url(colleague)).status_code == 403
    assert devices(colleague) == 3
    assert not AuditLog.objects.filter(action=AuditLog.Action.RESET_TWO_FACTOR).exists()


def test_a_supervisor_of_another_service_cannot_reset(agent_a, service_b):
    other = make_staff("sup.b@guichet.example.fr", User.Role.SUPERVISOR, [service_b])
    with_factors(agent_a)
    client = logged_in_with_code(other)
    assert agent_a.email not in client.get(PAGE).content.decode()
    assert client.post(reset_url(agent_a)).status_code == 404
    assert devices(agent_a) == 3


def test_a_supervisor_cannot_reset_a_supervisor_nor_an_admin_nor_a_citizen(
    supervisor, service_a, admin_user, citizen
):
    peer = with_factors(make_staff("sup2@guichet.example.fr", User.Role.SUPERVISOR, [service_a]))
    client = logged_in_with_code(supervisor)
    for person in (peer, admin_user, citizen, supervisor):
        assert client.post(reset_url(person)).status_code == 404
    assert devices(peer) == 3


def test_the_resetter_needs_a_second_factor_in_this_session(client, supervisor, agent_a):
    with_factors(agent_a)
    client.force_login(supervisor)  # a session without a second factor
    page = client.get(PAGE)
    assert page.status_code == 403
    assert "Double authentification requise" in page.content.decode()
    assert agent_a.email not in page.content.decode()
    assert client.post(reset_url(agent_a)).status_code == 403
    assert devices(agent_a) == 3


def test_an_admin_resets_any_staff_member(admin_user, supervisor):
    with_factors(supervisor)
    client = logged_in_with_code(admin_user)
    assert supervisor.email in client.get(PAGE).content.decode()
    client.post(reset_url(supervisor))
    assert devices(supervisor) == 0
    entry = AuditLog.objects.get(action=AuditLog.Action.RESET_TWO_FACTOR)
    assert entry.actor == admin_user and entry.detail["email"] == supervisor.email


def test_not_for_citizens(citizen):
    client = Client()
    client.force_login(citizen)
    assert client.get(PAGE).status_code == 403
    assert client.post(reset_url(make_user("x@example.fr", User.Role.AGENT))).status_code == 403


def test_the_page_in_english(supervisor, agent_a):
    with_factors(agent_a)
    client = logged_in_with_code(supervisor)
    client.cookies["django_language"] = "en"
    html = client.get(PAGE).content.decode()
    assert "Agents&#x27; two-factor authentication" in html or "Agents' two-factor" in html
    assert "1 passkey" in html and ">Reset<span" in html
    for french in ("Réinitialiser", "clé d'accès", "Appareils", "Double authentification"):
        assert french not in html, french
    client.post(reset_url(agent_a))
    assert "two-factor authentication is reset" in client.get(PAGE).content.decode()
