import re
import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "motdepasse-solide-2026"


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """A request whose after-commit callbacks (the e-mails) run, as after a real commit."""

    def request(client, method, url, data=None, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return getattr(client, method)(url, data or {}, **extra)

    return request


def link_in(message) -> str:
    """The path of the first link of a mail (the site's address removed)."""
    found = re.search(r"https?://\S+", message.body)
    assert found, message.body
    return re.sub(r"^https?://[^/]+", "", found.group(0))


def totp_code(device: TOTPDevice, offset: int = 0) -> str:
    """The code the app shows now (offset in steps of 30 s)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset * device.step
    return f"{totp.token():06d}"


def enrol(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Test", confirmed=True)


def password_step(client: Client, user, password: str = PASSWORD, **extra):
    return client.post("/connexion/", {"username": user.email, "password": password}, **extra)
