"""After a transfer, in a real browser: the answer written by the first service is still signed
by it in the citizen's thread and in "Mon historique"; the transfer is one line of the thread;
the agent chose the topic in the new service."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

FISCAL = "Pôle fiscalité et titres"
SOCIAL = "Pôle social et emploi"

SETUP = """
from contactcenter.models import Case, Service, Topic, User
from contactcenter.services import open_case
from messaging.services import post_agent_reply

citizen = User.objects.get(email="camille.martin@example.fr")
alice = User.objects.get(email="alice.durand@guichet.example.fr")
case, _event = open_case(
    citizen=citizen, topic=Topic.objects.get(slug="impots"), kind=Case.Kind.QUESTION,
    channel="web", subject="Question {marker}", body="Ma question {marker}", route=False,
)
Case.objects.filter(pk=case.pk).update(assigned_to=alice, status=Case.Status.IN_PROGRESS)
case.refresh_from_db()
post_agent_reply(case, alice, "{first}")
topic = Service.objects.get(code="social").topics.filter(is_active=True).first()
result = {{"reference": case.reference, "topic": topic.title}}
"""
SECOND_REPLY = """
from contactcenter.models import Case, User
from messaging.services import post_agent_reply

nadia = User.objects.get(email="nadia.leroy@guichet.example.fr")
Case.objects.filter(reference="{reference}").update(assigned_to=nadia, status="in_progress")
post_agent_reply(Case.objects.get(reference="{reference}"), nadia, "{second}")
"""


def test_answer_keeps_its_service_after_transfer(new_page, check_a11y, demo, e2e_server):
    marker = uuid.uuid4().hex[:6]
    first = f"Réponse du pôle fiscalité {marker}"
    second = f"Réponse du pôle social {marker}"
    setup = e2e_server.shell_json(SETUP.format(marker=marker, first=first))
    reference, topic = setup["reference"], setup["topic"]

    # --- Alice transfers the case from the console, choosing the topic in the new service ----
    console_errors: list[str] = []

    def watch(page):
        page.on(
            "console",
            lambda m: console_errors.append(f"{page.url}: {m.text}") if m.type == "error" else None,
        )
        return page

    agent = watch(new_page(demo.agent_fiscalite))
    agent.goto(f"/console/demandes/{reference}/")
    agent.get_by_role("button", name="Transférer à un autre service").click()
    agent.locator("#transfer-to_service").select_option(label=SOCIAL)
    agent.locator("#transfer-to_topic").select_option(label=f"{SOCIAL} — {topic}")
    agent.locator("#transfer-reason").fill(f"Relève du pôle social ({marker})")
    check_a11y(agent)
    agent.locator("#panneau-transfert").get_by_role("button", name="Transférer").click()
    agent.wait_for_url("**/console/")
    expect(agent.locator(".guichet-messages")).to_contain_text(f"transférée au service {SOCIAL}")

    e2e_server.shell(SECOND_REPLY.format(reference=reference, second=second))

    # --- the citizen's thread: each answer signed by its own service, one transfer line -----
    citizen = watch(new_page(demo.citizen))
    citizen.goto(f"/espace/demandes/{reference}/")
    thread = citizen.locator("#fil")
    first_msg = thread.locator("article", has_text=first)
    second_msg = thread.locator("article", has_text=second)
    expect(first_msg.locator("h3")).to_contain_text(FISCAL)
    expect(first_msg.locator("h3")).not_to_contain_text(SOCIAL)
    expect(second_msg.locator("h3")).to_contain_text(SOCIAL)
    transfer = thread.locator("[data-thread-transfer]")
    expect(transfer).to_have_count(1)
    expect(transfer).to_contain_text(
        f"Votre demande a été transmise au service {SOCIAL} (thème : {topic})."
    )
    expect(thread).not_to_contain_text(marker + ")")  # the internal reason stays internal
    check_a11y(citizen)

    # --- "Mon historique": the first answer still says the first service --------------------
    citizen.goto("/espace/historique/")
    rows = citizen.locator("tbody tr", has_text=reference)
    messages = rows.filter(has_text=re.compile(r"Message — de l.administration"))
    expect(messages).to_have_count(2)
    expect(messages.nth(0).locator("td").last).to_have_text(SOCIAL)
    expect(messages.nth(1).locator("td").last).to_have_text(FISCAL)
    expect(rows.filter(has_text="Transfert")).to_contain_text(f"vers {SOCIAL}")
    check_a11y(citizen)
    assert not console_errors, console_errors
