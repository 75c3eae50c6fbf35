"""The breached-password check (accounts.passwords) against a range service in its own
process on loopback (tests/pwned_range) that speaks the Pwned Passwords k-anonymity protocol
over Django's list of common leaked passwords: off by default, refuses a breached password at
sign-up, password change and reset, sends only a 5-character prefix with padding asked, and
lets a password through (logged) when the service does not answer."""

from __future__ import annotations

import gzip
import hashlib
import random
import time

import django.contrib.auth
import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.passwords import BreachedPasswordValidator, breach_count
from contactcenter.models import User
from tests.pwned_range import RangeProcess

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

# Both in the corpus, 12 characters or more (so the length rule does not refuse them first).
BREACHED = "1qaz2wsx3edc"
BREACHED_TOO = "qwerty123456"
STRONG = "une phrase de passe solide"
REFUSED = "fuites de données connues"


def corpus() -> list[str]:
    path = django.contrib.auth.__file__.rsplit("/", 1)[0] + "/common-passwords.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [line.strip() for line in lines if line.strip()]


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest().upper()


@pytest.fixture(scope="module")
def service():
    with RangeProcess() as process:
        yield process


@pytest.fixture
def range_server(settings, service):
    settings.PASSWORD_BREACH_RANGE_URL = service.url
    return service


def signup(client, password):
    return client.post(
        reverse("accounts:signup"),
        {
            "first_name": "Zoé",
            "last_name": "Garnier",
            "email": "zoe.garnier@example.fr",
            "password1": password,
            "password2": password,
        },
    )


def test_off_by_default_no_request(settings):
    assert settings.PASSWORD_BREACH_RANGE_URL == ""
    assert breach_count(BREACHED) is None
    BreachedPasswordValidator().validate(BREACHED)  # nothing raised: the check is off
    assert BreachedPasswordValidator().get_help_text() == ""


def test_a_breached_password_is_refused_at_sign_up(client, range_server):
    page = signup(client, BREACHED).content.decode()
    assert REFUSED in page
    assert not User.objects.filter(email="zoe.garnier@example.fr").exists()
    # Only the prefix left Guichet, with padding asked.
    path, padding = range_server.requests()[-1]
    assert path == "/range/" + sha1(BREACHED)[:5] and padding == "true"
    assert not any(sha1(BREACHED)[5:] in p for p, _ in range_server.requests())
    assert (
        "Il ne doit pas figurer dans les fuites"
        in client.get(reverse("accounts:signup")).content.decode()
    )
    response = signup(client, STRONG)
    assert response.status_code == 302
    assert User.objects.filter(email="zoe.garnier@example.fr").exists()


def test_counts_come_from_the_corpus_and_padding_does_not_count(range_server):
    passwords = corpus()
    assert breach_count(BREACHED) == len(passwords) - passwords.index(BREACHED)
    assert breach_count(passwords[0]) == len(passwords)  # the most common of all
    assert breach_count(STRONG) == 0
    # A sample of the whole corpus is found, and random strong passphrases are not.
    rng = random.Random(20)
    assert all(breach_count(password) for password in rng.sample(passwords, 25))
    assert not any(breach_count(f"{rng.random()} phrase {rng.random()}") for _ in range(10))


def test_a_breached_password_is_refused_at_password_change(client, range_server, citizen):
    client.force_login(citizen)
    data = {"old_password": PASSWORD, "new_password1": BREACHED, "new_password2": BREACHED}
    page = client.post(reverse("accounts:password_change"), data)
    assert page.status_code == 200 and REFUSED in page.content.decode()
    assert User.objects.get(pk=citizen.pk).check_password(PASSWORD)
    data["new_password1"] = data["new_password2"] = STRONG
    assert client.post(reverse("accounts:password_change"), data).status_code == 302
    assert User.objects.get(pk=citizen.pk).check_password(STRONG)


def test_a_breached_password_is_refused_at_reset(client, range_server, citizen):
    uid = urlsafe_base64_encode(force_bytes(citizen.pk))
    token = default_token_generator.make_token(citizen)
    url = reverse("accounts:password_reset_confirm", args=[uid, token])
    form_url = client.get(url)["Location"]
    page = client.post(form_url, {"new_password1": BREACHED_TOO, "new_password2": BREACHED_TOO})
    assert REFUSED in page.content.decode()
    assert User.objects.get(pk=citizen.pk).check_password(PASSWORD)
    done = client.post(form_url, {"new_password1": STRONG, "new_password2": STRONG})
    assert done["Location"] == reverse("accounts:password_reset_complete")


def test_unreachable_service_lets_the_password_through_and_logs(client, settings, caplog):
    with RangeProcess() as process:
        url = process.url
    settings.PASSWORD_BREACH_RANGE_URL = url  # stopped: connection refused
    assert breach_count(BREACHED) is None
    assert "Breached-password check unavailable" in caplog.text
    assert signup(client, STRONG).status_code == 302


def test_a_silent_service_is_given_up_after_the_timeout(settings, caplog):
    """A service that accepts the connection and never answers: the short timeout applies."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        settings.PASSWORD_BREACH_RANGE_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/r/"
        settings.PASSWORD_BREACH_TIMEOUT = 0.5
        started = time.monotonic()
        assert breach_count(BREACHED) is None
        assert time.monotonic() - started < 3
        assert "Breached-password check unavailable" in caplog.text
    finally:
        listener.close()
