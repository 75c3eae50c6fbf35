"""Logging out in one tab ends the websockets of the other tabs of that browser at once: the
agent's chat desk, left open in a second tab, is closed (4401) and the tab goes to the login
page (docs/realtime.md)."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_logging_out_in_one_tab_closes_the_chat_socket_of_another(new_page, check_a11y, demo):
    desk = new_page(demo.agent_fiscalite)
    closes: list[str] = []
    frames: list[str] = []

    def watch(socket):
        if "/ws/tchat/agent/" in socket.url:
            socket.on("framereceived", lambda payload: frames.append(payload))
            socket.on("close", lambda _socket: closes.append(socket.url))

    desk.on("websocket", watch)
    desk.goto("/tchat/agent/")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Mes tchats")
    for _ in range(100):  # the desk socket is live: it sent the agent's chats
        if frames:
            break
        desk.wait_for_timeout(100)
    assert frames and '"desk"' in frames[0]
    check_a11y(desk)

    other = desk.context.new_page()
    other.goto("/")
    with other.expect_navigation(wait_until="load"):
        other.get_by_role("button", name="Se déconnecter").click()
    expect(other).to_have_url(re.compile(r"/connexion/"))

    # The server closed the desk tab's socket; the page reloaded and met the login page.
    expect(desk).to_have_url(re.compile(r"/connexion/\?next=/tchat/agent/"))
    assert closes
    expect(desk.get_by_label("Mot de passe")).to_be_visible()


def test_a_second_factor_reset_closes_the_agents_desk_in_another_browser(
    new_page, check_a11y, demo, e2e_server
):
    """A supervisor resets an agent's lost second factor: the agent's desk, open in another
    browser, is closed at once and lands on the login page (accounts.staff_two_factor)."""
    desk = new_page(demo.agent_fiscalite2)
    frames: list[str] = []

    def watch(socket):
        if "/ws/tchat/agent/" in socket.url:
            socket.on("framereceived", lambda payload: frames.append(payload))

    desk.on("websocket", watch)
    desk.goto("/tchat/agent/")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Mes tchats")
    for _ in range(100):
        if frames:
            break
        desk.wait_for_timeout(100)
    assert frames

    boss = new_page(demo.supervisor)
    try:
        boss.goto("/compte/equipe/double-authentification/")
        with boss.expect_navigation(wait_until="load"):
            boss.get_by_role("button", name=re.compile(r"Réinitialiser — Marc")).click()
        expect(boss.locator("main")).to_contain_text("est réinitialisée")
        check_a11y(boss)
        expect(desk).to_have_url(re.compile(r"/connexion/\?next=/tchat/agent/"))
        expect(desk.get_by_label("Mot de passe")).to_be_visible()
        # The supervisor's own session goes on.
        boss.goto("/compte/equipe/double-authentification/")
        expect(boss.get_by_role("heading", level=1)).to_be_visible()
        assert "/connexion/" not in boss.url
    finally:  # the demo's device back, for the other tests
        e2e_server.shell_json(
            "from accounts.demo import enrol_staff\n"
            "from contactcenter.models import User\n"
            f"enrol_staff({{'agents': [User.objects.get(email={demo.agent_fiscalite2!r})],"
            " 'supervisors': [], 'admins': []})\n"
            "result = 1"
        )
