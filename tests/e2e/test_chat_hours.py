"""Opening hours of the live chat in a real browser: while the chat is open the citizen gets the
button; an exceptional closure entered in the admin closes it at once (no agent changes status);
the citizen then reads the schedule and the next opening where the button was, with the secure
message and callback alternatives, on the space and in the chat form (no red field error); the
agent who goes available is told the service is closed; deleting the closure brings the button
back live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import END_LEFT_CHATS, TWO_FACTOR_PATH, demo_totp, set_agent_status

SETUP = (
    END_LEFT_CHATS
    + """
from django.utils import timezone
from contactcenter.models import Service
from routing.models import AgentPresence, Closure

service = Service.objects.get(code="fiscalite")
AgentPresence.objects.filter(user__agent_profile__services=service).update(
    status="offline", capacity_chat=2
)
Closure.objects.filter(reason="Formation e2e").delete()
# Written behind the services' backs: the cached chat availability is recomputed.
from routing.availability import refresh_all
refresh_all()
result = {"today": timezone.localdate().isoformat()}
"""
)
CLEANUP = """
from routing.models import AgentPresence, Closure
Closure.objects.filter(reason="Formation e2e").delete()
AgentPresence.objects.filter(user__email="alice.durand@guichet.example.fr").update(
    status="offline"
)
# Written behind the services' backs: the cached chat availability is recomputed.
from routing.availability import refresh_all
refresh_all()
"""
CLOSED = "Le tchat est fermé en ce moment"


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class AdminClient:
    """The Django admin driven over HTTP in a browser context: no admin page is rendered (the
    admin is not the subject here; its pages would request a favicon it does not have)."""

    def __init__(self, browser, e2e_server, email, password):
        self.context = browser.new_context(base_url=e2e_server.url)
        self.request = self.context.request
        self.post("/connexion/", {"username": email, "password": password})
        self.post(TWO_FACTOR_PATH, {"code": demo_totp(email)})  # staff: the second factor

    def post(self, path: str, data: dict):
        found = CSRF.search(self.request.get(path).text())
        assert found is not None
        token = found.group(1)
        response = self.request.post(path, form={"csrfmiddlewaretoken": token, **data})
        assert response.ok, f"{path}: {response.status}"
        return response

    def close(self):
        self.context.close()


def test_closed_chat_shows_hours_and_alternatives_and_admin_changes_apply_live(
    new_page, browser, check_a11y, demo, e2e_server
):
    setup = e2e_server.shell_json(SETUP)
    admin = AdminClient(browser, e2e_server, demo.admin, demo.password)
    try:
        run_flow(new_page, check_a11y, demo, admin, setup["today"])
    finally:
        admin.close()
        e2e_server.shell(CLEANUP)


def run_flow(new_page, check_a11y, demo, admin, today):
    # --- open (the demo is open 24/7): the agent goes available, the citizen gets the button --
    console_errors: list[str] = []

    def watch(page):
        page.on(
            "console",
            lambda m: console_errors.append(f"{page.url}: {m.text}") if m.type == "error" else None,
        )
        return page

    agent = watch(new_page(demo.agent_fiscalite))
    agent.goto("/tchat/agent/")
    set_agent_status(agent, "available")
    expect(agent.locator("[data-routing-status-badge]")).to_have_text("Disponible")
    expect(agent.locator("[data-routing-closed]")).to_have_count(0)

    citizen = watch(new_page(demo.citizen))
    citizen.goto("/espace/")
    chat_button = citizen.get_by_role("link", name="Discuter avec un agent")
    expect(chat_button).to_be_visible(timeout=10_000)
    check_a11y(citizen)

    # --- the admin enters an exceptional closure of every service for today ------------------
    form = {"service": "", "start_date": today, "end_date": today, "reason": "Formation e2e"}
    saved = admin.post("/admin/routing/closure/add/", {**form, "_save": "Enregistrer"})
    assert "Formation e2e" in saved.text()
    closure_id = re.search(r"/admin/routing/closure/(\d+)/change/", saved.text()).group(1)

    # The button goes away live, with no status change of the agent.
    expect(chat_button).to_be_hidden(timeout=10_000)

    # --- where the button was: the schedule, the next opening and the alternatives ------------
    citizen.reload()
    box = citizen.locator("[data-when-unavailable]")
    expect(box.get_by_role("heading", name=CLOSED)).to_be_visible()
    hours = box.locator("[data-chat-hours]")
    expect(hours).to_contain_text("Fermé aujourd'hui (fermeture exceptionnelle).")
    expect(hours).to_contain_text("Le tchat est ouvert 7 jours sur 7, 24 h sur 24")
    expect(hours).to_contain_text(re.compile(r"\(réouverture demain à 0 h\)"))
    expect(box.get_by_role("link", name="Envoyer un message sécurisé")).to_be_visible()
    expect(box.get_by_role("link", name="Demander à être rappelé")).to_be_visible()
    expect(citizen.get_by_text("Aucun agent n'est disponible")).to_have_count(0)
    check_a11y(citizen)

    # --- the chat form says the same, before and after sending, never as a field error -------
    citizen.goto("/tchat/nouveau/?topic=impots")
    notice = citizen.locator("#chat-unavailable")
    expect(notice.get_by_role("heading", name=CLOSED)).to_be_visible()
    expect(notice).to_contain_text("(réouverture demain à 0 h)")
    check_a11y(citizen)
    citizen.get_by_role("textbox", name=re.compile("^Votre question")).fill("Bonjour")
    with citizen.expect_navigation():
        citizen.get_by_role("button", name="Démarrer le tchat").click()
    expect(notice.get_by_role("heading", name=CLOSED)).to_be_visible()
    expect(notice.get_by_role("link", name="Envoyer un message sécurisé")).to_be_visible()
    expect(notice.get_by_role("link", name="Demander à être rappelé")).to_be_visible()
    expect(citizen.locator(".fr-message--error")).to_have_count(0)
    expect(citizen.get_by_role("textbox", name=re.compile("^Votre question"))).to_have_value(
        "Bonjour"
    )
    check_a11y(citizen)

    # --- the agent who goes available now is told that the service is closed -----------------
    set_agent_status(agent, "paused")
    set_agent_status(agent, "available")
    closed = agent.locator("[data-routing-closed]")
    expect(closed).to_contain_text("Pôle fiscalité et titres est fermé")
    expect(closed).to_contain_text("(réouverture demain à 0 h)")
    expect(agent.locator("[data-routing-announce]")).to_contain_text(
        "Votre service est fermé en ce moment."
    )
    check_a11y(agent)

    # --- the admin deletes the closure: the button comes back live, the agent did nothing ----
    citizen.goto("/espace/")
    expect(chat_button).to_be_hidden()
    admin.post(f"/admin/routing/closure/{closure_id}/delete/", {"post": "yes"})
    expect(chat_button).to_be_visible(timeout=10_000)
    check_a11y(citizen)
    # A refused chat is not an HTTP error: no page of this flow logs a browser error.
    assert not console_errors, console_errors
