"""IMAP IDLE against the real Dovecot: a message delivered while the channel waits is imported
at once, without waiting for the beat."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management import call_command
from imapclient import IMAPClient

from contactcenter.models import Case
from tests.mail.conftest import IMAP_LOGIN, IMAP_PASSWORD
from tests.mail.test_mail_channel import compose

# A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
pytestmark = [pytest.mark.django_db, pytest.mark.backend_independent("postgresql")]


def test_a_message_delivered_during_idle_is_imported_at_once(
    imap, mailbox, citizen, dovecot, monkeypatch
):
    def deliver_later():
        other = IMAPClient(dovecot["host"], port=dovecot["port"], ssl=False, timeout=10)
        other.login(IMAP_LOGIN, IMAP_PASSWORD)
        other.append("INBOX", compose(subject="Arrivé pendant l'attente"))
        other.logout()

    timers: list[threading.Timer] = []
    original = IMAPClient.idle

    def idle_then_deliver(client):
        result = original(client)
        # Delivered once the channel waits (IMAP only: no database in this thread).
        timers.append(threading.Timer(0.5, deliver_later))
        timers[-1].start()
        return result

    monkeypatch.setattr(IMAPClient, "idle", idle_then_deliver)
    start = time.monotonic()
    call_command("mail_idle", mailbox.address, "--cycles", "1", "--wait", "60")
    for timer in timers:
        timer.join()
    assert time.monotonic() - start < 45  # woken by the server, not by the end of the wait
    assert Case.objects.get().subject == "Arrivé pendant l'attente"
