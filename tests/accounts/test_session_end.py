"""What ends all of a person's login sessions, in every browser, websockets included: a staff
second-factor reset, a password reset by the mailed link, a deactivation (which a reactivation
does not undo). Through the full HTTP and ASGI stacks, with sessions from real logins."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from contactcenter import sockets
from contactcenter.models import User
from tests.contactcenter.test_sockets import closed_with, open_for

from .conftest import password_step
from .test_staff_two_factor import logged_in_with_code, reset_url, with_factors

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "une toute nouvelle phrase 2026"


@pytest.fixture(autouse=True)
def _memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def logged_in(client: Client) -> bool:
    return client.get(reverse("accounts:account")).status_code == 200


def citizen_login(user) -> Client:
    client = Client()
    assert password_step(client, user).status_code == 302
    assert logged_in(client)
    return client


def test_generation_zero_keeps_djangos_session_hash(citizen):
    """Sessions opened before the field existed stay valid."""
    from django.utils.crypto import salted_hmac

    salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
    djangos = salted_hmac(salt, citizen.password, algorithm="sha256").hexdigest()
    assert citizen.session_generation == 0
    assert citizen.get_session_auth_hash() == djangos
    sockets.end_user_sessions(citizen.pk, "test")
    citizen.refresh_from_db()
    assert citizen.session_generation == 1
    assert citizen.get_session_auth_hash() != djangos


async def test_two_factor_reset_ends_the_agents_sessions_and_sockets(supervisor, agent_a):
    def log_both_in():
        with_factors(agent_a)
        return logged_in_with_code(supervisor), logged_in_with_code(agent_a)

    boss, agent = await database_sync_to_async(log_both_in)()
    agent_key = agent.cookies["sessionid"].value
    boss_key = boss.cookies["sessionid"].value
    console = await open_for("/ws/presence/", agent_a, agent_key)
    second_browser = await open_for("/ws/tchat/agent/", agent_a)  # another login of the agent
    boss_socket = await open_for("/ws/availability/", supervisor, boss_key)
    for socket in (console, second_browser, boss_socket):
        await socket.receive_json_from()

    response = await sync_to_async(boss.post)(reset_url(agent_a))
    assert response.status_code == 302

    assert await closed_with(console) == sockets.CLOSE_SESSION_ENDED
    assert await closed_with(second_browser) == sockets.CLOSE_SESSION_ENDED
    assert await boss_socket.receive_nothing(timeout=0.3)  # the supervisor's session stays
    # Over HTTP, the agent's session is refused at its next request.
    page = await sync_to_async(agent.get)("/console/")
    assert page.status_code == 302 and page["Location"].startswith("/connexion/")
    assert await sync_to_async(logged_in)(boss)
    for socket in (console, second_browser, boss_socket):
        await socket.disconnect()

    # The next login works, and asks for a new device (the old one is gone).
    def log_in_again():
        client = Client()
        return password_step(client, agent_a)["Location"]

    assert await database_sync_to_async(log_in_again)() == reverse("accounts:two_factor_enrol")


async def test_password_reset_ends_every_other_session_and_socket(citizen):
    browser = await database_sync_to_async(citizen_login)(citizen)
    key = browser.cookies["sessionid"].value
    socket = await open_for("/ws/availability/", citizen, key)
    await socket.receive_json_from()

    def reset_by_mail():
        uid = urlsafe_base64_encode(force_bytes(citizen.pk))
        token = default_token_generator.make_token(User.objects.get(pk=citizen.pk))
        client = Client()
        form_url = client.get(reverse("accounts:password_reset_confirm", args=[uid, token]))
        done = client.post(
            form_url["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        )
        assert done["Location"] == reverse("accounts:password_reset_complete")

    await database_sync_to_async(reset_by_mail)()
    assert await closed_with(socket) == sockets.CLOSE_SESSION_ENDED
    await socket.disconnect()
    assert not await sync_to_async(logged_in)(browser)
    # The new password logs in; the old one no longer does.
    assert await database_sync_to_async(password_step)(Client(), citizen, NEW_PASSWORD)


async def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(citizen):
    browser = await database_sync_to_async(citizen_login)(citizen)
    socket = await open_for("/ws/availability/", citizen, browser.cookies["sessionid"].value)
    await socket.receive_json_from()

    def set_active(value: bool):
        user = User.objects.get(pk=citizen.pk)
        user.is_active = value
        user.save()
        return user

    deactivated = await database_sync_to_async(set_active)(False)
    assert deactivated.session_generation == 1  # the saved instance is up to date
    assert await closed_with(socket) == sockets.CLOSE_SESSION_ENDED
    await socket.disconnect()
    assert not await sync_to_async(logged_in)(browser)
    await database_sync_to_async(set_active)(True)
    assert not await sync_to_async(logged_in)(browser)
    # A save of the reactivated account does not undo the new generation.
    assert (await User.objects.aget(pk=citizen.pk)).session_generation == 1
    # Logging in again works.
    assert await database_sync_to_async(citizen_login)(citizen)


async def test_the_periodic_check_sees_a_raised_generation(citizen, settings):
    """Should the layer message be lost, the socket's own session check closes it."""
    settings.WEBSOCKET_SESSION_RECHECK_SECONDS = 0.2
    socket = await open_for("/ws/availability/", citizen)
    await socket.receive_json_from()

    def raise_generation_only():
        User.objects.filter(pk=citizen.pk).update(session_generation=5)

    await database_sync_to_async(raise_generation_only)()
    assert await closed_with(socket, timeout=2.0) == sockets.CLOSE_SESSION_ENDED
    await socket.disconnect()
