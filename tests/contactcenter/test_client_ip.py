"""The client's address: X-Forwarded-For only from trusted proxies; the login lockout is keyed
on (login, client address); the CSP lets pages connect to their own origin only."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.urls import reverse

from contactcenter.client_ip import client_ip, parse_networks, resolve_client_ip
from contactcenter.settings import trusted_proxies

PASSWORD = "motdepasse-solide-2026"
PROXIES = parse_networks(["10.0.0.5", "172.16.0.0/12"])


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored():
    assert resolve_client_ip("198.51.100.9", "203.0.113.1", []) == "198.51.100.9"
    assert resolve_client_ip("198.51.100.9", "203.0.113.1", PROXIES) == "198.51.100.9"


def test_localhost_is_not_trusted_by_default(settings):
    settings.TRUSTED_PROXIES = []
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.1")
    assert client_ip(request) == "127.0.0.1"


def test_trusted_proxy_gives_the_address_it_appended():
    assert resolve_client_ip("10.0.0.5", "203.0.113.1", PROXIES) == "203.0.113.1"


def test_entries_written_by_the_client_before_the_proxy_are_not_believed():
    # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real peer.
    assert resolve_client_ip("10.0.0.5", "1.2.3.4, 198.51.100.9", PROXIES) == "198.51.100.9"


def test_chain_of_trusted_proxies_is_walked_from_the_right():
    forwarded = "1.2.3.4, 198.51.100.9, 172.16.3.4"
    assert resolve_client_ip("10.0.0.5", forwarded, PROXIES) == "198.51.100.9"


def test_proxy_without_header_or_with_garbage_stays_the_client():
    assert resolve_client_ip("10.0.0.5", "", PROXIES) == "10.0.0.5"
    assert resolve_client_ip("10.0.0.5", "nonsense", PROXIES) == "10.0.0.5"
    assert resolve_client_ip("10.0.0.5", "[2001:db8::7]:443", PROXIES) == "2001:db8::7"
    assert resolve_client_ip("10.0.0.5", "203.0.113.1:5555", PROXIES) == "203.0.113.1"


def test_setting_refuses_a_malformed_proxy_address():
    assert trusted_proxies(["10.0.0.1", "fd00::/8"]) == ["10.0.0.1", "fd00::/8"]
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        trusted_proxies(["10.0.0.300"])


def fail_login(client, email, **headers):
    return client.post(reverse("login"), {"username": email, "password": "mauvais"}, **headers)


@pytest.mark.django_db
def test_spoofed_forwarded_for_does_not_bypass_the_lockout(settings, citizen):
    settings.TRUSTED_PROXIES = []
    client = Client(REMOTE_ADDR="198.51.100.9")
    for i in range(5):
        fail_login(client, citizen.email, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    response = client.post(
        reverse("login"),
        {"username": citizen.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.77",
    )
    assert response.status_code == 429


@pytest.mark.django_db
def test_behind_a_trusted_proxy_one_client_cannot_lock_a_login_for_everyone(settings, citizen):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    for _ in range(5):
        fail_login(proxy, citizen.email, HTTP_X_FORWARDED_FOR="203.0.113.66")
    locked = proxy.post(
        reverse("login"),
        {"username": citizen.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.66",
    )
    assert locked.status_code == 429
    # The citizen, coming through the same proxy from their own address, still logs in.
    response = proxy.post(
        reverse("login"),
        {"username": citizen.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_failures_from_one_address_do_not_lock_the_login_from_another(settings, citizen):
    settings.TRUSTED_PROXIES = []
    for _ in range(5):
        fail_login(Client(REMOTE_ADDR="203.0.113.66"), citizen.email)
    assert fail_login(Client(REMOTE_ADDR="203.0.113.66"), citizen.email).status_code == 429
    other = Client(REMOTE_ADDR="198.51.100.20")
    response = other.post(reverse("login"), {"username": citizen.email, "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_csp_lets_pages_connect_to_their_own_origin_only():
    csp = Client().get(reverse("login"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["connect-src"] == "'self' ws://testserver"
    secure = Client().get(reverse("login"), secure=True)["Content-Security-Policy"]
    assert "connect-src 'self' wss://testserver;" in secure


def test_deploy_check_warns_when_no_proxy_is_trusted(settings):
    from contactcenter.checks import production_services

    settings.TRUSTED_PROXIES = []
    assert "guichet.W005" in [message.id for message in production_services(None)]
    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    assert "guichet.W005" not in [message.id for message in production_services(None)]
