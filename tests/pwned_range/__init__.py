"""The Pwned Passwords range service for the tests: ``server.py`` in its own process
(:class:`RangeProcess`), over Django's list of common leaked passwords."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


class RangeProcess:
    """``with RangeProcess() as service:`` → ``service.url`` (for PASSWORD_BREACH_RANGE_URL)
    and ``service.requests()`` (what reached it: path and Add-Padding header)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkdtemp(prefix="guichet-pwned-")) / "requests.log"
        self.url = ""

    def __enter__(self) -> RangeProcess:
        self.log.touch()
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), str(self.log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            self.__exit__()
            raise RuntimeError("the range server did not start")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/range/"
        return self

    def requests(self) -> list[tuple[str, str]]:
        lines = self.log.read_text().splitlines()
        return [tuple(line.split("\t", 1)) for line in lines]  # type: ignore[misc]

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None
