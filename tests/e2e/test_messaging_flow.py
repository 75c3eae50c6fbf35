"""Secure messaging in a real browser: a citizen opens a request with a PDF, an agent replies
from the console, the citizen reads the reply, and the alert in the outbox carries no content."""

import re
from pathlib import Path

from playwright.sync_api import expect

from messaging.demo import simple_pdf

from .conftest import expect_console_error

SUBJECT = "Prélèvement à la source après mariage"
QUESTION = "Nous nous sommes mariés en juin : faut-il changer notre taux de prélèvement ?"
ANSWER = "Oui : déclarez votre mariage dans votre espace, le taux commun s'appliquera sous 3 mois."


def test_citizen_request_with_pdf_agent_reply_and_content_free_alert(
    new_page, check_a11y, demo, e2e_server, tmp_path
):
    pdf = tmp_path / "acte-de-mariage.pdf"
    pdf.write_bytes(simple_pdf(["Acte de mariage", "Mairie de Lyon 3e"]))

    # --- the citizen opens a request -----------------------------------------------------
    citizen = new_page(demo.citizen)
    citizen.goto("/espace/")
    check_a11y(citizen)
    citizen.get_by_role("link", name="Nouvelle demande").click()
    citizen.wait_for_url("**/espace/demandes/nouvelle/")
    check_a11y(citizen)
    # DSFR radios: the label is what one clicks.
    citizen.locator("label", has_text="Impôts des particuliers").click()
    assert citizen.get_by_label(re.compile("^Impôts des particuliers")).is_checked()
    citizen.get_by_role("button", name="Continuer").click()
    citizen.wait_for_url("**topic=impots**")
    check_a11y(citizen)
    citizen.locator("label", has_text="Poser une question").click()
    citizen.get_by_role("button", name="Continuer").click()
    citizen.wait_for_url("**kind=question**")
    citizen.get_by_label(re.compile("^Objet")).fill(SUBJECT)
    if citizen.locator("#suggestions").count():
        # Knowledge-base answers for the topic and the typed text, before the message box,
        # each with "Cette réponse me suffit" (the knowledge app's htmx partial).
        expect(citizen.locator("#suggestions")).to_contain_text("Cette réponse me suffit")
        citizen.wait_for_load_state("networkidle")
    check_a11y(citizen)
    citizen.get_by_label(re.compile("^Votre message")).fill(QUESTION)
    citizen.get_by_label(re.compile("^Pièces jointes")).set_input_files(str(pdf))
    citizen.get_by_role("button", name="Envoyer ma demande").click()
    citizen.wait_for_url(re.compile(r".*/espace/demandes/\d{4}-\d{6}/$"))
    reference = citizen.url.rstrip("/").rsplit("/", 1)[-1]
    main = citizen.locator("main")
    assert f"Votre demande {reference} a bien été envoyée" in main.inner_text()
    assert QUESTION in main.inner_text()
    download = citizen.get_by_role("link", name=re.compile("acte-de-mariage.pdf"))
    assert download.count() == 1
    check_a11y(citizen)

    # The file is stored privately and served by the permission-checking view.
    with citizen.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == "acte-de-mariage.pdf"
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF-")

    # --- an agent of the competent service replies from the console ------------------------
    agent = new_page(demo.agent_fiscalite)
    agent.goto(f"/console/demandes/{reference}/")
    agent_main = agent.locator("main")
    assert QUESTION in agent_main.inner_text()
    assert agent.get_by_role("link", name=re.compile("acte-de-mariage.pdf")).count() == 1
    check_a11y(agent)
    agent.locator("#zone-reponse").get_by_label(re.compile("^Votre message")).fill(ANSWER)
    agent.get_by_role("button", name="Envoyer la réponse").click()
    agent.wait_for_load_state("domcontentloaded")
    assert ANSWER in agent.locator("main").inner_text()
    check_a11y(agent)

    # --- the citizen sees the reply ----------------------------------------------------------
    citizen.goto("/espace/")
    row = citizen.locator("tr", has_text=reference)
    assert "répondue" in row.inner_text().lower()
    check_a11y(citizen)
    # The row's own link (the space also lists the survey offered after the answer).
    citizen.locator(f'a[href$="/espace/demandes/{reference}/"]').first.click()
    citizen.wait_for_url(f"**/espace/demandes/{reference}/")
    assert ANSWER in citizen.locator("main").inner_text()
    assert "Votre avis sur la réponse" in citizen.locator("main").inner_text()
    check_a11y(citizen)

    # --- the alert is in the outbox, without any content --------------------------------------
    rows = e2e_server.shell_json(
        "from messaging.models import Notification\n"
        f"result = list(Notification.objects.filter(case__reference={reference!r})"
        ".values('channel', 'kind', 'status', 'subject', 'text', 'address'))"
    )
    # Camille chose both channels in the demo: the acknowledgement of receipt, then the reply.
    assert sorted((row["kind"], row["channel"]) for row in rows) == [
        ("acknowledgement", "email"),
        ("acknowledgement", "sms"),
        ("reply", "email"),
        ("reply", "sms"),
    ]
    for row in rows:
        assert row["status"] == "sent"
        if row["kind"] == "reply":
            assert "Vous avez un nouveau message dans votre espace Guichet" in row["text"]
        else:
            assert f"a bien reçu votre demande {reference}" in row["text"]
        assert f"/espace/demandes/{reference}/" in row["text"]
        for secret in (ANSWER, QUESTION, SUBJECT, "mariage", "prélèvement", "taux"):
            assert secret.lower() not in (row["text"] + row["subject"]).lower()


def test_citizen_space_pages_are_accessible_and_errors_are_precise(new_page, check_a11y, demo):
    page = new_page(demo.citizen)
    page.goto("/espace/")
    # The demo has requests waiting on Camille: they are listed first.
    panel = page.locator("section", has=page.get_by_role("heading", name="Action attendue"))
    assert panel.get_by_role("link").count() >= 1
    check_a11y(page)

    page.get_by_role("link", name="Mon historique").first.click()
    page.wait_for_url("**/espace/historique/")
    assert page.locator("tbody tr").count() >= 1
    check_a11y(page)

    page.get_by_role("link", name="Accès à mon dossier").first.click()
    page.wait_for_url("**/espace/acces/")
    check_a11y(page)

    page.get_by_role("link", name="Mes préférences").first.click()
    page.wait_for_url("**/espace/preferences/")
    check_a11y(page)
    # Both forms below come back with a 400 on purpose (precise errors): the browser logs it.
    expect_console_error(page, r"status of 400 .*/espace/preferences/")
    expect_console_error(page, r"status of 400 .*/espace/demandes/[\d-]+/repondre/")
    page.get_by_label(re.compile("^Numéro de téléphone mobile")).fill("01 23 45 67 89")
    page.get_by_role("button", name="Enregistrer").click()
    error = page.locator(".fr-message--error")
    assert "Ce numéro n'est pas un numéro de mobile" in error.inner_text()
    assert page.get_by_label(re.compile("^Numéro de téléphone mobile")).input_value() == (
        "01 23 45 67 89"
    )
    check_a11y(page)

    # A waiting request: the citizen answers in the thread, with a keyboard-reachable form.
    page.goto("/espace/")
    panel = page.locator("section", has=page.get_by_role("heading", name="Action attendue"))
    panel.get_by_role("link").first.click()
    page.wait_for_load_state("domcontentloaded")
    check_a11y(page)
    page.get_by_label(re.compile("^Votre réponse")).fill("")
    page.get_by_role("button", name="Envoyer").click()
    assert "Le message ne peut pas être vide." in page.locator("main").inner_text()
    check_a11y(page)
    page.get_by_label(re.compile("^Votre réponse")).fill("Voici le justificatif demandé.")
    page.get_by_role("button", name="Envoyer").click()
    page.wait_for_load_state("domcontentloaded")
    assert "Votre message a bien été envoyé." in page.locator("main").inner_text()
    check_a11y(page)
