"""A local staff account in Chromium: wrong passwords lock the login; a new password chosen
from the reset link of the mail (read in the server's log, where the console backend writes it)
lifts the lockout; the first login enrols a TOTP application (the key written on the page) and
shows the recovery codes once; a recovery code then stands for the application. Every page is
checked with axe-core."""

from __future__ import annotations

import base64
import re
import time
import uuid

from django_otp.oath import totp
from playwright.sync_api import expect

from tests.e2e.conftest import TWO_FACTOR_PATH, expect_console_error

OLD_PASSWORD = "ancienne phrase de passe du guichet"
NEW_PASSWORD = "nouvelle phrase de passe du guichet"


def submit_login(page, email: str, password: str) -> None:
    page.goto("/connexion/")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Se connecter").click()


def reset_link_in_mail(e2e_server, email: str) -> str:
    """The link of the last reset mail sent to ``email``, as the console backend printed it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = e2e_server.log_tail(200_000)
        mail = log[log.rfind(f"To: {email}") :] if f"To: {email}" in log else ""
        found = re.search(r"https?://[^/\s]+(/compte/mot-de-passe-oublie/[^\s]+/)", mail)
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no reset mail to {email} in the server's log")


def test_lockout_reset_two_factor_enrolment_and_recovery_code(new_page, check_a11y, e2e_server):
    email = f"agent.{uuid.uuid4().hex[:8]}@example.fr"
    limit = e2e_server.shell_json(
        "from django.conf import settings\n"
        "from contactcenter.models import User\n"
        f"User.objects.create_user(username={email!r}, email={email!r}, "
        f"password={OLD_PASSWORD!r}, first_name='Paul', last_name='Garnier', role='agent')\n"
        "result = settings.AXES_FAILURE_LIMIT"
    )
    page = new_page()

    # Wrong passwords: the login is locked, even for the right password.
    expect_console_error(page, "status of 429")
    for _ in range(limit):
        submit_login(page, email, "pas le bon mot de passe")
    submit_login(page, email, OLD_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Compte temporairement bloqué")
    expect(page.locator("main")).to_contain_text("Réessayez dans 15 minutes")
    check_a11y(page)

    # Password reset from the login page, the link of the mail.
    page.goto("/connexion/")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mot de passe oublié")
    check_a11y(page)
    page.locator("main").get_by_role("textbox").fill(email)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Recevoir le lien").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre messagerie")
    check_a11y(page)
    link = reset_link_in_mail(e2e_server, email)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choisir un nouveau mot de passe")
    check_a11y(page)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Enregistrer le mot de passe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mot de passe modifié")
    check_a11y(page)
    page.goto(link)  # the link served once
    expect(page.locator("main")).to_contain_text("Ce lien n'est pas valable")

    # First login with the new password: the lockout is lifted, the TOTP application enrolled.
    submit_login(page, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Activer la double authentification")
    check_a11y(page)
    secret = page.locator(".accounts-secret").inner_text().replace(" ", "")
    code = totp(base64.b32decode(secret), t0=0, step=30, digits=6)
    page.get_by_label("Code affiché par l'application").fill(f"{code:06d}")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Activer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos codes de secours")
    check_a11y(page)
    codes = page.locator(".accounts-codes code").all_inner_texts()
    assert len(codes) >= 5 and len(set(codes)) == len(codes)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="J'ai noté mes codes, continuer").click()
    with page.expect_navigation(wait_until="load"):
        page.locator("header").get_by_role("button", name="Se déconnecter").click()

    # Without the phone: a recovery code, accepted once.
    submit_login(page, email, NEW_PASSWORD)
    assert TWO_FACTOR_PATH in page.url
    check_a11y(page)
    page.get_by_label("Code de vérification").fill(codes[0])
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Valider").click()
    assert TWO_FACTOR_PATH not in page.url and "/connexion/" not in page.url
    expect(page.locator("header").get_by_role("button", name="Se déconnecter")).to_be_visible()
    left = e2e_server.shell_json(
        "from django_otp.plugins.otp_static.models import StaticToken\n"
        f"result = list(StaticToken.objects.filter(device__user__email={email!r})"
        ".values_list('token', flat=True))"
    )
    assert sorted(left) == sorted(codes[1:])
