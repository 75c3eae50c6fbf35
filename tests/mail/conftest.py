"""Real peers for the e-mail channel: a throw-away Dovecot IMAP server on loopback (its own
configuration, mail store and password file in a temporary directory, a high port, no
systemd, every process unprivileged) and an aiosmtpd SMTP receiver in the test process."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

IMAP_LOGIN = "impots@guichet.test"
IMAP_PASSWORD = "mot-de-passe-de-test"
PASSWORD_ENV = "GUICHET_TEST_IMAP_PASSWORD"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dovecot_config(root: Path, port: int, owner: pwd.struct_passwd) -> str:
    """Every Dovecot process runs as ``owner`` (no root, no chroot)."""
    group = grp.getgrgid(owner.pw_gid).gr_name
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = guichet-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%n
first_valid_uid = 0
default_internal_user = {owner.pw_name}
default_login_user = {owner.pw_name}
default_internal_group = {group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={root}/mail/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture(scope="session")
def dovecot():
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        pytest.fail("Dovecot is needed by the mail tests: bin/setup --test installs it")
    # Not under pytest's own temporary directory: Dovecot's unprivileged processes must reach
    # the password file and the mail store.
    root = Path(tempfile.mkdtemp(prefix="guichet-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "passwd").write_text(f"{IMAP_LOGIN}:{{PLAIN}}{IMAP_PASSWORD}\n")
    port = free_port()
    # Run as root (CI), the instance is started as "nobody": nothing of it is privileged.
    owner = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    config = root / "dovecot.conf"
    config.write_text(dovecot_config(root, port, owner))
    command = [binary, "-c", str(config)]
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid)
        command = [
            "setpriv",
            f"--reuid={owner.pw_uid}",
            f"--regid={owner.pw_gid}",
            "--clear-groups",
            *command,
        ]
    subprocess.run(command, check=True, timeout=30)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                pytest.fail(f"Dovecot did not start:\n{log}")
            time.sleep(0.1)
    yield {"host": "127.0.0.1", "port": port, "root": root}
    pid_file = root / "run" / "master.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
    shutil.rmtree(root, ignore_errors=True)


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
