"""In Chromium, through the real FranceConnect-like provider of the e2e server
(tests/oidc_provider): an account FranceConnect created without a password confirms an e-mail
change and its deletion by logging in again there (the provider's session then ended, as at a
logout); an account without an address sees why
e-mail alerts are off and can reach the page to give one, by keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.test_oidc_flow import sign_in_at_provider, start_franceconnect
from tests.oidc_provider import NO_EMAIL2_SUB, REAUTH_SUB


def test_email_change_and_deletion_confirmed_with_franceconnect(new_page, check_a11y, e2e_server):
    page = new_page()
    start_franceconnect(page)
    sign_in_at_provider(page, REAUTH_SUB)
    page.wait_for_url("**/compte/franceconnect/bienvenue/")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_url("**/espace/")

    # E-mail change: no password field, FranceConnect asks for the login again (prompt=login).
    page.goto("/compte/adresse/")
    expect(page.get_by_label("Mot de passe actuel")).to_have_count(0)
    check_a11y(page)
    page.get_by_label("Nouvelle adresse électronique").fill("louise.nouvelle@example.fr")
    page.get_by_role("button", name="Confirmer avec FranceConnect").click()
    sign_in_at_provider(page, REAUTH_SUB)
    page.wait_for_url("**/compte/")
    expect(page.locator("body")).to_contain_text(
        "Un lien de confirmation a été envoyé à louise.nouvelle@example.fr"
    )
    check_a11y(page)
    link = e2e_server.shell_json(
        "from accounts.services import email_change_link\n"
        "from accounts.models import OidcIdentity\n"
        f"user = OidcIdentity.objects.get(sub={REAUTH_SUB!r}).user\n"
        "result = email_change_link(user, 'louise.nouvelle@example.fr')"
    )
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    expect(page.locator("main")).to_contain_text("désormais louise.nouvelle@example.fr")

    # Deletion: the confirmation box, then FranceConnect again stands for the password.
    page.goto("/compte/supprimer/")
    expect(page.get_by_label("Mot de passe actuel")).to_have_count(0)
    check_a11y(page)
    page.get_by_text("Je comprends que cette suppression est définitive.").click()
    page.get_by_role("button", name="Confirmer avec FranceConnect et supprimer mon compte").click()
    sign_in_at_provider(page, REAUTH_SUB)
    # The account is gone, and the provider's session is ended too (its confirmation).
    page.wait_for_url(re.compile(r"/session/end"))
    left = e2e_server.shell_json(
        "from accounts.models import OidcIdentity\n"
        f"result = OidcIdentity.objects.filter(sub={REAUTH_SUB!r}).count()"
    )
    assert left == 0
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/compte/supprime/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("supprimé")
    check_a11y(page)
    # The next FranceConnect login asks the provider's identifier again.
    start_franceconnect(page)
    page.wait_for_url(re.compile(r"/interaction/"))
    expect(page.get_by_label("Identifiant")).to_be_visible()


def test_alert_preferences_of_an_account_without_address(new_page, check_a11y, e2e_server):
    page = new_page()
    start_franceconnect(page)
    sign_in_at_provider(page, NO_EMAIL2_SUB)
    page.wait_for_url("**/compte/franceconnect/bienvenue/")
    page.locator("#id_create-email").fill("ines.roux@example.fr")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_url("**/espace/")

    page.goto("/espace/preferences/")
    box = page.get_by_label("Recevoir une alerte par courriel")
    expect(box).to_be_disabled()
    expect(box).not_to_be_checked()
    expect(page.locator("#no-address")).to_contain_text(
        "pas encore d'adresse électronique vérifiée"
    )
    check_a11y(page)
    # The link to give an address is in the tab order: reached with Tab, followed with Enter.
    link = page.get_by_role("link", name="Indiquer mon adresse électronique")
    page.locator("#canaux-legend").click()
    for _ in range(40):
        page.keyboard.press("Tab")
        if link.evaluate("element => element === document.activeElement"):
            break
    else:
        raise AssertionError("the link is not reachable with the keyboard")
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    page.wait_for_url("**/compte/adresse/")
