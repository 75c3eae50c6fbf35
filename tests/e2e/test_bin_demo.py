"""bin/demo from start to serving: the demo logins are the last lines printed, after the
server's start-up lines and the loading output; the server really answers."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from .conftest import DEMO, ROOT, _free_port


def test_bin_demo_prints_the_logins_last_once_the_server_answers():
    tmp = Path(tempfile.mkdtemp(prefix="guichet-demo-"))
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'demo.sqlite3'}",
        "MEDIA_ROOT": str(tmp / "private"),
        "PORT": str(port),
    }
    for name in ("REDIS_URL", "TEST_DB_NAME", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)
    log = (tmp / "out.log").open("w+")
    process = subprocess.Popen(
        ["bin/demo"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 150
        output = ""
        while time.monotonic() < deadline and "Ouvrez http" not in output:
            assert process.poll() is None, f"bin/demo stopped:\n{output[-3000:]}"
            time.sleep(1)
            output = (tmp / "out.log").read_text(errors="replace")
        assert "Ouvrez http" in output, f"no logins after 150 s:\n{output[-3000:]}"
        time.sleep(2)  # anything printed right after the logins would show now
        output = (tmp / "out.log").read_text(errors="replace")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion/", timeout=10) as page:
            assert page.status == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    lines = [line for line in output.splitlines() if line.strip()]
    logins = next(i for i, line in enumerate(lines) if "Identifiants" in line)
    # After the loading output and the server's start-up lines...
    assert any("Démo chargée" in line for line in lines[:logins])
    assert any(f"127.0.0.1:{port}" in line for line in lines[:logins]), lines[:logins]
    # ... and nothing after them but the logins themselves, printed once.
    tail = lines[logins:]
    assert sum("Identifiants" in line for line in lines) == 1
    assert DEMO.citizen in " ".join(tail) and DEMO.supervisor in " ".join(tail)
    assert tail[-1] == f"Ouvrez http://127.0.0.1:{port}/", tail
