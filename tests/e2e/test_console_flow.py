"""Agent console in a real Chromium: a phone contact, a transfer between services, the receiving
agent's queue with the reason, and the citizen's "Mon historique" — keyboard only for the main
flows, axe-core on every page visited."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from .conftest import expect_console_error

SOCIAL = "Pôle social et emploi"


def tab_to(page, locator, *, limit: int = 120) -> None:
    """Press Tab until ``locator`` has the focus: proves it is reachable by keyboard."""
    handle = locator.element_handle()
    for _ in range(limit):
        if page.evaluate("(el) => document.activeElement === el", handle):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"not reachable with Tab: {locator}")


def select_by_keyboard(page, selector: str, label, *, limit: int = 40) -> None:
    """Focus a <select> with Tab, then move with the arrow keys until ``label`` is chosen.

    Works for selects that htmx swaps on change: the element is looked up again (by id) after
    each key press, and htmx gives the focus back to the element with the same id.
    """
    pattern = re.compile(label) if isinstance(label, str) else label
    tab_to(page, page.locator(selector))
    for _ in range(limit):
        page.wait_for_load_state("networkidle")
        current = page.locator(selector).evaluate("(el) => el.options[el.selectedIndex].text")
        if pattern.search(current):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"option {label!r} not reached in {selector}")


def record_phone_contact_by_keyboard(page, check_a11y, summary: str) -> str:
    """From "Mon travail", record a phone call of Camille Martin about taxes; return the ref."""
    tab_to(
        page, page.locator(".console-toolbar").get_by_role("link", name="Enregistrer un contact")
    )
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/contacts/nouveau/")
    check_a11y(page)

    # An unknown citizen first: a clear error (a 404, logged by the browser), and the search box
    # to try again.
    expect_console_error(page, r"status of 404 .*/console/contacts/nouveau/\?q=Personne")
    tab_to(page, page.locator("#search-q"))
    page.keyboard.type("Personne Inconnue")
    page.keyboard.press("Enter")
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("main")).to_contain_text(
        "Aucun usager ne correspond à « Personne Inconnue »"
    )
    search = page.locator("#search-q")
    expect(search).to_have_attribute("aria-invalid", "true")
    check_a11y(page)

    tab_to(page, search)
    page.keyboard.press("Control+A")
    page.keyboard.type("camille.martin@example.fr")
    page.keyboard.press("Enter")
    page.wait_for_load_state("domcontentloaded")
    choose = page.get_by_role("link", name="Choisir Camille Martin pour enregistrer un contact")
    expect(choose).to_be_visible()
    check_a11y(page)
    tab_to(page, choose)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/contacts/nouveau/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact avec Camille Martin")
    check_a11y(page)

    # Channel: the "Téléphone" radio is checked by default; move within the group with arrows.
    phone = page.get_by_role("radio", name="Téléphone")
    expect(phone).to_be_checked()
    select_by_keyboard(page, "#contact-topic", r"^Impôts des particuliers")
    tab_to(page, page.locator("#contact-subject"))
    page.keyboard.type("Appel : avis d'impôt non reçu")
    tab_to(page, page.locator("#contact-summary"))
    page.keyboard.type(summary)
    tab_to(page, page.get_by_role("button", name="Enregistrer le contact"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/demandes/\d{4}-\d{6}/$"))
    expect(page.locator(".guichet-messages")).to_contain_text("Contact enregistré")
    expect(page.locator("#chronologie")).to_contain_text(summary)
    check_a11y(page)
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def transfer_by_keyboard(page, check_a11y, reason: str) -> None:
    """On the open case page, transfer it to the social service with a reason."""
    toggle = page.get_by_role("button", name="Transférer à un autre service")
    tab_to(page, toggle)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    select_by_keyboard(page, "#transfer-to_service", f"^{SOCIAL}$")
    # The topic in the new service is chosen explicitly.
    select_by_keyboard(page, "#transfer-to_topic", f"^{SOCIAL} — ")
    tab_to(page, page.locator("#transfer-reason"))
    page.keyboard.type(reason)
    check_a11y(page)
    tab_to(page, page.locator("#panneau-transfert").get_by_role("button", name="Transférer"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/")
    expect(page.locator(".guichet-messages")).to_contain_text(f"transférée au service {SOCIAL}")
    check_a11y(page)


def test_phone_contact_transfer_receiving_queue_and_citizen_history(new_page, check_a11y, demo):
    marker = uuid.uuid4().hex[:6]
    summary = f"Appel de Mme Martin ({marker}) : avis d'impôt non reçu, dossier à vérifier."
    reason = f"Concerne en fait sa prime d'activité ({marker}) : compétence du pôle social."

    agent = new_page(demo.agent_fiscalite)
    assert agent.url.endswith("/console/")
    check_a11y(agent)
    reference = record_phone_contact_by_keyboard(agent, check_a11y, summary)

    # The new case sits in the fiscal queue of Alice's service, then leaves it by transfer.
    transfer_by_keyboard(agent, check_a11y, reason)
    response = agent.request.get(f"/console/demandes/{reference}/")
    assert response.status == 404, "the sending service no longer sees the case"

    # An agent of the receiving service sees it in the queue with the reason.
    social = new_page(demo.agent_social)
    tab_to(social, social.get_by_role("link", name=re.compile(r"^File de mes services")))
    social.keyboard.press("Enter")
    social.wait_for_url("**/console/?vue=queue")
    row = social.locator("tbody tr", has_text=reference)
    expect(row).to_contain_text("Transférée")
    expect(row).to_contain_text(reason[:60])
    check_a11y(social)

    # Filters update the list in place (htmx, URL kept in sync), by keyboard.
    select_by_keyboard(social, "#filtre-canal", r"^Téléphone")
    social.wait_for_url(re.compile(r"canal=phone"))
    expect(social.locator("#work-region tbody tr", has_text=reference)).to_be_visible()
    expect(social.locator("#work-status")).to_contain_text("demande")
    check_a11y(social)

    link = row.get_by_role("link", name=reference)
    tab_to(social, link)
    social.keyboard.press("Enter")
    social.wait_for_url(f"**/console/demandes/{reference}/")
    expect(social.locator("#transfert-en-attente")).to_contain_text(reason)
    expect(social.locator("#chronologie")).to_contain_text(summary)
    check_a11y(social)

    # Taking it accepts the transfer.
    take = social.get_by_role("button", name="Prendre en charge")
    tab_to(social, take)
    social.keyboard.press("Enter")
    social.wait_for_url(f"**/console/demandes/{reference}/")
    expect(social.locator("main")).to_contain_text("Vous traitez cette demande.")
    expect(social.locator("#transfert-en-attente")).to_have_count(0)
    check_a11y(social)

    # The citizen sees both the phone contact and the transfer — not the internal reason.
    citizen = new_page(demo.citizen)
    citizen.goto("/espace/historique/")
    rows = citizen.locator("tbody tr", has_text=reference)
    expect(rows.filter(has_text="Contact enregistré")).to_contain_text("Téléphone")
    expect(rows.filter(has_text="Transfert")).to_contain_text(SOCIAL)
    assert reason not in citizen.content()
    check_a11y(citizen)
    citizen.goto(f"/espace/demandes/{reference}/")
    expect(citizen.locator("main")).to_contain_text(
        f"Votre demande a été transmise au service {SOCIAL}"
    )
    assert reason not in citizen.content()
    check_a11y(citizen)


def test_synthesis_sheet_pages_by_cursor_and_is_accessible(new_page, check_a11y, demo, e2e_server):
    citizen_id = e2e_server.shell_json(
        "from contactcenter.models import User\n"
        f"result = User.objects.get(email='{demo.citizen2}').pk"
    )
    agent = new_page(demo.agent_fiscalite)
    agent.goto(f"/console/usagers/{citizen_id}/")
    expect(agent.get_by_role("heading", level=1)).to_have_text("Louis Bernard")
    expect(agent.locator("main")).to_contain_text("Contacts par canal")
    check_a11y(agent)
    # The optional reason of this opening goes to the audit log, in place (htmx).
    reason = agent.locator("#access-motif")
    tab_to(agent, reason)
    agent.keyboard.type("Appel entrant")
    agent.keyboard.press("Enter")
    expect(agent.locator("#motif-consultation")).to_contain_text("Appel entrant")
    check_a11y(agent)


def test_canned_answer_is_found_and_inserted_into_the_reply_by_keyboard(new_page, check_a11y, demo):
    agent = new_page(demo.agent_fiscalite)
    agent.goto("/console/?vue=team")
    first = agent.locator("#work-region tbody tr a.fr-link").first
    reference = first.inner_text()
    agent.goto(f"/console/demandes/{reference}/")
    search = agent.locator("#kb-q-reply-body")
    tab_to(agent, search)
    agent.keyboard.type("passeport")
    agent.keyboard.press("Enter")
    insert = agent.locator("#kb-results-reply-body").get_by_role(
        "button", name=re.compile("^Insérer")
    )
    expect(insert.first).to_be_visible()
    check_a11y(agent)
    tab_to(agent, insert.first)
    agent.keyboard.press("Enter")
    reply = agent.locator("#reply-body")
    expect(reply).to_be_focused()
    assert len(reply.input_value()) > 50
