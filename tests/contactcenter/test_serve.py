"""bin/serve starts the production settings from nothing: migrations, static files, uvicorn.
A real HTTP server in a subprocess, on a fresh SQLite file and a fresh STATIC_ROOT."""

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from contactcenter.checks import require_static_manifest

ROOT = Path(__file__).resolve().parents[2]
# bin/serve runs on a SQLite file of its own whatever the phase's database: CI runs it once.
pytestmark = pytest.mark.backend_independent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def production_env(tmp_path, port) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL", "GUICHET_E2E", "TRUSTED_PROXIES"}
    }
    env.update(
        GUICHET_ENV="production",
        SECRET_KEY="serve-test-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "private"),
        PORT=str(port),
        WEB_CONCURRENCY="1",
        LOG_LEVEL="WARNING",
    )
    return env


def test_bin_serve_answers_pages_and_static_files_in_production(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - read back on failure
    server = subprocess.Popen(
        [str(ROOT / "bin" / "serve")],
        cwd=ROOT,
        env=production_env(tmp_path, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    opener = urllib.request.build_opener(NoRedirect())
    # The TLS proxy in front says the request came over HTTPS (no redirect to https://).
    https = {"X-Forwarded-Proto": "https"}

    def get(path, headers=None):
        return opener.open(
            urllib.request.Request(base + path, headers={**https, **(headers or {})})
        )

    try:
        deadline = time.monotonic() + 420  # about 40 s on an idle machine, minutes when loaded
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"bin/serve exited ({server.returncode}):\n{log.read()[-3000:]}")
            try:
                page = get("/connexion/")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"bin/serve did not answer in time:\n{log.read()[-3000:]}")
                time.sleep(0.5)
        assert page.status == 200
        html = page.read().decode()
        assert (tmp_path / "static" / "staticfiles.json").exists()
        # Pages link the hashed copies, and whitenoise serves them.
        css = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', html)
        assert css, "no hashed stylesheet in the page"
        static = get(css.group(1))
        assert static.status == 200
        assert "text/css" in static.headers["Content-Type"]

        # uvicorn does not believe X-Forwarded-For from 127.0.0.1 (no TRUSTED_PROXIES): five
        # failures with a different forged address each still lock this login here.
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        # The CSRF cookie is Secure: the client sends it by hand over this plain-HTTP hop.
        cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": "x@example.fr", "password": "mauvais"}
        ).encode()
        statuses = []
        for i in range(6):
            request = urllib.request.Request(
                base + "/connexion/",
                data=body,
                headers={
                    **https,
                    "Origin": f"https://127.0.0.1:{port}",
                    "Cookie": f"csrftoken={cookie}",
                    "X-Forwarded-For": f"203.0.113.{i}",
                },
            )
            try:
                statuses.append(opener.open(request).status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        assert statuses == [200, 200, 200, 200, 429, 429]

        # Websockets: a browser offers permessage-deflate; bin/serve refuses it (each socket
        # would hold zlib contexts of ~300 KiB: bench/RESULTS.md, chat_load.py).
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(
            f"ws://127.0.0.1:{port}/ws/tchat/agent/",
            origin=f"https://127.0.0.1:{port}",
            compression="deflate",
            open_timeout=30,
        ) as ws:
            assert ws.response.status_code == 101
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            assert ws.protocol.extensions == []
            with pytest.raises(ConnectionClosed) as closed:  # reached the consumer: anonymous
                ws.recv(timeout=30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

        # The process built the chatbot's engine at start (KNOWLEDGE_WARM_UP, on in
        # production) and then says it is ready; no error on the way.
        for _ in range(240):
            try:
                ready = get("/health/ready")
                break
            except urllib.error.HTTPError as error:
                assert error.code == 503 and json.load(error)["failed"] == ["knowledge"]
                time.sleep(0.5)
        else:
            pytest.fail("not ready 120 s after start")
        assert ready.status == 200
        log.seek(0)
        assert "warm-up failed" not in log.read()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
        log.close()


def test_production_start_refuses_without_collected_static_files(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="collectstatic --noinput"):
        require_static_manifest()
    (tmp_path / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')
    require_static_manifest()
