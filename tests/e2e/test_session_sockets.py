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
