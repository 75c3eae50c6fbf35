"""The e-mail quarantine in a real Chromium: an agent of a service with a mailbox follows the
console menu's link (with its count), reads an unreadable e-mail, releases it onto a case of
the unidentified sender, and links that case to the citizen she recognised; axe-core on every
page visited."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import DEMO

SETUP = """
from contactcenter.models import Topic, User
from mail.models import Mailbox
from mail.services import import_message
alice = User.objects.get(email="alice.durand@guichet.example.fr")
service = alice.agent_profile.services.order_by("pk").first()
mailbox = Mailbox.objects.create(
    service=service, address="e2e-quarantaine@guichet.example.fr",
    default_topic=Topic.objects.filter(service=service).order_by("pk").first(),
    host="imap.invalid", login="e2e", password_env="UNUSED", enabled=False,
)
raw = (
    b"From: Camille <camille.perso@example.org>\\r\\nSubject: Ma taxe\\r\\n"
    b"Message-ID: <e2e-quarantine@example.org>\\r\\n"
    b"Content-Type: text/plain; charset=x-inconnu\\r\\n\\r\\nBonjour, ma taxe fonciere.\\r\\n"
)
result = import_message(mailbox, raw).outcome
"""

CLEANUP = """
from mail.models import Mailbox, MailMessage, QuarantinedMail
boxes = Mailbox.objects.filter(address="e2e-quarantaine@guichet.example.fr")
QuarantinedMail.objects.filter(mailbox__in=boxes).delete()
MailMessage.objects.filter(mailbox__in=boxes).delete()
boxes.delete()
"""


def test_an_agent_releases_a_quarantined_mail_and_links_its_sender(
    e2e_server, new_page, check_a11y
):
    assert e2e_server.shell_json(SETUP) == "quarantined"
    try:
        page = new_page(DEMO.agent_fiscalite)
        page.goto("/console/")
        link = page.locator(".console-toolbar").get_by_role(
            "link", name=re.compile(r"Quarantaine courriels \(1\)")
        )
        expect(link).to_be_visible()
        link.click()
        page.wait_for_url("**/console/courriels/quarantaine/")
        expect(page.locator("main")).to_contain_text("e2e-quarantaine@guichet.example.fr")
        check_a11y(page)

        page.locator("main").get_by_role("link", name=re.compile("^Voir")).click()
        page.wait_for_url(re.compile(r"/console/courriels/quarantaine/\d+/$"))
        expect(page.locator("pre")).to_contain_text("camille.perso@example.org")
        check_a11y(page)

        page.get_by_role("button", name="Libérer sur une demande").click()
        page.wait_for_url(re.compile(r"/console/demandes/\d{4}-\d{6}/$"))
        reference = page.url.rstrip("/").rsplit("/", 1)[-1]
        expect(page.locator("main")).to_contain_text(f"Courriel libéré sur la demande {reference}")
        expect(page.locator("main")).to_contain_text("Expéditeur non identifié")

        page.get_by_role("link", name="Rattacher à un usager").click()
        page.wait_for_url(f"**/console/courriels/demandes/{reference}/rattacher/")
        expect(page.locator("main")).to_contain_text("camille.perso@example.org")
        check_a11y(page)
        page.get_by_label("Adresse du compte de l'usager").fill(DEMO.citizen)
        page.get_by_role("button", name="Rattacher", exact=True).click()
        page.wait_for_url(f"**/console/demandes/{reference}/")
        expect(page.locator("main")).to_contain_text("Demande rattachée à Camille")
        expect(
            page.locator(".console-toolbar").get_by_role(
                "link", name=re.compile(r"Quarantaine courriels \(0\)")
            )
        ).to_be_visible()  # the case page: checked by the console's own tests
    finally:
        e2e_server.shell(CLEANUP)
