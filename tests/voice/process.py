"""The voice server as a process for the tests: its own SQLite database, free SIP and RTP
ports, its own prompt cache, and its log (the prompts it plays) to read."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A SQLite database migrated once per test process (about 20 s), copied for each voice server.
_migrated: Path | None = None


def free_port(*, tls_next: bool = False) -> int:
    """A loopback port free for both UDP and TCP (baresip listens for SIP on both); with
    ``tls_next``, the next port is free for TCP too (baresip listens for SIP over TLS there,
    and fails to start when it is taken)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tls,
            ):
                try:
                    udp.bind(("127.0.0.1", port))
                    if tls_next:
                        tls.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port


def _rtp_slot() -> int:
    """Which hundred RTP ports this test process's voice servers use: one per xdist worker
    ("gw0", "gw1"…), so that two workers never share one (a process id modulo 200 could);
    a test process's servers run one after the other."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:]) % 150
    return 150 + os.getpid() % 50


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup: the pages still in the write-ahead log are copied too."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


class VoiceServer:
    def __init__(
        self,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
        *,
        site_env: dict[str, str] | None = None,
    ) -> None:
        """``site_env``: the environment of a running site (the browser tests' server): the
        voice server shares its database and channel layer instead of a SQLite file of its
        own (its screen-pops reach the site's sockets)."""
        self.workdir = workdir
        self.sip_port = free_port()
        rtp = 30000 + _rtp_slot() * 100
        self.env = {
            **(site_env or os.environ),
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "VOICE_SIP_HOST": "127.0.0.1",
            "VOICE_SIP_PORT": str(self.sip_port),
            "VOICE_RTP_PORT_MIN": str(rtp),
            "VOICE_RTP_PORT_MAX": str(rtp + 99),
            "VOICE_PROMPT_CACHE": str(workdir / "prompts"),
            "VOICE_DIGIT_TIMEOUT": "4",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        if site_env is None:
            self.env.pop("REDIS_URL", None)
            self._migrate(workdir / "db.sqlite3")
        else:
            self.env["DATABASE_URL"] = site_env["DATABASE_URL"]
        self.log_path = workdir / "voice_server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "voice_server"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_log("voice server listening")

    def _migrate(self, database: Path) -> None:
        """Its own database, as ``migrate`` leaves it: the first server of the test process
        migrates it, and keeps a copy that the next ones start from (one ``migrate`` per
        process, as the test databases are; the copy holds the migrations' data too)."""
        global _migrated
        if _migrated is None:
            self.manage("migrate", "-v0")
            folder = Path(tempfile.mkdtemp(prefix="guichet-voice-db-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _copy(database, folder / "migrated.sqlite3")
            _migrated = folder / "migrated.sqlite3"
        else:
            _copy(_migrated, database)

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def shell(self, code: str) -> object:
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, needle: str, timeout: float = 30, after: int = 0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            position = self.text().find(needle, after)
            if position >= 0:
                return position
            assert self.process.poll() is None, self.text()
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not in the voice server's log:\n{self.text()}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
