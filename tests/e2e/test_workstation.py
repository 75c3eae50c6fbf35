"""The agent workstation in a real browser: one agent handles two chats and a secure message
at once from /console/poste/ only (one chat with the keyboard only), transfers the message to
another service and closes a chat with a summary. axe-core and the layout check (1280 × 720,
320 px, 200 %) on the page with three tabs open; screenshot for docs/console.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import END_LEFT_CHATS, expect_console_error, set_agent_status
from .test_chat_flow import SETUP

ROOT = Path(__file__).resolve().parents[2]
FIRST = "Bonjour, ma déclaration de revenus est-elle bien arrivée ?"
SECOND = "Bonjour, je voudrais changer mon adresse fiscale."
KEYBOARD_ANSWER = "Bonjour Louis, je m'en occupe tout de suite."
MOUSE_ANSWER = "Bonjour Camille, je vérifie votre dossier."
SUMMARY = "Votre déclaration est bien enregistrée ; rien d'autre à faire."

# Earlier tests may leave chats open (of Camille's, Louis's or Alice's): each would open one more
# tab here.
MESSAGE_SETUP = (
    END_LEFT_CHATS
    + """
from contactcenter.models import User
from routing.availability import refresh_all
refresh_all()
alice = User.objects.get(email="alice.durand@guichet.example.fr")
case = (Case.objects.filter(service__code="fiscalite", channel="web")
        .exclude(status="closed").order_by("id").first())
Case.objects.filter(pk=case.pk).update(
    assigned_to=alice, status="assigned", assigned_at=timezone.now(),
    last_activity_at=timezone.now())
result = case.reference
"""
)


def start_chat(page, question: str) -> None:
    page.goto("/tchat/nouveau/?topic=impots")
    topic = page.get_by_label("Thème de votre question")
    if not topic.input_value():
        topic.select_option("impots")
    page.get_by_role("textbox", name=re.compile("^Votre question")).fill(question)
    page.get_by_role("button", name="Démarrer le tchat").click()
    try:
        page.wait_for_url(re.compile(r".*/tchat/\d+/$"))
    except Exception:
        raise AssertionError(page.locator("main").inner_text()[:1500]) from None


def test_agent_handles_two_chats_and_a_message_on_one_screen(
    new_page, check_a11y, demo, e2e_server
):
    setup = e2e_server.shell_json(SETUP)
    if setup["holiday"]:
        pytest.skip(f"services closed today ({setup['holiday']}): no chat to test")
    try:
        run_flow(new_page, check_a11y, demo, e2e_server)
    finally:
        if setup["added"]:
            e2e_server.shell(
                "from routing.models import OpeningHours\n"
                f"OpeningHours.objects.filter(pk__in={setup['added']!r}).delete()"
            )


def run_flow(new_page, check_a11y, demo, e2e_server):
    reference = e2e_server.shell_json(MESSAGE_SETUP)
    agent = new_page(demo.agent_fiscalite, viewport={"width": 1280, "height": 720})
    agent.goto("/console/poste/")
    # Compact header: no government banner, presence selector and load visible.
    expect(agent.locator(".fr-header")).to_have_count(0)
    expect(agent.get_by_label("Mon statut")).to_be_visible()
    expect(agent.locator("#ws-load")).to_contain_text("Messages")
    row = agent.locator(f'[data-ws-row="{reference}"]')
    expect(row).to_be_visible()
    check_a11y(agent)

    # --- the agent goes available from the header; two chats pop on the screen -------------
    set_agent_status(agent, "available")
    camille = new_page(demo.citizen)
    start_chat(camille, FIRST)
    tabs = agent.locator("[data-ws-tabs] [role=tab]")
    expect(tabs).to_have_count(1, timeout=10_000)
    louis = new_page(demo.citizen2)
    start_chat(louis, SECOND)
    expect(tabs).to_have_count(2, timeout=10_000)
    expect(agent.locator("#ws-load")).to_contain_text("Tchat 2/2")
    # The citizen panel of the open chat is filled.
    expect(agent.locator("#ws-citizen")).to_contain_text("Demandes en cours")

    # --- the secure message opens in a third tab from the list -------------------------------
    row.locator("[data-ws-open]").click()
    expect(tabs).to_have_count(3)
    message_tab = agent.locator(f"#ws-panel-{reference.replace('-', '')}")
    expect(message_tab.locator("[data-ws-reply]")).to_be_visible()
    expect(agent.locator("#ws-citizen")).to_contain_text("Fiche de synthèse complète")

    # --- Louis's chat with the keyboard only -------------------------------------------------
    chat_tabs = agent.locator("[data-ws-tabs] [role=tab][data-kind=chat]")
    louis_tab = chat_tabs.filter(has_text="Louis")
    index = tabs.evaluate_all("tabs => tabs.findIndex(t => t.textContent.includes('Louis'))")
    agent.locator("body").focus()
    agent.keyboard.press("Escape")
    agent.locator("#ws-list").focus()
    agent.keyboard.press(str(index + 1))
    expect(louis_tab).to_have_attribute("aria-selected", "true")
    expect(louis_tab).to_be_focused()
    agent.keyboard.press("r")
    louis_panel = agent.locator("[role=tabpanel]:not([hidden])")
    reply = louis_panel.locator("[data-chat-composer] textarea")
    expect(reply).to_be_focused()
    agent.keyboard.type(KEYBOARD_ANSWER)
    agent.keyboard.press("Enter")
    expect(louis.locator("[data-chat-log]")).to_contain_text(KEYBOARD_ANSWER)
    # "?" opens the help dialog; Escape closes it and gives the focus back.
    agent.keyboard.press("Escape")
    expect(louis_tab).to_be_focused()
    agent.keyboard.press("?")
    help_dialog = agent.get_by_role("dialog", name="Raccourcis clavier")
    expect(help_dialog).to_be_visible()
    check_a11y(agent, layout=False)
    agent.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    expect(louis_tab).to_be_focused()

    # --- Camille's chat with the mouse; her message flashes the background tab --------------
    camille_tab = chat_tabs.filter(has_text="Camille")
    composer = louis.get_by_label("Votre message")
    composer.fill("Merci beaucoup !")
    composer.press("Enter")
    camille_tab.click()
    camille_panel = agent.locator("[role=tabpanel]:not([hidden])")
    expect(camille_panel.locator("[data-chat-log]")).to_contain_text(FIRST)
    expect(louis_tab.locator(".ws-tab__unread")).to_have_text("1 non lu(s)")
    camille_panel.get_by_label("Votre réponse").fill(MOUSE_ANSWER)
    camille_panel.get_by_label("Votre réponse").press("Enter")
    expect(camille.locator("[data-chat-log]")).to_contain_text(MOUSE_ANSWER)

    # A reload keeps the open tabs (and the live chats reconnect).
    agent.reload()
    expect(tabs).to_have_count(3)
    expect(louis_tab).to_have_count(1)
    louis_tab.click()
    expect(agent.locator("[role=tabpanel]:not([hidden]) [data-chat-log]")).to_contain_text(
        KEYBOARD_ANSWER
    )

    # Three items open at once: the screenshot of docs/console.md, then axe and the layout.
    agent.locator(f"#ws-tab-{reference.replace('-', '')}").click()
    expect(message_tab.locator("[data-ws-reply]")).to_be_visible()
    panel = agent.locator("#ws-citizen")
    expect(panel).to_contain_text("Fiche de synthèse complète")  # restored with its tab
    if os.environ.get("GUICHET_DOC_SCREENSHOTS"):  # refresh docs/img/workstation.png on demand
        agent.screenshot(path=str(ROOT / "docs" / "img" / "workstation.png"))
    check_a11y(agent)

    # --- the secure message is transferred to another service --------------------------------
    message_tab.get_by_role("button", name="Transférer").click()
    service = message_tab.get_by_label("Service destinataire", exact=True)
    service.select_option(label="Pôle social et emploi")
    topic = message_tab.get_by_label(re.compile("^Thème dans le service"))
    topic.select_option(index=1)
    message_tab.get_by_label(re.compile("^Motif")).fill("Relève de la caisse d'allocations.")
    message_tab.locator("[data-ws-transfer]").get_by_role("button", name="Transférer").click()
    expect(message_tab).to_contain_text("transférée au service")
    expect(row).to_have_count(0)

    # --- Louis's chat is closed with a summary, with the keyboard ----------------------------
    louis_tab.focus()
    agent.keyboard.press("Enter")
    agent.keyboard.press("c")
    summary = louis_panel.get_by_label("Synthèse pour l'usager")
    expect(summary).to_be_focused()
    agent.keyboard.type(SUMMARY)
    agent.keyboard.press("Tab")
    agent.keyboard.press("Enter")
    expect(louis.get_by_role("heading", name="La conversation est terminée")).to_be_visible()
    expect(agent.locator("#ws-load")).to_contain_text("Tchat 1/2")
    check_a11y(agent)


CONTACT_SUMMARY = "Appel de l'usager : il a envoyé son avis d'imposition par courrier."


def test_citizen_panel_actions_work_in_a_dialog_of_the_workstation(
    new_page, check_a11y, demo, e2e_server
):
    """Record a contact, a guided diagnosis and a co-browsing invitation from the citizen
    panel: each in the workstation's modal dialog (no new window), by keyboard; the case's tab
    shows what was recorded."""
    reference = e2e_server.shell_json(MESSAGE_SETUP)
    agent = new_page(demo.agent_fiscalite, viewport={"width": 1280, "height": 720})
    agent.goto(f"/console/poste/?ouvrir={reference}")
    tab = agent.locator(f"#ws-panel-{reference.replace('-', '')}")
    expect(tab.locator("[data-ws-reply]")).to_be_visible()
    panel = agent.locator("#ws-citizen")
    pages_before = len(agent.context.pages)

    # --- record a contact, keyboard only ------------------------------------------------------
    record = panel.get_by_role("button", name="Enregistrer un contact")
    dialog = agent.locator("#ws-dialog")
    # The panel may be swapped by a late htmx refresh between focus and key press (a loaded
    # machine): press again on the new button then, as a person would.
    for attempt in range(2):
        record.focus()
        agent.keyboard.press("Enter")
        try:
            expect(dialog).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            if attempt:
                raise
    expect(dialog.locator("#ws-dialog-title")).to_be_focused()
    expect(dialog.get_by_label("Rattacher à")).to_have_value(re.compile(r"^\d+$"))
    check_a11y(agent, layout=False)
    # An empty summary is refused in place, the focus on the field in error.
    expect_console_error(agent, r"status of 400 .*/console/contacts/nouveau/\d+/")
    dialog.get_by_role("button", name="Enregistrer le contact").click()
    summary = dialog.get_by_label(re.compile("^Résumé de l'échange"))
    expect(summary).to_have_attribute("aria-invalid", "true")
    expect(summary).to_be_focused()
    agent.keyboard.type(CONTACT_SUMMARY)
    dialog.get_by_role("button", name="Enregistrer le contact").focus()
    agent.keyboard.press("Enter")
    expect(dialog).to_contain_text(f"Contact ajouté à la demande {reference}")
    expect(tab).to_contain_text(CONTACT_SUMMARY)  # the tab refreshed behind the dialog
    agent.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(panel.get_by_role("button", name="Enregistrer un contact")).to_be_focused()

    # --- guided diagnosis, walked to its outcome and saved on the case --------------------------
    panel.get_by_role("button", name="Diagnostic guidé").click()
    expect(dialog.get_by_role("heading", name="Diagnostics guidés")).to_be_visible()
    dialog.locator(".fr-tile__title a").first.click()
    save = dialog.get_by_role("button", name="Enregistrer le parcours sur la demande")
    for _step in range(10):
        if save.count():
            break
        # Wait for the htmx swap to replace the clicked answer before reading the next step.
        answer = dialog.locator("section .fr-btns-group a").first.element_handle()
        answer.click()
        answer.wait_for_element_state("hidden")
        dialog.locator("#diag-current").wait_for()
    check_a11y(agent, layout=False)
    save.click()
    expect(dialog).to_contain_text(f"Le parcours a été enregistré sur la demande {reference}")
    expect(tab).to_contain_text("Diagnostic")
    dialog.get_by_role("button", name="Fermer").click()
    expect(dialog).to_be_hidden()

    # --- co-browsing: the citizen is not online, the refusal is shown in the dialog -----------
    expect_console_error(agent, r"status of 400 .*/aide-a-distance/inviter/")
    panel.get_by_role("button", name="Inviter à partager l’écran").click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("alert")).to_contain_text("Aide à distance")
    agent.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert len(agent.context.pages) == pages_before  # nothing opened a new window
    # At 320 px the dialog still fits (no horizontal scrolling).
    agent.set_viewport_size({"width": 320, "height": 640})
    panel.get_by_role("button", name="Enregistrer un contact").click()
    expect(dialog).to_be_visible()
    width = agent.evaluate("document.getElementById('ws-dialog').scrollWidth")
    assert width <= 320
    check_a11y(agent, layout=False)
