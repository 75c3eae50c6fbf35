"""Debian's Firefox ESR driven over WebDriver BiDi, the W3C protocol Firefox speaks natively.

Playwright drives only its own patched Firefox build (which the project never downloads), and
geckodriver is packaged neither by Debian nor on the registries the project uses. Firefox itself
serves WebDriver BiDi when started with ``--remote-debugging-port``: this module starts
``firefox-esr --headless`` on a throw-away profile, reads the address it prints
("WebDriver BiDi listening on ws://…"), opens a session on ``ws://…/session`` and sends the
protocol's commands as JSON over that websocket (``websockets``' synchronous client, which keeps
no event loop in the test's thread: Playwright's sync API in the same test is unaffected).

What the tests need and no more: navigate, evaluate a script (promises awaited), wait for a
condition, click an element and type text with real input actions (``input.performActions``:
trusted events, the page gets user activation), and the page's console errors
(``log.entryAdded``). Camera and microphone are Firefox's fake devices (a test pattern and a
tone), granted without a prompt, through the profile's preferences.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

FIREFOX = os.environ.get("FIREFOX_PATH", "/usr/bin/firefox-esr")

PREFS = {
    # Fake camera and microphone, no permission prompt.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # Media and Web Audio may play without a click first (the remote video element). On a machine
    # without a sound output (CI) an AudioContext stays "suspended" all the same.
    "media.autoplay.default": 0,
    "media.autoplay.block-webaudio": False,
    # Both browsers run on this machine: host candidates as plain addresses, loopback included.
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    # Nothing from the network but the test server.
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.startup.homepage": "about:blank",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "intl.accept_languages": "fr-FR, fr",
}
ENTER = "\ue007"
LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")


class BiDiError(AssertionError):
    pass


def _value(remote: dict) -> Any:
    """A BiDi remote value as Python (primitives, arrays and plain objects)."""
    kind = remote.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        value = remote["value"]
        return float(value) if isinstance(value, str) else value  # NaN, Infinity
    if kind == "array":
        return [_value(item) for item in remote.get("value", [])]
    if kind == "object":
        return {key: _value(item) for key, item in remote.get("value", [])}
    return remote  # a node, a function…: its remote reference


class Firefox:
    """One headless Firefox ESR and one tab, driven over WebDriver BiDi."""

    def __init__(self, base_url: str, timeout: float = 15.0):
        if not Path(FIREFOX).exists():
            raise AssertionError(f"Firefox not found at {FIREFOX}: run bin/setup --test")
        self.base_url = base_url
        self.timeout = timeout
        self.console_errors: list[str] = []
        self._ids = itertools.count(1)
        self._stack = ExitStack()
        self._tmp = Path(tempfile.mkdtemp(prefix="guichet-firefox-"))
        self._profile = self._tmp / "profile"
        self._profile.mkdir()
        (self._profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
        )
        self.process = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--profile", str(self._profile)]
            + ["--remote-debugging-port=0", "--width=1280", "--height=900", "about:blank"],
            env={**os.environ, "HOME": str(self._tmp)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._output: list[str] = []
        address = self._address()
        # Opened as a context manager, as websockets asks; closed with the stack in close().
        self.socket: ClientConnection = self._stack.enter_context(
            connect(address + "/session", max_size=None, proxy=None)
        )
        self.command("session.new", {"capabilities": {}})
        tree = self.command("browsingContext.getTree", {"maxDepth": 0})
        self.context = tree["contexts"][0]["context"]
        self.command("session.subscribe", {"events": ["log.entryAdded"]})

    def _address(self) -> str:
        """The websocket address Firefox prints once it listens (it picks a free port)."""
        found: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:  # read to the end: a full pipe would block Firefox
                self._output.append(line)
                match = LISTENING.search(line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or not found:
            self.close()
            raise AssertionError("Firefox did not start WebDriver BiDi:\n" + "".join(self._output))
        return found[0]

    # --- the protocol -----------------------------------------------------------------------
    def command(self, method: str, params: dict, timeout: float | None = None) -> dict:
        ident = next(self._ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + (timeout or self.timeout) + 5
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BiDiError(f"{method}: no answer")
            message = json.loads(self.socket.recv(timeout=left))
            if message.get("type") == "event":
                self._event(message)
            elif message.get("id") == ident:
                if message.get("type") == "error":
                    raise BiDiError(f"{method}: {message['error']}: {message.get('message')}")
                return message["result"]

    def _event(self, message: dict) -> None:
        if message["method"] != "log.entryAdded":
            return
        entry = message["params"]
        if entry.get("level") == "error":
            where = (entry.get("source") or {}).get("realm", "")
            self.console_errors.append(f"{entry.get('type')}: {entry.get('text')} {where}".strip())

    # --- what the tests use ------------------------------------------------------------------
    def goto(self, path: str) -> None:
        url = path if "://" in path else self.base_url + path
        self.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def evaluate(self, expression: str, *, own: bool = False) -> Any:
        """Run ``expression`` in the page (a promise is awaited); its value as Python."""
        result = self.command(
            "script.evaluate",
            {
                "expression": expression,
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "root" if own else "none",
                "userActivation": False,
            },
        )
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise BiDiError(f"{expression!r} threw: {details.get('text')}")
        return result["result"] if own else _value(result["result"])

    def wait_for(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate ``expression`` until it is truthy (a page being replaced is retried)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except BiDiError as error:  # e.g. evaluated while a new page replaces the old one
                last = error
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"still false after {timeout or self.timeout} s: {expression}: {last}")

    def text(self, selector: str) -> str:
        return self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")

    def attribute(self, selector: str, name: str) -> str | None:
        return self.evaluate(
            f"document.querySelector({json.dumps(selector)}).getAttribute({json.dumps(name)})"
        )

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element (scrolled into view first)."""
        self.wait_for(f"document.querySelector({json.dumps(selector)})")
        node = self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'}); return el; })()",
            own=True,
        )
        origin = {"type": "element", "element": {"sharedId": node["sharedId"]}}
        self.command(
            "input.performActions",
            {
                "context": self.context,
                "actions": [
                    {
                        "type": "pointer",
                        "id": "mouse",
                        "parameters": {"pointerType": "mouse"},
                        "actions": [
                            {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
                            {"type": "pointerDown", "button": 0},
                            {"type": "pointerUp", "button": 0},
                        ],
                    }
                ],
            },
        )

    def type(self, selector: str, text: str) -> None:
        """Click into the field, then type ``text`` key by key (ENTER presses Enter)."""
        self.click(selector)
        keys: list[dict] = []
        for char in text:
            keys += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        self.command(
            "input.performActions",
            {
                "context": self.context,
                "actions": [{"type": "key", "id": "keyboard", "actions": keys}],
            },
        )

    def close(self) -> None:
        try:
            if getattr(self, "socket", None) is not None:
                # Firefox may close the socket before it answers.
                with suppress(BiDiError, ConnectionClosed, TimeoutError):
                    self.command("browser.close", {}, timeout=5)
            self._stack.close()
        finally:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            shutil.rmtree(self._tmp, ignore_errors=True)
