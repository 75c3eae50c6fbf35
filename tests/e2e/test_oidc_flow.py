"""FranceConnect and ProConnect in Chromium, through the real OpenID Connect providers the
e2e server is configured with (tests/oidc_provider, started by the ``e2e_server`` fixture)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import expect_console_error
from tests.oidc_provider import (
    AGENT_SUB,
    CITIZEN2_SUB,
    CITIZEN_SUB,
    NO_EMAIL_SUB,
    UNKNOWN_AGENT_SUB,
)


def sign_in_at_provider(page, login: str) -> None:
    """The provider's login page (not Guichet's: not checked with axe)."""
    page.wait_for_url(re.compile(r"/interaction/"))
    page.get_by_label("Identifiant").fill(login)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Valider").click()


def start_franceconnect(page) -> None:
    page.goto("/connexion/")
    page.locator(".fr-connect").first.click()


def log_out(page, e2e_server) -> None:
    """Guichet's "Se déconnecter", then the provider's confirmation, then back on Guichet."""
    page.locator("header").get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(re.compile(r"/session/end"))
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{e2e_server.url}/**")
    expect(page.locator("body")).to_contain_text("Vous êtes déconnecté")


def test_citizen_first_and_second_franceconnect_login(new_page, check_a11y, e2e_server):
    page = new_page()
    page.goto("/connexion/")
    expect(page.locator(".fr-connect-group").first).to_contain_text("FranceConnect")
    expect(page.get_by_role("link", name="Qu’est-ce que FranceConnect ?")).to_be_visible()
    check_a11y(page)
    start_franceconnect(page)
    sign_in_at_provider(page, CITIZEN_SUB)
    page.wait_for_url("**/compte/franceconnect/bienvenue/")
    expect(page.locator("#oidc-identity")).to_contain_text("Angela Claire Louise")
    expect(page.locator("#oidc-identity")).to_contain_text("24 août 1962")
    check_a11y(page)
    page.get_by_label("Téléphone mobile (facultatif)").fill("06 12 34 56 78")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_url("**/espace/")
    expect(page.locator("body")).to_contain_text("Votre compte Guichet est créé")
    check_a11y(page)
    log_out(page, e2e_server)

    # Second login: the provider asks again (its session was ended), Guichet knows the sub.
    start_franceconnect(page)
    sign_in_at_provider(page, CITIZEN_SUB)
    page.wait_for_url("**/espace/")
    created = e2e_server.shell_json(
        "from accounts.models import OidcIdentity\n"
        f"link = OidcIdentity.objects.get(provider='franceconnect', sub='{CITIZEN_SUB}')\n"
        "result = [link.user.email, link.user.mobile_phone, str(link.birthdate)]"
    )
    assert created == ["angela.dubois@example.fr", "+33612345678", "1962-08-24"]


def test_citizen_links_a_local_account(new_page, check_a11y, e2e_server, demo):
    page = new_page()
    start_franceconnect(page)
    sign_in_at_provider(page, CITIZEN2_SUB)
    page.wait_for_url("**/compte/franceconnect/bienvenue/")
    link = page.locator("#oidc-link")
    link.get_by_label("Adresse électronique de votre compte Guichet").fill(demo.citizen)
    link.get_by_label("Mot de passe").fill("pas-le-bon-mot-de-passe")
    with page.expect_navigation(wait_until="load"):
        link.get_by_role("button", name="Associer mon compte").click()
    expect(page.locator("#oidc-link")).to_contain_text("mot de passe incorrect")
    check_a11y(page)
    link.get_by_label("Mot de passe").fill(demo.password)
    with page.expect_navigation(wait_until="load"):
        link.get_by_role("button", name="Associer mon compte").click()
    page.wait_for_url("**/espace/")
    expect(page.locator("body")).to_contain_text("FranceConnect est lié à votre compte Guichet")
    linked = e2e_server.shell_json(
        "from accounts.models import OidcIdentity\n"
        f"result = OidcIdentity.objects.get(sub='{CITIZEN2_SUB}').user.email"
    )
    assert linked == demo.citizen


def test_agent_logs_in_with_proconnect(new_page, check_a11y, e2e_server):
    page = new_page()
    # Someone ProConnect knows but Guichet does not: refused, no account created.
    expect_console_error(page, "status of 403")
    page.goto("/connexion/")
    page.locator(".fr-connect--pro").click()
    sign_in_at_provider(page, UNKNOWN_AGENT_SUB)
    expect(page.locator("#oidc-error")).to_contain_text("Aucun compte agent actif")
    check_a11y(page)
    page = new_page()
    page.goto("/connexion/")
    page.locator(".fr-connect--pro").click()
    sign_in_at_provider(page, AGENT_SUB)
    page.wait_for_url("**/console/**")
    check_a11y(page)
    log_out(page, e2e_server)


def test_franceconnect_without_email_asks_for_it_and_verifies_it(new_page, check_a11y, e2e_server):
    page = new_page()
    start_franceconnect(page)
    sign_in_at_provider(page, NO_EMAIL_SUB)
    page.wait_for_url("**/compte/franceconnect/bienvenue/")
    expect(page.locator("#oidc-identity")).to_contain_text("Yanis")
    check_a11y(page)
    page.locator("#id_create-email").fill("pas-une-adresse")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Créer mon compte").click()
    expect(page.locator("#oidc-create")).to_contain_text("Saisissez une adresse")
    check_a11y(page)
    page.locator("#id_create-email").fill("yanis.moreau@example.fr")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Créer mon compte").click()
    # The account is used at once; e-mail alerts wait for the address's link.
    page.wait_for_url("**/espace/")
    expect(page.locator("body")).to_contain_text("Ouvrez le lien envoyé à yanis.moreau@example.fr")
    check_a11y(page)

    link = e2e_server.shell_json(
        "from accounts.services import email_change_link\n"
        "from accounts.models import OidcIdentity\n"
        f"user = OidcIdentity.objects.get(sub={NO_EMAIL_SUB!r}).user\n"
        "result = email_change_link(user, 'yanis.moreau@example.fr')"
    )
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    expect(page.locator("main")).to_contain_text("désormais yanis.moreau@example.fr")
    check_a11y(page)
    log_out(page, e2e_server)

    answers = []
    page.on(
        "request",
        lambda request: (
            answers.append(request.url) if "/franceconnect/retour/" in request.url else None
        ),
    )
    start_franceconnect(page)
    sign_in_at_provider(page, NO_EMAIL_SUB)
    page.wait_for_url("**/espace/")
    # The provider's answer (state and code) used again: refused.
    assert len(answers) == 1
    expect_console_error(page, "status of 400")
    page.goto(answers[0])
    expect(page.locator("body")).to_contain_text("La connexion n'a pas pu être vérifiée")
    check_a11y(page)
