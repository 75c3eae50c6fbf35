"""The community forum in a real browser: a citizen asks under a pseudonym (existing answers
proposed, a phone number refused with the reason), an expert certifies an answer, and the public
page shows the badge and never the citizen's name."""

import re

import pytest

from .conftest import expect_console_error

pytestmark = pytest.mark.e2e


def test_question_under_pseudonym_certified_answer_public(new_page, check_a11y, demo):
    citizen = new_page(demo.citizen)
    citizen.goto("/forum/poser-une-question/")
    citizen.get_by_label("Thème").select_option("impots")
    citizen.get_by_label("Votre question en une phrase").fill(
        "Modifier mon taux de prélèvement à la source"
    )
    citizen.get_by_role("button", name="Continuer").click()
    proposed = citizen.locator("#forum-suggestions")
    assert "Votre question a peut-être déjà une réponse" in proposed.inner_text()
    assert "Prélèvement à la source" in proposed.inner_text()
    check_a11y(citizen)

    body = citizen.get_by_label("Détaillez votre question")
    body.fill("Je passe à temps partiel en mars. Rappelez-moi au 06 12 34 56 78 si besoin.")
    citizen.get_by_label("Votre pseudonyme").fill("Tournesol")
    expect_console_error(citizen, "status of 400")  # the form shown again, as a 400
    # The first check of a server process may wait for the NER model it preloads.
    citizen.get_by_role("button", name="Publier ma question").click(timeout=60_000)
    citizen.wait_for_selector("#forum-personal-data")
    assert "un numéro de téléphone (« 06 12 34 56 78 »)" in citizen.locator("main").inner_text()
    check_a11y(citizen)

    citizen.get_by_label("Détaillez votre question").fill(
        "Je passe à temps partiel en mars : dois-je attendre la déclaration pour changer mon taux ?"
    )
    citizen.get_by_role("button", name="Publier ma question").click()
    citizen.wait_for_url(re.compile(r"/forum/fils/\d+/$"))
    thread_url = citizen.url
    assert "Question de Tournesol" in citizen.locator("main").inner_text()

    agent = new_page(demo.agent_fiscalite)
    agent.goto(thread_url)
    agent.get_by_label("Votre réponse").fill(
        "Oui, sans attendre : actualisez votre taux dans votre espace particulier, rubrique "
        "« Gérer mon prélèvement à la source »."
    )
    agent.get_by_role("button", name="Publier ma réponse").click()
    agent.wait_for_url(re.compile(r"#message-\d+$"))
    agent.get_by_role("button", name="Certifier cette réponse").click()
    agent.get_by_role("button", name="Retirer la certification").wait_for()

    reader = new_page()
    reader.goto(thread_url)
    main = reader.locator("main").text_content()  # badges are in capitals on screen
    assert "Réponse certifiée" in main
    assert "Tournesol" in main
    html = reader.content()
    for secret in ("Camille", "Martin", demo.citizen):
        assert secret not in html
    check_a11y(reader)
