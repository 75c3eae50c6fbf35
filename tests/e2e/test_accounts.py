"""Ways in, in a real browser: the public home; a citizen signs up, opens the verification link
from the mail, logs in and writes a request; an agent logs in with a TOTP code. Every page is
checked with axe-core, at 320 px and 200 % zoom."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from .conftest import TWO_FACTOR_PATH, demo_totp

PASSWORD = "une phrase de passe pour Guichet"


def test_public_home_sign_up_verify_login_and_write(new_page, check_a11y, e2e_server):
    page = new_page()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bienvenue sur Guichet")
    expect(page.get_by_role("heading", name="Nous contacter")).to_be_visible()
    expect(page.locator("#home-services")).to_contain_text("01 40 00 01 01")
    check_a11y(page)

    # The FAQ search of the home is the public FAQ's.
    page.get_by_label("Rechercher dans la foire aux questions").fill("carte Vitale perdue")
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Rechercher").click()
    assert "/faq/?q=" in page.url

    page.goto("/")
    page.locator("main").get_by_role("link", name="Créer un compte").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Créer un compte")
    check_a11y(page)
    email = f"e2e.{uuid.uuid4().hex[:8]}@example.fr"
    page.get_by_label("Prénom").fill("Inès")
    page.get_by_label("Nom", exact=True).fill("Roussel")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label(re.compile("^Mot de passe")).fill("trop-court")
    page.get_by_label("Confirmation du mot de passe").fill("trop-court")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Créer mon compte").click()
    expect(page.locator("main")).to_contain_text("au minimum 12 caractères")
    check_a11y(page)
    page.get_by_label(re.compile("^Mot de passe")).fill(PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre messagerie")
    check_a11y(page)

    # The link of the mail (the console backend prints it in the server's log; the same
    # function makes it here from the database).
    link = e2e_server.shell_json(
        "from accounts.services import verification_link\n"
        "from contactcenter.models import User\n"
        f"result = verification_link(User.objects.get(email={email!r}))"
    )
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    expect(page.locator("main")).to_contain_text("Votre adresse est vérifiée")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Se connecter").click()
    assert "/espace/" in page.url

    page.goto("/compte/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon compte")
    check_a11y(page)

    # Write a request.
    page.goto("/espace/demandes/nouvelle/")
    page.locator("label", has_text="Impôts des particuliers").click()
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**topic=impots**")
    page.locator("label", has_text="Poser une question").click()
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**kind=question**")
    page.get_by_label(re.compile("^Objet")).fill("Première demande depuis mon nouveau compte")
    page.get_by_label(re.compile("^Votre message")).fill("Bonjour, je viens de créer mon compte.")
    page.get_by_role("button", name="Envoyer ma demande").click()
    page.wait_for_url(re.compile(r".*/espace/demandes/\d{4}-\d{6}/$"))
    expect(page.locator("main")).to_contain_text("a bien été envoyée")


def test_staff_login_asks_for_the_totp_code(new_page, check_a11y, demo):
    page = new_page()
    page.goto("/connexion/")
    page.get_by_label("Adresse électronique").fill(demo.agent_social2)
    page.get_by_label("Mot de passe").fill(demo.password)
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Se connecter").click()
    assert TWO_FACTOR_PATH in page.url
    check_a11y(page)
    # Nothing of the console before the code.
    page.goto("/console/")
    assert "/connexion/" in page.url
    page.goto(TWO_FACTOR_PATH)
    page.get_by_label("Code de vérification").fill("000000")
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Valider").click()
    expect(page.locator("main")).to_contain_text("Code incorrect")
    check_a11y(page)
    page.wait_for_timeout(1100)  # django-otp's throttle after a failure (1 s)
    page.get_by_label("Code de vérification").fill(demo_totp(demo.agent_social2))
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Valider").click()
    assert "/console/" in page.url
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
