"""Chromium through the production balancer: two uvicorn processes of the e2e server's database
and Redis prefixes behind HAProxy (``deploy/haproxy.cfg``, tests/topology/harness.py). A citizen
page and an agent page load through HAProxy, a chat message goes both ways, and the pages'
websockets are spread over both processes (each handshake's ``X-Guichet-Process``, read from
Chromium's network events). PostgreSQL + Redis phase only: an in-memory channel layer cannot
cross processes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, set_agent_status
from tests.e2e.test_chat_flow import SETUP
from tests.topology import harness

pytestmark = harness.needs_production_stack

QUESTION = "Bonjour, mon avis passe-t-il bien par le répartiteur ?"
ANSWER = "Oui Camille, votre message a traversé le répartiteur."
REPLY = "Merci, c'est parfait."


@pytest.fixture
def balanced(e2e_server):
    """Two more web processes of the e2e server's site behind HAProxy."""
    topology = harness.start(2, env=e2e_server.env)
    yield topology
    topology.stop()


def watch_sockets(page) -> dict[str, str]:
    """URL path -> process of every websocket the page opens (Chromium's handshake events)."""
    urls: dict[str, str] = {}
    held: dict[str, str] = {}
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")

    def created(event):
        urls[event["requestId"]] = re.sub(r"^wss?://[^/]+", "", event["url"])

    def answered(event):
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        held[urls.get(event["requestId"], event["requestId"])] = headers.get(
            "x-guichet-process", ""
        )

    cdp.on("Network.webSocketCreated", created)
    cdp.on("Network.webSocketHandshakeResponseReceived", answered)
    return held


def test_citizen_and_agent_chat_through_haproxy(balanced, new_page, check_a11y, demo, e2e_server):
    setup = e2e_server.shell_json(SETUP)
    if setup["holiday"]:
        pytest.skip(f"services closed today ({setup['holiday']}): no chat to test")
    try:
        run_flow(balanced, new_page, check_a11y, demo)
    finally:
        if setup["added"]:
            e2e_server.shell(
                "from routing.models import OpeningHours\n"
                f"OpeningHours.objects.filter(pk__in={setup['added']!r}).delete()"
            )


def run_flow(balanced, new_page, check_a11y, demo):
    agent = new_page(base_url=balanced.url)
    agent_sockets = watch_sockets(agent)
    login(agent, demo.agent_fiscalite)
    agent.goto("/tchat/agent/")
    expect(agent.get_by_role("heading", level=1)).to_have_text("Mes tchats")
    set_agent_status(agent, "available")
    # axe-core here; these pages' layout at 320 px and 200 % is test_chat_flow's.
    check_a11y(agent, layout=False)

    citizen = new_page(base_url=balanced.url)
    citizen_sockets = watch_sockets(citizen)
    login(citizen, demo.citizen)
    citizen.goto("/tchat/nouveau/")
    citizen.get_by_label("Thème de votre question").select_option("impots")
    citizen.get_by_role("textbox", name=re.compile("^Votre question")).fill(QUESTION)
    citizen.get_by_role("button", name="Démarrer le tchat").click()
    citizen.wait_for_url(re.compile(r".*/tchat/\d+/$"))
    log = citizen.locator("[data-chat-log]")
    expect(log).to_contain_text(QUESTION)
    expect(citizen.locator("[data-chat-status]")).to_contain_text("Vous échangez avec Alice")
    check_a11y(citizen, layout=False)

    # Citizen -> agent, agent -> citizen, citizen -> agent, each through the balancer.
    panel = agent.locator("section[data-chat]")
    expect(panel.locator("[data-chat-log]")).to_contain_text(QUESTION)
    reply_box = panel.get_by_label("Votre réponse")
    reply_box.fill(ANSWER)
    reply_box.press("Enter")
    expect(log).to_contain_text(ANSWER)
    composer = citizen.get_by_label("Votre message")
    composer.fill(REPLY)
    composer.press("Enter")
    expect(panel.locator("[data-chat-log]")).to_contain_text(REPLY)
    expect(log.locator(".chat-msg", has_text=REPLY)).to_have_count(1)
    check_a11y(agent, layout=False)

    # Every page and socket came through HAProxy, and the sockets used both processes.
    chat_paths = re.compile(r"^/ws/tchat/")
    citizen_chat = {p for path, p in citizen_sockets.items() if chat_paths.match(path)}
    agent_chat = {p for path, p in agent_sockets.items() if chat_paths.match(path)}
    assert citizen_chat and agent_chat, (citizen_sockets, agent_sockets)
    processes = set(citizen_sockets.values()) | set(agent_sockets.values())
    assert processes == set(balanced.web), (citizen_sockets, agent_sockets)
    print(f"citizen's sockets: {citizen_sockets}\nagent's sockets: {agent_sockets}")
