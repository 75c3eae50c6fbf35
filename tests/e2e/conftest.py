"""Real-browser harness: a real ASGI server (uvicorn) on a fresh database loaded with the demo,
driven by Playwright on Debian's Chromium. Every page a test visits is checked with axe-core.

Fixtures:
- ``e2e_server``: the running server (``.url``, ``.manage(*args)``, ``.shell(code) -> str``).
  One per test worker; it uses PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set (its own
  database and channel-layer prefix), else a SQLite file and the in-memory layer.
- ``browser``: a headless Chromium.
- ``new_page(email=None)``: a fresh browser context (French locale, Paris time), logged in as the
  demo person ``email`` when given. The real CSP stays enforced: any CSP violation fails the test
  at the next ``check_a11y``.
- ``check_a11y(page)``: runs axe-core (from npm) in the page and fails on any violation, then
  checks at 320 px wide and at 200 % zoom that no control is cut or overlapped (layout_check.js).
- Every page fails its test at teardown if it logged a console error or an uncaught exception;
  ``expect_console_error(page, pattern)`` declares a deliberate one.
- ``DEMO``: the demo logins (see contactcenter/demo.py).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.db_template import ready_template
from tests.oidc_provider import ProviderProcess, franceconnect_config, proconnect_config
from tests.oidc_provider import environment as oidc_environment

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DEMO_PASSWORD = "Guichet-Demo-2026!"
ASR_MODEL = ROOT / "var" / "asr" / "whisper-base" / "model.bin"


class DEMO:
    citizen = "camille.martin@example.fr"
    citizen2 = "louis.bernard@example.fr"
    citizen3 = "aicha.benali@example.fr"
    agent_fiscalite = "alice.durand@guichet.example.fr"
    agent_fiscalite2 = "marc.petit@guichet.example.fr"
    agent_social = "nadia.leroy@guichet.example.fr"
    agent_social2 = "thomas.moreau@guichet.example.fr"
    supervisor = "sophie.lambert@guichet.example.fr"
    admin = "admin@guichet.example.fr"
    password = DEMO_PASSWORD


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _prepare_database(tmp: Path) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp / 'e2e.sqlite3'}"
    import psycopg

    parsed = urlparse(url)
    name = f"guichet_e2e_{_worker_id()}_{os.getpid()}"
    admin_url = parsed._replace(path="/postgres").geturl()
    # A copy of the run's migrated template when bin/test made one (the server's `migrate`
    # then finds every migration applied), else an empty database that it migrates.
    template = ready_template()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return parsed._replace(path=f"/{name}").geturl()


def _drop_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    parsed = urlparse(url)
    admin_url = parsed._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path[1:]}" WITH (FORCE)')
    except psycopg.Error:
        pass


def _start_oidc_providers(site_url: str) -> dict:
    """FranceConnect-like and ProConnect-like providers (tests/oidc_provider), the demo agent
    of the tax service being the ProConnect agent."""
    started = {}
    try:
        for prefix, config in (
            ("FRANCECONNECT", franceconnect_config([site_url])),
            ("PROCONNECT", proconnect_config([site_url], DEMO.agent_fiscalite)),
        ):
            started[prefix] = ProviderProcess(config).start()
    except BaseException:
        for provider in started.values():
            provider.stop()
        raise
    return started


@dataclass
class E2EServer:
    url: str
    env: dict
    process: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def manage(self, *args: str, input: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def shell(self, code: str) -> str:
        """Run Python in the server's Django (same database); returns what it printed."""
        return self.manage("shell", "--no-startup", "-c", code)

    def shell_json(self, code: str):
        """Run code that assigns ``result``; returns it decoded from JSON."""
        wrapped = code + "\nimport json as _json\nprint('@@' + _json.dumps(result, default=str))"
        out = self.shell(wrapped)
        line = [line for line in out.splitlines() if line.startswith("@@")][-1]
        return json.loads(line[2:])

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def e2e_server():
    tmp = Path(tempfile.mkdtemp(prefix="guichet-e2e-"))
    database_url = _prepare_database(tmp)
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "GUICHET_E2E": "1",
        "SECRET_KEY": "e2e-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "MEDIA_ROOT": str(tmp / "private"),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        # No quiet hours: an SMS alert checked by a test is sent at once, whatever the time.
        "GUICHET_SMS_QUIET_START": "0",
        "GUICHET_SMS_QUIET_END": "0",
        "CHANNEL_LAYER_PREFIX": f"e2e-{_worker_id()}-{os.getpid()}",
        "CACHE_PREFIX": f"e2e-{_worker_id()}-{os.getpid()}",
        # Without Redis, the server and its `manage.py shell` calls share one cache on disk.
        "CACHE_DIR": str(tmp / "cache"),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "PYTHONUNBUFFERED": "1",
        # The dashboard's figures computed at each view: a test that acts and then looks at
        # the dashboard must not be served a snapshot another test's view left (the snapshot
        # itself is tested in tests/dashboard/test_snapshot.py).
        "GUICHET_KPI_LIVE_CACHE_SECONDS": "0",
        # Speech recognition (the visio's automatic captions) when bin/setup --test installed
        # its model: loaded only when a test switches the captions on.
        "GUICHET_ASR_BACKEND": os.environ.get(
            "GUICHET_ASR_BACKEND", "faster-whisper" if ASR_MODEL.is_file() else ""
        ),
    }
    env.pop("TEST_DB_NAME", None)
    # FranceConnect and ProConnect: two real OpenID Connect providers on loopback.
    providers = _start_oidc_providers(env["SITE_URL"])
    for prefix, provider in providers.items():
        env.update(oidc_environment(prefix, provider))
    for args in (["migrate", "--noinput"], ["load_demo"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-4000:]}")
    log_path = tmp / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "contactcenter.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--ws",
            "websockets",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("server did not start in 60 s")
    server = E2EServer(url=f"http://127.0.0.1:{port}", env=env, process=process, log_path=log_path)
    server.extra["oidc"] = providers
    # The knowledge engine is built at the first search (10 to 20 s on a shared 2-CPU machine:
    # the language models load and the demo base's 2,072 example questions are encoded), as a
    # deployment warms it after a restart: built here, so that no test's first question waits.
    with urllib.request.urlopen(f"{server.url}/faq/?q=carte+vitale", timeout=300) as response:
        assert response.status == 200
    yield server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    for provider in providers.values():
        provider.stop()
    _drop_database(database_url)


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run bin/setup --test")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


# The time steps of the demo TOTP key already used, per login: a code is accepted once, so a
# second login in the same 30 s takes the next step's code (the server accepts one step ahead)
# or waits for the clock.
_USED_STEPS: dict[str, int] = {}
# The "remember this browser" cookie of each staff login (accounts.twofactor), set by its first
# login with a code: later logins of the same person skip the code, as in a real browser.
_REMEMBERED: dict[str, dict] = {}
TWO_FACTOR_PATH = "/compte/double-authentification/code/"


def demo_totp(email: str) -> str:
    """A fresh code of the demo staff's TOTP key (contactcenter.demo.DEMO_TOTP_KEY)."""
    import base64

    from django_otp.oath import totp

    from contactcenter.demo import DEMO_TOTP_KEY

    while True:
        now = int(time.time()) // 30
        step = max(_USED_STEPS.get(email, -1) + 1, now)
        if step <= now + 1:
            break
        time.sleep(max(0.1, (now + 1) * 30 - time.time() + 0.1))
    _USED_STEPS[email] = step
    code = totp(base64.b32decode(DEMO_TOTP_KEY), t0=0, step=30, digits=6, drift=step - now)
    return f"{code:06d}"


def login(page, email: str, password: str = DEMO_PASSWORD, remember: bool = True) -> None:
    """Log in with the password, then the demo's second factor when asked (staff)."""
    if remember and email in _REMEMBERED:
        page.context.add_cookies([_REMEMBERED[email]])
    page.goto("/connexion/")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    # Wait for the navigation the click starts (a bare wait_for_load_state would return at once,
    # the login page being loaded already, and the test would act on a page being replaced).
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Se connecter").click()
    if TWO_FACTOR_PATH in page.url:
        page.get_by_label("Code de vérification").fill(demo_totp(email))
        if remember:
            page.get_by_text("Se souvenir de ce navigateur pendant 12 heures").click()
        with page.expect_navigation(wait_until="load"):
            page.locator("main").get_by_role("button", name="Valider").click()
        if TWO_FACTOR_PATH in page.url:
            raise AssertionError(f"second factor refused for {email}")
        if remember:
            for cookie in page.context.cookies():
                if cookie["name"] == "guichet_2fa":
                    _REMEMBERED[email] = cookie
    if "/connexion/" in page.url:
        raise AssertionError(f"login failed for {email}: {page.locator('main').inner_text()}")


@pytest.fixture
def new_page(browser, e2e_server):
    contexts = []
    watched = []

    def factory(email: str | None = None, **context_options):
        options = {
            "base_url": e2e_server.url,
            "locale": "fr-FR",
            "timezone_id": "Europe/Paris",
            "viewport": {"width": 1280, "height": 900},
            **context_options,
        }
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        # Every page of the context, also those a test opens itself, is watched for console errors.
        context.on("page", lambda opened: _watch_console(opened, watched))
        page = context.new_page()
        page.guichet_errors = []  # CSP violations and uncaught errors, checked by check_a11y
        _watch_console(page, watched)

        def on_console(message):
            if message.type == "error" and "Content Security Policy" in message.text:
                page.guichet_errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: page.guichet_errors.append(f"pageerror: {error}"))
        if email:
            login(page, email)
        return page

    yield factory
    # What the pages logged during the test; closing them aborts their requests in flight,
    # which the browser would log too (no user sees a page being closed).
    logged = [(page, list(page.guichet_console_errors)) for page in watched]
    for context in contexts:
        context.close()
    _fail_on_console_errors(logged)


def _watch_console(page, watched: list) -> None:
    """Record every console error and uncaught exception of ``page`` (checked at teardown)."""
    if hasattr(page, "guichet_console_errors"):
        return
    watched.append(page)
    page.guichet_console_errors = []
    page.guichet_expected_errors = []

    def on_console(message):
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            page.guichet_console_errors.append(f"console.error: {message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: page.guichet_console_errors.append(f"pageerror: {error}"))


def expect_console_error(page, pattern: str) -> None:
    """Declare that ``page`` will log an error matching the regular expression ``pattern`` (a
    deliberate 4xx, say): such errors do not fail the test, any other one does."""
    page.guichet_expected_errors.append(re.compile(pattern))


def _fail_on_console_errors(pages) -> None:
    """Any browser console error or uncaught exception fails the test, unless declared with
    ``expect_console_error``."""
    problems = []
    for page, errors in pages:
        expected = getattr(page, "guichet_expected_errors", [])
        for error in errors:
            if not any(pattern.search(error) for pattern in expected):
                problems.append(error)
    assert not problems, "Browser console errors:\n" + "\n".join(problems)


# Shell code that starts a chat test's setup. The browser tests of one xdist worker share one
# server: a test may end with chats still open (the workstation's two, the balancer's with
# Alice), and a chat test after it would meet them (one more chat on the agent's desk, the
# agent at capacity). Ends every chat of Alice's or of the two citizens the tests sign in as,
# takes it off the agent's desk (as if its summary had been sent) and closes its case; the
# setup that includes it recomputes the cached chat availability.
END_LEFT_CHATS = """
from django.db.models import Q
from django.utils import timezone
from chat.models import Conversation
from contactcenter.models import Case
_citizens = ["louis.bernard@example.fr", "camille.martin@example.fr"]
_alice = "alice.durand@guichet.example.fr"
_left = Q(citizen__email__in=_citizens) | Q(agent__email=_alice)
Conversation.objects.filter(_left, status__in=["waiting", "active"]).update(status="ended")
# An ended chat stays on the agent's desk until its summary is sent.
Conversation.objects.filter(_left, summary_sent_at__isnull=True).update(
    summary_sent_at=timezone.now()
)
Case.objects.filter(
    Q(citizen__email__in=_citizens) | Q(assigned_to__email=_alice),
    channel="chat",
).exclude(status="closed").update(status="closed", closed_at=timezone.now())
"""


def set_agent_status(page, value: str) -> None:
    """Change the agent's status from the console's status widget and wait for htmx to swap
    the form the server sent back. The POST's response arrives before the swap: a next
    ``select_option`` made in between would be overwritten by the swapped form, and its
    click would send the old status again."""
    widget = page.locator("#routing-status-widget")
    page.get_by_label("Mon statut").select_option(value)
    before = widget.element_handle()
    with page.expect_response(lambda r: r.request.method == "POST" and "statut" in r.url) as sent:
        page.get_by_role("button", name="Changer de statut").click()
    assert sent.value.ok
    page.wait_for_function("(form) => !form.isConnected", arg=before)


def settle_animations(locator) -> None:
    """Wait (2 s at most) for the finite animations and transitions of ``locator``'s element
    and its descendants: mid-fade, a DSFR modal's text and background blend with the backdrop
    and axe reports their contrast."""
    locator.evaluate(
        """async (element) => {
          const finite = element.getAnimations({subtree: true}).filter(
            (a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity);
          await Promise.race([
            Promise.all(finite.map((a) => a.finished.catch(() => null))),
            new Promise((resolve) => setTimeout(resolve, 2000)),
          ]);
        }"""
    )


def run_axe(page, exclude: list[str] | None = None) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe/axe.min.js")
    options = {"resultTypes": ["violations"]}
    context = {"exclude": [[selector] for selector in (exclude or [])]} if exclude else None
    return page.evaluate(
        "async ([context, options]) => {"
        " const r = await axe.run(context || document, options);"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));"
        "}",
        [context, options],
    )


LAYOUT_CHECK = (Path(__file__).parent / "layout_check.js").read_text()


def layout_problems(page) -> dict[str, list[str]]:
    """Controls cut or overlapped (RGAA 10.4, 10.11; see layout_check.js) at 320 CSS px wide and
    at 200 % zoom, then the viewport is put back. Zooming a window to 200 % halves its CSS
    viewport (a 1280 × 900 window shows a 640 × 450 px layout), which is what is emulated."""
    original = page.viewport_size
    sizes = {
        "320 px": {"width": 320, "height": 640},
        "200 %": {"width": original["width"] // 2, "height": original["height"] // 2},
    }
    found = {}
    try:
        for name, size in sizes.items():
            page.set_viewport_size(size)
            # Let resize handlers and transitions settle before measuring.
            page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            problems = page.evaluate(LAYOUT_CHECK)
            if problems:
                found[name] = problems
    finally:
        page.set_viewport_size(original)
    return found


@pytest.fixture
def check_a11y():
    """Fail on any axe-core violation (RGAA), any control cut or overlapped at 320 px or 200 %
    zoom, or any CSP violation / uncaught error so far."""

    def check(page, exclude: list[str] | None = None, layout: bool = True):
        page.wait_for_load_state("domcontentloaded")
        violations = run_axe(page, exclude)
        problems = []
        for violation in violations:
            problems.append(
                f"[{violation['impact']}] {violation['id']}: {violation['help']}\n    "
                + "\n    ".join(violation["nodes"])
            )
        errors = list(getattr(page, "guichet_errors", []))
        message = ""
        if problems:
            message += f"axe-core violations on {page.url}:\n" + "\n".join(problems)
        if layout:
            for size, found in layout_problems(page).items():
                message += f"\nLayout at {size} on {page.url}:\n    " + "\n    ".join(found)
        if errors:
            message += f"\nBrowser errors on {page.url}:\n" + "\n".join(errors)
        assert not message, message

    return check


@pytest.fixture
def demo():
    return DEMO


@pytest.fixture
def visio_room(e2e_server):
    """A visio room on a new case of Camille's assigned to Alice, deleted afterwards: the case's
    ``reference`` and the ``agent``'s and ``citizen``'s room paths (tests/e2e/visio_helpers.py)."""
    from tests.e2e.visio_helpers import own_room

    with own_room(e2e_server) as paths:
        yield paths
