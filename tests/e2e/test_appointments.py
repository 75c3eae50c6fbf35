"""Appointments in a real browser: a citizen books the next slot on site (topic -> mode ->
slot), gets the confirmation with the documents to bring; the agent sees it in their day."""

import re

from playwright.sync_api import expect


def test_citizen_books_a_slot_and_agent_sees_it(new_page, check_a11y, demo, e2e_server):
    citizen = new_page(demo.citizen)
    citizen.goto("/rendez-vous/nouveau/")
    expect(citizen.get_by_role("heading", level=1)).to_have_text("Prendre rendez-vous")
    check_a11y(citizen)
    citizen.get_by_role("link", name="Impôts des particuliers").click()
    citizen.get_by_role("link", name="Sur place, au guichet").click()
    expect(citizen.locator("main")).to_contain_text("Étape 3 sur 3")
    first = citizen.locator('input[name="slot"]').first
    expect(first).to_be_attached()
    check_a11y(citizen)
    citizen.locator('label[for="' + first.get_attribute("id") + '"]').click()
    citizen.get_by_role("button", name="Confirmer ce rendez-vous").click()
    expect(citizen).to_have_url(re.compile(r"/rendez-vous/[0-9a-f-]{36}/$"))
    expect(citizen.locator(".fr-alert--success")).to_contain_text("Rendez-vous confirmé le")
    expect(citizen.locator("main")).to_contain_text("Une pièce d'identité")
    check_a11y(citizen)
    public_id = citizen.url.rstrip("/").rsplit("/", 1)[1]
    agent_email, day, reference = e2e_server.shell_json(
        "from appointments.models import Appointment\n"
        "from django.utils import timezone\n"
        f"a = Appointment.objects.select_related('agent', 'case').get(public_id='{public_id}')\n"
        "result = [a.agent.email, timezone.localtime(a.start).date().isoformat(),"
        " a.case.reference]"
    )

    agent = new_page(agent_email)
    agent.goto(f"/console/rendez-vous/?jour={day}")
    row = agent.locator("#rdv-day tbody tr", has_text="Camille Martin")
    expect(row).to_contain_text(reference)
    expect(row).to_contain_text("Sur place")
    check_a11y(agent)

    # The public contact page, without login.
    visitor = new_page()
    visitor.goto("/nous-contacter/")
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Nous contacter")
    expect(visitor.locator("table caption").first).to_contain_text("attente moyenne")
    heatmap = visitor.locator("[data-heatmap='count']").first
    expect(heatmap).to_be_visible()
    expect(heatmap.locator(".guichet-heatmap__grid")).to_have_attribute("aria-hidden", "true")
    # (check_a11y also lays the page out at 320 px and at 200 % zoom: no sideways scrolling,
    # nothing cut: the heat maps shrink, the table scrolls in its own region.)
    check_a11y(visitor)
    # The table (the heat maps' figures) is reachable with the keyboard.
    region = visitor.get_by_role("region", name="Affluence").first
    region.focus()
    expect(region).to_be_focused()
