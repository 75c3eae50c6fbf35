"""The breached-password check (accounts.passwords) against a range server on loopback that
speaks the Pwned Passwords k-anonymity protocol: off by default, refuses a breached password at
sign-up and reset, sends only a 5-character prefix, and lets a password through (logged) when
the service does not answer."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from accounts.passwords import breach_count
from contactcenter.models import User

pytestmark = pytest.mark.django_db

BREACHED = "correct horse battery staple"
STRONG = "une phrase de passe solide"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest().upper()


class RangeServer:
    """Answers GET /range/<5 hex> like the real service: the suffixes under the prefix with
    their counts, plus padding lines with a count of 0."""

    def __init__(self, breached: dict[str, int]):
        self.hashes = {sha1(password): count for password, count in breached.items()}
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Add-Padding", "")))
                prefix = self.path.rsplit("/", 1)[-1].upper()
                lines = [
                    f"{digest[5:]}:{count}"
                    for digest, count in server.hashes.items()
                    if digest.startswith(prefix)
                ]
                lines += [f"{'0' * 34}{i:01X}:0" for i in range(3)]
                body = "\r\n".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/range/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def range_server(settings):
    with RangeServer({BREACHED: 3_861_493}) as server:
        settings.PASSWORD_BREACH_RANGE_URL = server.url
        yield server


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


def test_a_breached_password_is_refused_at_sign_up(client, range_server):
    page = signup(client, BREACHED).content.decode()
    assert "fuites de données connues" in page
    assert not User.objects.filter(email="zoe.garnier@example.fr").exists()
    # Only the prefix left Guichet, with padding asked.
    path, padding = range_server.requests[-1]
    assert path == "/range/" + sha1(BREACHED)[:5] and padding == "true"
    assert sha1(BREACHED)[5:] not in "".join(p for p, _ in range_server.requests)
    assert (
        "Il ne doit pas figurer dans les fuites"
        in client.get(reverse("accounts:signup")).content.decode()
    )
    response = signup(client, STRONG)
    assert response.status_code == 302
    assert User.objects.filter(email="zoe.garnier@example.fr").exists()


def test_padding_lines_do_not_count(range_server):
    assert breach_count(BREACHED) == 3_861_493
    assert breach_count(STRONG) == 0


def test_a_breached_password_is_refused_at_reset(client, range_server, citizen):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(citizen.pk))
    token = default_token_generator.make_token(citizen)
    url = reverse("accounts:password_reset_confirm", args=[uid, token])
    form_url = client.get(url)["Location"]
    page = client.post(form_url, {"new_password1": BREACHED, "new_password2": BREACHED})
    assert "fuites de données connues" in page.content.decode()


def test_unreachable_service_lets_the_password_through_and_logs(client, settings, caplog):
    with RangeServer({}) as server:
        url = server.url
    settings.PASSWORD_BREACH_RANGE_URL = url  # closed: connection refused
    assert breach_count(BREACHED) is None
    assert "Breached-password check unavailable" in caplog.text
    assert signup(client, STRONG).status_code == 302
