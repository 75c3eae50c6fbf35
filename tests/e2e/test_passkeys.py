"""Passkeys in a real browser: Chromium's virtual authenticator (DevTools protocol, WebAuthn
domain) answers the real ceremonies of static/accounts/js/passkey.js. A citizen registers a
passkey from their account, then logs in with the password and the passkey; without the key the
page says so and the login does not happen. WebAuthn needs a domain name (an IP address cannot be
a relying party id): these pages are opened at http://localhost:<port>."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from .conftest import TWO_FACTOR_PATH

PASSWORD = "une phrase de passe pour Guichet"


def make_citizen(e2e_server) -> str:
    email = f"cle.{uuid.uuid4().hex[:8]}@example.fr"
    e2e_server.shell(
        "from contactcenter.models import User\n"
        f"User.objects.create_user(username={email!r}, email={email!r}, password={PASSWORD!r},"
        " first_name='Nora', last_name='Benali', role=User.Role.CITIZEN)"
    )
    return email


def password_step(page, email: str) -> None:
    page.goto("/connexion/")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Se connecter").click()


def test_citizen_registers_a_passkey_and_logs_in_with_it(new_page, check_a11y, e2e_server):
    email = make_citizen(e2e_server)
    page = new_page(base_url=e2e_server.url.replace("127.0.0.1", "localhost"))
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    password_step(page, email)
    assert "/connexion/" not in page.url and TWO_FACTOR_PATH not in page.url  # no 2FA yet
    page.goto("/compte/")
    page.locator("main").get_by_role("link", name="Activer avec une clé d'accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clés d'accès")
    check_a11y(page)
    page.get_by_label("Nom de la clé").fill("Clé USB du bureau")
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Ajouter une clé d'accès").click()
    # The first second factor comes with recovery codes, shown once.
    assert "/codes-de-secours/" in page.url
    check_a11y(page)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    page.goto("/compte/cles-d-acces/")
    expect(page.locator("main table")).to_contain_text("Clé USB du bureau")

    # Next login: the password, then the passkey.
    page.context.clear_cookies()
    password_step(page, email)
    assert TWO_FACTOR_PATH in page.url
    use_key = page.locator("main").get_by_role("button", name="Utiliser ma clé d'accès")
    expect(use_key).to_be_visible()
    check_a11y(page)
    with page.expect_navigation(wait_until="load"):
        use_key.click()
    assert TWO_FACTOR_PATH not in page.url and "/connexion/" not in page.url
    page.goto("/compte/")
    expect(page.locator("main")).to_contain_text("1 clé d'accès enregistrée")
    signed = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert signed["credentials"][0]["signCount"] >= 1

    # The key is gone from the authenticator: the page says so, nobody is logged in.
    cdp.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator})
    page.context.clear_cookies()
    password_step(page, email)
    page.locator("main").get_by_role("button", name="Utiliser ma clé d'accès").click()
    expect(page.locator("[data-passkey-error]")).to_contain_text("Réessayez", timeout=20_000)
    assert TWO_FACTOR_PATH in page.url
    check_a11y(page)
