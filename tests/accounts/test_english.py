"""The account pages that need a state (signed links, half-done login, codes just made, account
just deleted) read in English; the others are in tests/contactcenter/test_english_pages.py."""

import pytest
from django.test import Client
from django.urls import reverse

from .conftest import enrol, password_step

pytestmark = pytest.mark.django_db


def english() -> Client:
    client = Client()
    client.cookies["django_language"] = "en"
    return client


def assert_english(response, *texts):
    html = response.content.decode()
    assert '<html lang="en"' in html
    for text in texts:
        assert text in html, text


def test_link_pages_in_english():
    assert_english(english().get(reverse("accounts:verify", args=["abc"])), "Link not valid")
    assert_english(
        english().get(reverse("accounts:password_reset_confirm", args=["MQ", "x-y"])),
        "This link is not valid",
    )
    assert_english(english().post(reverse("accounts:resend"), {"email": ""}), "Get a new link")


def test_two_factor_pages_in_english(agent_a, citizen):
    client = english()
    enrol(agent_a)
    password_step(client, agent_a)
    assert_english(client.get(reverse("accounts:two_factor_verify")), "Verification code")
    client = english()
    client.force_login(citizen)
    client.get(reverse("accounts:two_factor_enrol"))
    enrol(citizen)
    client.post(reverse("accounts:recovery_codes"))
    assert_english(client.get(reverse("accounts:recovery_codes")), "Your recovery codes")


def test_deleted_page_in_english(citizen):
    client = english()
    client.force_login(citizen)
    client.post(
        reverse("accounts:delete"),
        {"current_password": "motdepasse-solide-2026", "confirm": "on"},
    )
    assert_english(client.get(reverse("accounts:deleted")), "Your account is erased.")


def test_passkey_pages_and_answers_in_english(citizen):
    import json

    from accounts.models import PasskeyDevice

    PasskeyDevice.objects.create(
        user=citizen,
        name="USB",
        confirmed=True,
        credential_id=b"x",
        credential_hash="0" * 64,
        public_key=b"k",
    )
    client = english()
    password_step(client, citizen)
    page = client.get(reverse("accounts:two_factor_verify"))
    assert_english(page, "Or with a passkey", "Use my passkey", "Use your passkey, or enter")
    refused = client.post(
        reverse("accounts:passkey_login"), json.dumps({}), content_type="application/json"
    )
    assert refused.json()["detail"].startswith("The passkey was not recognised")
    client = english()
    client.force_login(citizen)
    assert_english(client.get(reverse("accounts:passkeys")), "Your passkeys", "Add a passkey")
