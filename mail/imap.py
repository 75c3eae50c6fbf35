"""Reading a mailbox over IMAP (imapclient): fetch what was not imported yet, import each
message, and only then flag it on the server.

A message carries the keyword ``$GuichetImported`` once its case is committed; the search asks
for the messages without it, whether a person read them in a mail client or not
(``BODY.PEEK`` leaves ``\\Seen`` unchanged). A crash between the commit and the flag fetches
the message again next time, and its Message-ID makes the second import a no-op."""

from __future__ import annotations

import logging
import os
import ssl
import time
from dataclasses import dataclass, field

from imapclient import IMAPClient

from knowledge.services import one_index_check

from .models import Mailbox
from .services import import_message

logger = logging.getLogger("mail")

IMPORTED_FLAG = b"$GuichetImported"
FETCH_BATCH = 50
TIMEOUT = 30


class MailboxConfigError(Exception):
    pass


@dataclass
class PollReport:
    fetched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def password(mailbox: Mailbox) -> str:
    value = os.environ.get(mailbox.password_env, "")
    if not value:
        raise MailboxConfigError(
            f"environment variable {mailbox.password_env!r} is not set for {mailbox.address}"
        )
    return value


def connect(mailbox: Mailbox) -> IMAPClient:
    secret = password(mailbox)  # a missing variable is said before any connection
    context = ssl.create_default_context()
    client = IMAPClient(
        mailbox.host,
        port=mailbox.port,
        ssl=mailbox.security == Mailbox.Security.SSL,
        ssl_context=context,
        timeout=TIMEOUT,
    )
    if mailbox.security == Mailbox.Security.STARTTLS:
        client.starttls(context)
    client.login(mailbox.login, secret)
    return client


def mark_imported(client: IMAPClient, uids: list[int]) -> None:
    """Flag messages whose import is committed (never before)."""
    client.add_flags(uids, [IMPORTED_FLAG], silent=True)


def poll(mailbox: Mailbox) -> PollReport:
    """Import every message of the folder that is not flagged as imported yet."""
    report = PollReport()
    client = connect(mailbox)
    try:
        client.select_folder(mailbox.folder)
        uids = sorted(client.search(["NOT", "KEYWORD", IMPORTED_FLAG.decode()]))
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            data = client.fetch(batch, ["BODY.PEEK[]"])
            committed: list[int] = []
            try:
                with one_index_check():  # one knowledge-base state per batch
                    for uid in batch:
                        raw = data.get(uid, {}).get(b"BODY[]")
                        if raw is None:
                            continue  # expunged meanwhile
                        report.fetched += 1
                        result = import_message(mailbox, bytes(raw), uid=uid)
                        report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
                        committed.append(uid)
            finally:
                # Flagged once committed, in one command per batch; a crash before this line
                # fetches them again next time and their Message-IDs make that a no-op.
                if committed:
                    mark_imported(client, committed)
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            logger.debug("IMAP logout failed", exc_info=True)
    return report


def announces_mail(responses: list) -> bool:
    return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)


def wait_idle(client: IMAPClient, wait: int) -> list:
    """One IDLE of up to ``wait`` seconds; the server's responses, those sent while ending it
    included (a message announced between the last check and DONE is not lost).

    A wake-up without a complete response (the socket readable, the line not there yet) keeps
    waiting until the deadline instead of ending the IDLE empty-handed."""
    deadline = time.monotonic() + wait
    responses: list = []
    client.idle()
    try:
        while not responses and (remaining := deadline - time.monotonic()) > 0:
            responses = client.idle_check(timeout=remaining)
    finally:
        _text, remaining_responses = client.idle_done()
    return responses + list(remaining_responses)


def idle(mailbox: Mailbox, *, cycles: int | None = None, wait: int = 300) -> str:
    """Wait for new mail with IMAP IDLE and import it at once (``mail_idle`` command).

    Imports what is there first, then IDLEs for up to ``wait`` seconds at a time (servers drop
    an IDLE after 30 minutes) and polls whenever the server announces a message (``EXISTS``).
    Each import goes through ``mail.tasks.poll_mailbox``: the same lease as the beat's polling,
    which stays the fallback (and the only reader of servers without IDLE). Returns
    "unsupported" when the server has no IDLE, else "done" after ``cycles`` waits."""
    from .tasks import poll_mailbox

    client = connect(mailbox)
    try:
        if not client.has_capability("IDLE"):
            logger.info("%s: no IMAP IDLE, the beat polling reads it", mailbox)
            return "unsupported"
        client.select_folder(mailbox.folder, readonly=True)
        poll_mailbox(mailbox.pk)
        done = 0
        while cycles is None or done < cycles:
            done += 1
            if announces_mail(wait_idle(client, wait)):
                poll_mailbox(mailbox.pk)
        return "done"
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            logger.debug("IMAP logout failed", exc_info=True)
