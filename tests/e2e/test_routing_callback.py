"""Routing in a real browser: a citizen books a callback, an agent goes available from the
console status widget and gets it at the slot time, the supervisor watches it live."""

import re

from playwright.sync_api import expect

from .conftest import expect_console_error, set_agent_status


def test_citizen_books_a_callback_and_agent_gets_it_at_slot_time(
    new_page, check_a11y, demo, e2e_server
):
    citizen = new_page(demo.citizen)
    citizen.goto("/rappel/nouveau/?topic=impots")
    expect(citizen.get_by_role("heading", level=1)).to_have_text("Être rappelé par un conseiller")
    # Phone prefilled from the citizen's mobile number, topic preselected.
    expect(citizen.get_by_label("Numéro de téléphone")).to_have_value("06 12 34 56 78")
    check_a11y(citizen)

    # Another topic: the slot list follows (htmx), then back to "impots".
    topic = citizen.get_by_label("Thème de votre demande")
    topic.select_option(label="Papiers d'identité et véhicules")
    field = citizen.locator('#callback-slot-field[data-topic="titres"]')
    expect(field.locator("select option").nth(1)).to_be_attached()
    topic.select_option(label="Impôts des particuliers")
    expect(citizen.locator('#callback-slot-field[data-topic="impots"]')).to_be_attached()
    slot = citizen.get_by_label("Créneau de rappel")
    expect(slot.locator("option").nth(1)).to_be_attached()

    # Bad input: precise message, what was typed stays (the form comes back with a 400).
    expect_console_error(citizen, r"status of 400 .*/rappel/nouveau/")
    citizen.get_by_label("Numéro de téléphone").fill("12 34")
    citizen.get_by_label("Objet de votre appel").fill("Question sur mon prélèvement à la source")
    slot.select_option(index=1)
    citizen.get_by_role("button", name="Demander à être rappelé").click()
    expect(citizen.locator("main")).to_contain_text("Commencez le numéro par 0")
    expect(citizen.get_by_label("Objet de votre appel")).to_have_value(
        "Question sur mon prélèvement à la source"
    )
    check_a11y(citizen)

    citizen.get_by_label("Numéro de téléphone").fill("06 12 34 56 78")
    citizen.get_by_label("Créneau de rappel").select_option(index=1)
    citizen.get_by_role("button", name="Demander à être rappelé").click()
    expect(citizen).to_have_url(re.compile(r"/rappel/\d+/$"))
    expect(citizen.locator("main")).to_contain_text("Nous vous appelons le")
    check_a11y(citizen)
    case_id = int(citizen.url.rstrip("/").rsplit("/", 1)[1])

    # The agent goes available from the console's status widget (htmx + presence socket).
    agent = new_page(demo.agent_fiscalite)
    set_agent_status(agent, "available")
    expect(agent.locator("[data-routing-status-badge]")).to_have_text(
        re.compile("Disponible|Occupé"), timeout=15_000
    )
    check_a11y(agent)
    status = e2e_server.shell_json(
        "from routing.models import AgentPresence\n"
        "p = AgentPresence.objects.get(user__email='alice.durand@guichet.example.fr')\n"
        "result = [p.status, p.last_heartbeat is not None]"
    )
    assert status == ["available", True]

    # Not before the slot: the callback waits. At slot time, the sweep gives it to the agent.
    result = e2e_server.shell_json(
        "from contactcenter.models import Case\n"
        f"case = Case.objects.get(pk={case_id})\n"
        "result = [case.channel, case.assigned_to_id, case.events.first().type]"
    )
    assert result == ["callback", None, "callback"]
    owner = e2e_server.shell_json(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from contactcenter.models import Case, User\n"
        "from routing.models import CallbackRequest\n"
        "from routing import get_presence\n"
        "from routing.tasks import sweep_queues\n"
        "alice = User.objects.get(email='alice.durand@guichet.example.fr')\n"
        "p = get_presence(alice); p.capacity_chat = 0; p.capacity_web = 0; p.save()\n"
        f"CallbackRequest.objects.filter(case_id={case_id}).update("
        "slot_start=timezone.now() - timedelta(minutes=1))\n"
        "sweep_queues()\n"
        f"result = Case.objects.get(pk={case_id}).assigned_to.email"
    )
    assert owner == demo.agent_fiscalite

    # The supervisor sees Alice busy on the phone in the live view, which refreshes itself.
    supervisor = new_page(demo.supervisor)
    supervisor.goto("/supervision/")
    expect(supervisor.get_by_role("heading", level=1)).to_have_text("Supervision en direct")
    row = supervisor.locator("#supervision-live").get_by_role(
        "row", name=re.compile(r"^Alice Durand")
    )
    expect(row).to_contain_text("Occupé")
    expect(row).to_contain_text("1 / 1")
    check_a11y(supervisor)
    # A fresh heartbeat: without one, a presence sweep (every 15 s) would put him offline.
    e2e_server.shell(
        "from django.utils import timezone\n"
        "from routing.models import AgentPresence\n"
        "AgentPresence.objects.filter(user__email='marc.petit@guichet.example.fr')"
        ".update(status='paused', status_since=timezone.now(), last_heartbeat=timezone.now())"
    )
    expect(
        supervisor.locator("#supervision-live").get_by_role("row", name=re.compile(r"^Marc Petit"))
    ).to_contain_text("En pause", timeout=20_000)
    toggle = supervisor.get_by_role("button", name="Suspendre l’actualisation")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    check_a11y(supervisor)


def test_supervisor_manages_an_agent_and_reassigns_a_case(new_page, check_a11y, demo, e2e_server):
    supervisor = new_page(demo.supervisor)
    supervisor.goto("/supervision/")
    supervisor.get_by_role("link", name="Gérer Thomas Moreau").click()
    expect(supervisor.get_by_role("heading", level=1)).to_have_text("Thomas Moreau")
    check_a11y(supervisor)

    # Bad capacity: precise message, typed value kept (a 400, logged by the browser); then a
    # valid one.
    expect_console_error(supervisor, r"status of 400 .*/supervision/agents/\d+/")
    supervisor.get_by_label("Tchats simultanés").fill("12")
    supervisor.get_by_role("button", name="Enregistrer les capacités").click()
    expect(supervisor.locator("main")).to_contain_text("La capacité est de 10 au maximum")
    expect(supervisor.get_by_label("Tchats simultanés")).to_have_value("12")
    check_a11y(supervisor)
    supervisor.get_by_label("Tchats simultanés").fill("3")
    supervisor.get_by_role("button", name="Enregistrer les capacités").click()
    expect(supervisor.locator("main")).to_contain_text("Capacités de Thomas Moreau mises à jour")

    # A web case held by an absent agent is reassigned from the live view.
    case = e2e_server.shell_json(
        "from contactcenter.models import Topic, User\n"
        "from contactcenter.services import open_case\n"
        "from routing import take_case\n"
        "nadia = User.objects.get(email='nadia.leroy@guichet.example.fr')\n"
        "citizen = User.objects.get(email='louis.bernard@example.fr')\n"
        "case, _ = open_case(citizen=citizen, topic=Topic.objects.get(slug='sante'), "
        "kind='question', channel='web', subject='Carte Vitale', body='Question', route=False)\n"
        "take_case(nadia, case)\n"
        "result = [case.pk, case.reference]"
    )
    supervisor.goto(f"/supervision/demandes/{case[0]}/reattribuer/")
    expect(supervisor.get_by_role("heading", level=1)).to_contain_text(case[1])
    check_a11y(supervisor)
    supervisor.get_by_label("Attribuer à").select_option(label="Thomas Moreau")
    supervisor.get_by_role("button", name="Attribuer").click()
    expect(supervisor.locator("main")).to_contain_text(f"Demande {case[1]} attribuée à Thomas")
    owner = e2e_server.shell_json(
        f"from contactcenter.models import Case\nresult = Case.objects.get(pk={case[0]})"
        ".assigned_to.email"
    )
    assert owner == demo.agent_social2
