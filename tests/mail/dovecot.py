"""A throw-away Dovecot IMAP server on loopback (its own configuration, mail store and password
file in a temporary directory, a high port, no systemd, every process unprivileged), shared by
the mail tests' fixture and ``bench/mail_import.py``."""

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
from dataclasses import dataclass
from pathlib import Path

IMAP_LOGIN = "impots@guichet.test"
IMAP_PASSWORD = "mot-de-passe-de-test"


class DovecotError(RuntimeError):
    pass


@dataclass
class Dovecot:
    host: str
    port: int
    root: Path

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        shutil.rmtree(self.root, ignore_errors=True)


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


def start_dovecot() -> Dovecot:
    """Start an instance and wait until it accepts connections (``DovecotError`` otherwise)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise DovecotError("Dovecot is needed by the mail tests: bin/setup --test installs it")
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
            return Dovecot("127.0.0.1", port, root)
        except OSError:
            if time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise DovecotError(f"Dovecot did not start:\n{log}") from None
            time.sleep(0.1)
