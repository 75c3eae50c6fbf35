"""Mes démarches in a real browser: a business system pushes "pièce manquante" through the API
(OAuth2 client credentials, Idempotency-Key), the citizen sees "Action possible" and sends the
document from the page, and the business system's webhook receiver gets the signed event."""

import re
import time
import uuid

import requests
from playwright.sync_api import expect

from accounts.webhooks import generate_secret
from messaging.demo import simple_pdf
from tests.api.test_webhooks import Receiver

SETUP = """
from accounts.api_clients import create_api_client
from accounts.models import WebhookEndpoint
from contactcenter.models import Service, User
c = create_api_client(
    "SI titres e2e", Service.objects.filter(code="fiscalite"), ["demarches:write", "webhooks"]
)
WebhookEndpoint.objects.create(
    client=c.client, url="{url}", secret="{secret}", events=["demarche.document_received"]
)
User.objects.filter(email="{email}").update(tax_number="3012345678901")
result = {{"id": c.client_id, "secret": c.client_secret}}
"""


def test_missing_piece_pushed_citizen_sends_it_webhook_received(
    new_page, check_a11y, demo, e2e_server, tmp_path
):
    secret = generate_secret()
    receiver = Receiver(tmp_path, secret, "200")
    try:
        client = e2e_server.shell_json(
            SETUP.format(url=receiver.url, secret=secret, email=demo.citizen)
        )
        token = requests.post(
            f"{e2e_server.url}/api/oauth/token/",
            data={"grant_type": "client_credentials"},
            auth=(client["id"], client["secret"]),
            timeout=30,
        ).json()["access_token"]
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        created = api.post(
            f"{e2e_server.url}/api/demarches/",
            json={
                "type": "passeport",
                "reference": "PASS-E2E-1",
                "citizen": {"tax_number": "3012345678901"},
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        moved = api.post(
            f"{e2e_server.url}/api/demarches/passeport/PASS-E2E-1/step/",
            json={"step": "piece-manquante", "note": "Photo d'identité non conforme."},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert moved.status_code == 200, moved.text

        citizen = new_page(demo.citizen)
        citizen.goto("/espace/demarches/")
        card = citizen.locator("section", has_text="PASS-E2E-1")
        expect(card).to_contain_text("Action possible :")
        expect(card).to_contain_text("Pièce manquante")
        expect(card).to_contain_text("Photo d'identité non conforme.")
        check_a11y(citizen)
        pdf = tmp_path / "photo-identite.pdf"
        pdf.write_bytes(simple_pdf(["Photo d'identité"]))
        card.get_by_label(re.compile("^Document à envoyer")).set_input_files(str(pdf))
        card.get_by_role("button", name="Envoyer le document").click()
        citizen.wait_for_url("**/espace/demarches/")
        expect(citizen.locator("main")).to_contain_text("Votre document a bien été envoyé")
        expect(citizen.locator("section", has_text="PASS-E2E-1")).to_contain_text(
            "Document envoyé par vous"
        )
        check_a11y(citizen)

        deadline = time.monotonic() + 30
        while not receiver.received() and time.monotonic() < deadline:
            time.sleep(0.2)
        [event] = receiver.received()
        assert event["valid"] is True
        assert event["body"]["type"] == "demarche.document_received"
        assert event["body"]["data"]["demarche"]["reference"] == "PASS-E2E-1"
        document = api.get(event["body"]["data"]["document"]["url"], timeout=30)
        assert document.status_code == 200 and document.content.startswith(b"%PDF")
    finally:
        receiver.stop()
