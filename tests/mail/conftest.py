"""Real peers for the e-mail channel: a throw-away Dovecot IMAP server on loopback (its own
configuration, mail store and password file in a temporary directory, a high port, no
systemd, every process unprivileged) and an aiosmtpd SMTP receiver in the test process."""

from __future__ import annotations

import pytest
from imapclient import IMAPClient

from tests.mail.dovecot import (
    IMAP_LOGIN,
    IMAP_PASSWORD,
    DovecotError,
    free_port,
    start_dovecot,
)

__all__ = ["IMAP_LOGIN", "IMAP_PASSWORD", "free_port"]

PASSWORD_ENV = "GUICHET_TEST_IMAP_PASSWORD"
# The receiving server of the tests' organisation (MAIL_AUTHSERV_ID) and the header it adds to
# a message whose sender passed DMARC, as Postfix with OpenDMARC does before delivering to
# Dovecot: the tests deliver by APPEND, so they write it themselves.
AUTHSERV_ID = "mx.guichet.test"
DMARC_PASS = f"{AUTHSERV_ID}; dmarc=pass (p=quarantine) header.from=example.fr"


def authenticated(raw: bytes, results: str = DMARC_PASS) -> bytes:
    """The source as delivered by the receiving server: its Authentication-Results on top."""
    return f"Authentication-Results: {results}\r\n".encode() + raw


@pytest.fixture(autouse=True)
def receiving_server(settings):
    settings.MAIL_AUTHSERV_ID = AUTHSERV_ID


@pytest.fixture(scope="session")
def dovecot():
    try:
        server = start_dovecot()
    except DovecotError as exc:
        pytest.fail(str(exc))
    yield {"host": server.host, "port": server.port, "root": server.root}
    server.stop()


@pytest.fixture
def imap(dovecot, monkeypatch):
    """A client on the test mailbox, emptied first; ``imap.append(raw)`` delivers a message."""
    monkeypatch.setenv(PASSWORD_ENV, IMAP_PASSWORD)
    client = IMAPClient(dovecot["host"], port=dovecot["port"], ssl=False, timeout=10)
    client.login(IMAP_LOGIN, IMAP_PASSWORD)
    client.select_folder("INBOX")
    uids = client.search(["ALL"])
    if uids:
        client.delete_messages(uids)
        client.expunge()
    yield client
    client.logout()


@pytest.fixture
def mailbox(dovecot, topic_a, service_a):
    from mail.models import Mailbox

    return Mailbox.objects.create(
        service=service_a,
        address="impots@guichet.test",
        default_topic=topic_a,
        host=dovecot["host"],
        port=dovecot["port"],
        security=Mailbox.Security.NONE,
        login=IMAP_LOGIN,
        password_env=PASSWORD_ENV,
    )


class Inbox:
    """What the receiver got from the mailbox's address (the citizen's content-free
    notifications of the secure messaging come from another sender and are left aside)."""

    def __init__(self, sender: str):
        self.sender = sender
        self.messages: list[bytes] = []
        self.others: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or envelope.content
        (self.messages if envelope.mail_from == self.sender else self.others).append(content)
        return "250 OK"


@pytest.fixture
def smtp_receiver(settings):
    """An SMTP server in the test process; Django's SMTP backend delivers to it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox("impots@guichet.test")
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()
