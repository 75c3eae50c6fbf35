"""Live chat in a real browser, two contexts (a citizen, an agent): the chat button appears when
the agent goes available, the citizen chats, the agent answers, the citizen's page reloads
mid-chat and loses nothing, the agent ends with a summary that the citizen finds in their
secure messages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import END_LEFT_CHATS, set_agent_status

QUESTION = "Bonjour, comment déclarer mon changement d'adresse ?"
ANSWER = "Bonjour Camille, je regarde votre dossier."
BEFORE_RELOAD = "Message envoyé juste avant le rechargement"
DURING_RELOAD = "Réponse écrite pendant votre rechargement"
SUMMARY = "À retenir : déclarez votre nouvelle adresse dans « Gérer mon profil » avant le 15."

SETUP = (
    END_LEFT_CHATS
    + """
from datetime import time as dtime
from django.utils import timezone
from contactcenter.models import Service, User
from routing.calendar import calendar_for, holiday_name
from routing.models import AgentPresence, OpeningHours

service = Service.objects.get(code="fiscalite")
# A clean desk: no fiscalite agent available, default chat capacity.
AgentPresence.objects.filter(user__agent_profile__services=service).update(
    status="offline", capacity_chat=2
)
# An agent on a phone or callback case takes no chat: earlier tests (callbacks, the phone's
# screen-pop) may have left one with an agent of the service.
from contactcenter.models import Case
from routing.capacity import ACTIVE_STATUSES, ON_CALL_CHANNELS
Case.objects.filter(
    assigned_to__agent_profile__services=service,
    status__in=ACTIVE_STATUSES,
    channel__in=ON_CALL_CHANNELS,
).update(status="closed", closed_at=timezone.now())
now = timezone.localtime()
added = []
if holiday_name(now.date()) is None and not calendar_for(service.pk).is_open(now):
    # Out of opening hours: open the service for today only (removed after the test).
    added = [OpeningHours.objects.create(
        service=service, weekday=now.weekday(), start=dtime(0, 0), end=dtime(23, 59, 59)
    ).pk]
# Written behind the services' backs: the cached chat availability is recomputed.
from routing.availability import refresh_all
refresh_all()
result = {"added": added, "holiday": holiday_name(now.date())}
"""
)


def test_citizen_and_agent_chat_live_with_reload_and_summary(
    new_page, check_a11y, demo, e2e_server
):
    setup = e2e_server.shell_json(SETUP)
    if setup["holiday"]:
        pytest.skip(f"services closed today ({setup['holiday']}): no chat to test")
    try:
        run_flow(new_page, check_a11y, demo, e2e_server, hours_added=bool(setup["added"]))
    finally:
        if setup["added"]:
            e2e_server.shell(
                "from routing.models import OpeningHours\n"
                f"OpeningHours.objects.filter(pk__in={setup['added']!r}).delete()"
            )


def run_flow(new_page, check_a11y, demo, e2e_server, hours_added):
    # --- the agent opens the chat workspace, not available yet -------------------------------
    agent = new_page(demo.agent_fiscalite)
    agent.goto("/tchat/agent/")
    expect(agent.get_by_role("heading", level=1)).to_have_text("Mes tchats")
    set_agent_status(agent, "offline")
    expect(agent.locator("[data-routing-status-badge]")).to_have_text("Hors ligne")
    check_a11y(agent)

    # --- the citizen's space offers a message or a callback, no chat button ------------------
    citizen = new_page(demo.citizen)
    citizen.goto("/espace/")
    chat_button = citizen.get_by_role("link", name="Discuter avec un agent")
    expect(citizen.locator("[data-chat-availability]")).to_have_count(1)
    expect(chat_button).to_be_hidden()
    expect(citizen.get_by_role("link", name="Envoyer un message sécurisé").first).to_be_visible()
    check_a11y(citizen)

    # --- the agent goes available: the button appears live, without reload -----------------
    url_before = citizen.url
    set_agent_status(agent, "available")
    try:
        expect(chat_button).to_be_visible(timeout=10_000)
    except AssertionError:
        if not hours_added:
            raise
        # Opening hours were just added and the server caches a service's calendar for a
        # minute: switch again once that cache expired.
        citizen.wait_for_timeout(55_000)
        set_agent_status(agent, "paused")
        set_agent_status(agent, "available")
        expect(chat_button).to_be_visible(timeout=10_000)
    assert citizen.url == url_before  # live update, no navigation
    check_a11y(citizen)

    # --- the citizen starts a chat -----------------------------------------------------------
    chat_button.click()
    citizen.wait_for_url("**/tchat/nouveau/**")
    expect(citizen.get_by_label("Thème de votre question")).to_have_value("")
    citizen.get_by_label("Thème de votre question").select_option("impots")
    citizen.get_by_role("button", name="Démarrer le tchat").click()
    empty = "Le message ne peut pas être vide"
    expect(citizen.locator(".fr-message--error")).to_contain_text(empty)
    check_a11y(citizen)
    citizen.get_by_role("textbox", name=re.compile("^Votre question")).fill(QUESTION)
    citizen.get_by_role("button", name="Démarrer le tchat").click()
    citizen.wait_for_url(re.compile(r".*/tchat/\d+/$"))
    log = citizen.locator("[data-chat-log]")
    expect(log).to_contain_text(QUESTION)
    expect(citizen.locator("[data-chat-status]")).to_contain_text("Vous échangez avec Alice")
    check_a11y(citizen)

    # --- the chat arrives on the agent's desk, with an unread counter ------------------------
    panel = agent.locator("section[data-chat]")
    expect(panel).to_have_count(1)
    expect(panel.locator("[data-chat-log]")).to_contain_text(QUESTION)
    expect(panel.get_by_role("heading", level=2)).to_contain_text("Camille Martin")
    check_a11y(agent)

    # --- the agent answers; typing indicator and agent first name on the citizen's side ------
    reply_box = panel.get_by_label("Votre réponse")
    reply_box.click()
    reply_box.press_sequentially("Bonjour", delay=20)
    expect(citizen.locator("[data-chat-typing]")).to_contain_text("Alice est en train d'écrire")
    reply_box.fill(ANSWER)
    reply_box.press("Enter")
    expect(log).to_contain_text(ANSWER)
    expect(log.locator(".chat-msg--agent .chat-msg__author").last).to_have_text("Alice (agent)")
    expect(log.locator(".chat-msg--agent time").last).to_have_text(re.compile(r"^\d{2}:\d{2}$"))

    # The agent looks elsewhere; the citizen answers: unread counter on the panel and in the
    # window title, then "Lu" on the citizen's side once the agent comes back to the panel.
    agent.get_by_role("heading", level=1).click()
    composer = citizen.get_by_label("Votre message")
    composer.fill("Merci, j'attends.")
    composer.press("Enter")
    expect(panel.locator("[data-chat-log]")).to_contain_text("Merci, j'attends.")
    expect(panel.locator("[data-chat-unread]")).to_have_text("1 non lu(s)")
    expect(agent).to_have_title(re.compile(r"^\(1\) Mes tchats"))
    expect(log.locator(".chat-msg--mine").last.locator("[data-msg-state]")).to_have_text("Envoyé")
    reply_box.click()
    expect(panel.locator("[data-chat-unread]")).to_be_hidden()
    expect(log.locator(".chat-msg--mine").last.locator("[data-msg-state]")).to_have_text("Lu")
    check_a11y(citizen)

    # --- a supervisor of the service observes the chat, read-only ----------------------------
    supervisor = new_page(demo.supervisor)
    supervisor.goto("/tchat/supervision/")
    expect(supervisor.get_by_role("heading", level=1)).to_have_text("Tchats en cours")
    check_a11y(supervisor)
    supervisor.get_by_role("link", name=re.compile(r"^Observer ")).first.click()
    expect(supervisor.locator("[data-chat-log]")).to_contain_text(ANSWER)
    expect(supervisor.get_by_label("Votre message")).to_have_count(0)
    check_a11y(supervisor)

    # --- the citizen's page reloads mid-chat: nothing is lost, nothing doubled ---------------
    composer.fill(BEFORE_RELOAD)
    composer.press("Enter")
    citizen.reload()
    reply_box.fill(DURING_RELOAD)
    reply_box.press("Enter")
    log = citizen.locator("[data-chat-log]")
    for text in (QUESTION, ANSWER, "Merci, j'attends.", BEFORE_RELOAD, DURING_RELOAD):
        expect(log).to_contain_text(text)
    expect(log.locator(".chat-msg", has_text=BEFORE_RELOAD)).to_have_count(1)
    expect(log.locator(".chat-msg", has_text=DURING_RELOAD)).to_have_count(1)
    expect(panel.locator(".chat-msg", has_text=BEFORE_RELOAD)).to_have_count(1)
    expect(supervisor.locator("[data-chat-log]")).to_contain_text(DURING_RELOAD)  # live
    stored = e2e_server.shell_json(
        "from chat.models import ChatMessage\n"
        f"result = ChatMessage.objects.filter(body={BEFORE_RELOAD!r}).count()"
    )
    assert stored == 1
    check_a11y(citizen)

    # --- the agent ends the chat with a written summary --------------------------------------
    panel.get_by_role("button", name="Terminer et envoyer la synthèse").click()
    expect(panel.locator(".fr-message--error")).to_contain_text(empty)
    check_a11y(agent)
    panel.get_by_label("Synthèse pour l'usager").fill(SUMMARY)
    panel.get_by_role("button", name="Terminer et envoyer la synthèse").click()
    expect(agent.locator("section[data-chat]")).to_have_count(0)
    expect(agent.locator("[data-chat-desk-empty]")).to_be_visible()
    check_a11y(agent)

    # The citizen's page switches to the end of the conversation, then the rating.
    expect(citizen.get_by_role("heading", name="La conversation est terminée")).to_be_visible()
    expect(citizen.get_by_label("Votre message")).to_be_hidden()
    check_a11y(citizen)
    citizen.locator("label[for='id_score_4']").click()
    citizen.get_by_role("button", name="Envoyer mon avis").click()
    expect(citizen.locator("main")).to_contain_text("Merci pour votre avis.")

    # --- the summary is in the citizen's secure messages, the transcript in the history -----
    citizen.get_by_role("link", name="Voir la demande dans ma messagerie").click()
    citizen.wait_for_url(re.compile(r".*/espace/demandes/\d{4}-\d{6}/$"))
    expect(citizen.locator("main")).to_contain_text(SUMMARY)
    check_a11y(citizen)
    citizen.goto("/espace/historique/")
    expect(citizen.locator("main")).to_contain_text("Tchat")
    check_a11y(citizen)
    outbox = e2e_server.shell_json(
        "from messaging.models import Notification\n"
        "result = [n.text for n in Notification.objects.filter("
        "recipient__email='camille.martin@example.fr').order_by('-id')[:3]]"
    )
    assert outbox and all("Gérer mon profil" not in text for text in outbox)
