"""Runner of bin/api-contract (see there). Kept out of the test suite: it needs a real server."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PERSONAS = {
    "citizen": "camille.martin@example.fr",
    "agent": "alice.durand@guichet.example.fr",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit code {server.returncode})")
        try:
            requests.get(f"{base}/connexion/", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit("the server did not answer within 60 s")


TWO_FACTOR_PATH = "/compte/double-authentification/code/"


def post_form(session: requests.Session, base: str, path: str, data: dict) -> requests.Response:
    """GET the page for its CSRF token, then POST the form, as a browser does."""
    page = session.get(f"{base}{path}", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise SystemExit(f"no CSRF token on {path}")
    return session.post(
        f"{base}{path}",
        data={**data, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{base}{path}"},
        allow_redirects=False,
        timeout=10,
    )


def login(base: str, email: str, password: str, recovery_code: str) -> requests.Session:
    """Through the real login form; staff then give a recovery code of the demo (the second
    factor, docs/accounts.md)."""
    session = requests.Session()
    answer = post_form(session, base, "/connexion/", {"username": email, "password": password})
    if answer.status_code == 302 and answer.headers["Location"] == TWO_FACTOR_PATH:
        answer = post_form(session, base, TWO_FACTOR_PATH, {"code": recovery_code})
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"login of {email} failed (HTTP {answer.status_code})")
    return session


def run_schemathesis(base: str, persona: str, session: requests.Session, examples: int) -> int:
    """One run with every check. The session cookie is the schema's ``cookieAuth`` (so that
    schemathesis also tries without it); the hooks add the CSRF cookie to unsafe requests."""
    token = session.cookies["csrftoken"]
    config = Path(tempfile.mkdtemp(prefix="guichet-st-")) / "schemathesis.toml"
    config.write_text(
        f'headers = {{ X-CSRFToken = "{token}", Referer = "{base}/" }}\n'
        f"[auth.openapi.cookieAuth]\n"
        f'api_key = "{session.cookies["sessionid"]}"\n'
    )
    command = [
        str(ROOT / ".venv" / "bin" / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{base}/api/schema/?format=json",
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        os.environ.get("API_CONTRACT_SEED", "1"),
        "--warnings",
        "off",
        *sys.argv[1:],
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "api_contract_hooks",
        "PYTHONPATH": str(ROOT / "bin"),
        "API_CONTRACT_CSRF": token,
    }
    print(f"== schemathesis as the {persona}", flush=True)
    try:
        return subprocess.call(command, cwd=ROOT, env=env)
    finally:
        shutil.rmtree(config.parent, ignore_errors=True)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="guichet-contract-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "GUICHET_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "MEDIA_ROOT": str(workdir / "private"),
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            # Schemathesis' own budget, not an attack: the chatbot's throttle would turn most of
            # its requests into (documented) 429s and test nothing.
            "GUICHET_CHATBOT_THROTTLE": "100000/min",
        }
    )
    server = None
    log_path = workdir / "server.log"
    server_log = log_path.open("w")
    try:
        manage = [PYTHON, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        demo = subprocess.run(
            [*manage, "load_demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout
        found = re.search(r"mot de passe commun : (\S+)\)", demo)
        assert found is not None, demo
        password = found.group(1)
        found = re.search(r"un seul usage par compte\) : (\S+)", demo)
        assert found is not None, demo
        recovery_code = found.group(1)

        server = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "uvicorn"),
                "contactcenter.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            # Its request log (every 4xx the fuzzer provokes) would drown the report.
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(base, server)
        # The knowledge engine is built at the first search (10 to 20 s on a shared machine),
        # as a deployment warms it after a restart: built before the fuzzer's first chatbot
        # request, which would otherwise time out.
        requests.get(f"{base}/faq/?q=carte+vitale", timeout=300).raise_for_status()
        examples = int(os.environ.get("API_CONTRACT_EXAMPLES", "20"))
        failed = []
        for persona, email in PERSONAS.items():
            session = login(base, email, password, recovery_code)
            if run_schemathesis(base, persona, session, examples) != 0:
                failed.append(persona)
        if failed:
            server_log.flush()
            errors = [line for line in log_path.read_text().splitlines() if " ERROR " in line]
            print("\n".join(["Server errors:", *errors[-50:]]) if errors else "", file=sys.stderr)
            print(f"API contract: failures as {', '.join(failed)}", file=sys.stderr)
            return 1
        print("API contract: no failure for the citizen and the agent")
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        server_log.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
