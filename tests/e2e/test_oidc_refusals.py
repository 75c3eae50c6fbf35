"""FranceConnect logins Guichet refuses, in Chromium through the real provider of the e2e server
(tests/oidc_provider): an ID token altered after signing (the provider's ``tamper`` option), and
an ID token carrying another nonce than the one of the browser's session (the authorization
request rewritten on its way to the provider). The citizen sees the error page, no account."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.sync_api import expect

from tests.e2e.conftest import expect_console_error
from tests.e2e.test_oidc_flow import sign_in_at_provider, start_franceconnect
from tests.oidc_provider import NONCE_SUB, TAMPERED_SUB


def assert_refused(page, check_a11y, e2e_server, sub: str, reason: str) -> None:
    expect(page.locator("#oidc-error")).to_contain_text(
        "La connexion n'a pas pu être vérifiée. Recommencez, s'il vous plaît."
    )
    assert "/compte/franceconnect/retour/" in page.url
    assert reason in e2e_server.log_tail()  # the server's warning says why
    check_a11y(page)
    # Not logged in, no account nor link made.
    page.goto("/espace/")
    page.wait_for_url(re.compile(r"/connexion/"))
    linked = e2e_server.shell_json(
        "from accounts.models import OidcIdentity\n"
        f"result = OidcIdentity.objects.filter(sub={sub!r}).count()"
    )
    assert linked == 0


def test_tampered_id_token_is_refused(new_page, check_a11y, e2e_server):
    page = new_page()
    expect_console_error(page, "status of 400")
    start_franceconnect(page)
    sign_in_at_provider(page, TAMPERED_SUB)
    assert_refused(page, check_a11y, e2e_server, TAMPERED_SUB, "bad_signature")


def test_wrong_nonce_is_refused(new_page, check_a11y, e2e_server):
    issuer = e2e_server.extra["oidc"]["FRANCECONNECT"].issuer
    page = new_page()
    rewritten = []

    def other_nonce(route):
        # Guichet's redirect to the provider, its authorization request given another nonce.
        response = route.fetch(max_redirects=0)
        parts = urlsplit(response.headers["location"])
        query = dict(parse_qsl(parts.query))
        assert parts.geturl().startswith(issuer) and query["nonce"]
        query["nonce"] = "not-the-session-nonce"
        rewritten.append(query["nonce"])
        headers = {
            **response.headers,
            "location": urlunsplit(parts._replace(query=urlencode(query))),
        }
        route.fulfill(response=response, headers=headers)

    page.route(re.compile(r"/compte/franceconnect/connexion/"), other_nonce)
    expect_console_error(page, "status of 400")
    start_franceconnect(page)
    sign_in_at_provider(page, NONCE_SUB)
    assert rewritten == ["not-the-session-nonce"]
    assert_refused(page, check_a11y, e2e_server, NONCE_SUB, "Invalid claim: 'nonce'")
