"""The websockets of a web process started with bin/serve's options (``harness.WS_OPTIONS``:
uvicorn's Sans-I/O websockets implementation, no permessage-deflate), as a browser meets them:
a foreign origin refused at the handshake, the extension refused, application close codes
(4401, 4413) reaching the client, uvicorn's cap on a frame's size (1009), the keepalive pings
(answered: the socket stays; unanswered: closed with 1011), and a socket closed when its session
ends (logout through the channel layer, and the periodic session check). The keepalive runs every
second here (production: uvicorn's 20 s) and the session check too (``WEBSOCKET_SESSION_RECHECK_
SECONDS``); everything else is the production stack. PostgreSQL + Redis (CI's second phase)."""

from __future__ import annotations

import json
import os
import socket
import struct
import time

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin
from websockets.uri import parse_uri

from contactcenter import sockets
from contactcenter.settings import redis_channel_layer
from tests.conftest import session_cookie
from tests.topology import harness

pytestmark = [*harness.needs_production_stack, pytest.mark.timeout(180)]

KEEPALIVE = ("--ws-ping-interval", "1", "--ws-ping-timeout", "1")


@pytest.fixture
def server_env(transactional_db) -> dict[str, str]:
    return harness.server_env(WEBSOCKET_SESSION_RECHECK_SECONDS="1")


@pytest.fixture
def server(server_env):
    started = harness.start(1, env=server_env, options=KEEPALIVE)
    yield started
    started.stop()


def url(server, path: str) -> str:
    return f"ws://127.0.0.1:{server.web['web1'].port}{path}"


def open_socket(server, path: str, session_key: str = "", **kwargs) -> ClientConnection:
    headers = {"Cookie": f"sessionid={session_key}"} if session_key else {}
    return connect(
        url(server, path),
        origin=Origin(server.url),
        additional_headers=headers,
        open_timeout=30,
        **kwargs,
    )


def close_code(ws: ClientConnection, timeout: float = 10.0) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


class RawClient:
    """A client that answers nothing by itself (websockets' Sans-I/O protocol over a socket):
    pings stay unanswered, and it can send a frame header alone."""

    def __init__(self, server, path: str, session_key: str):
        self.protocol = ClientProtocol(parse_uri(url(server, path)), origin=Origin(server.url))
        self.events: list[Request | Response | Frame] = []
        self.sock = socket.create_connection(("127.0.0.1", server.web["web1"].port), timeout=10)
        request = self.protocol.connect()
        request.headers["Cookie"] = f"sessionid={session_key}"
        self.protocol.send_request(request)
        self.sock.sendall(b"".join(self.protocol.data_to_send()))
        response = self.next_event(10.0)
        assert isinstance(response, Response) and response.status_code == 101, response

    def next_event(self, timeout: float) -> Request | Response | Frame | None:
        """The next handshake response or frame, None once the server closed the connection."""
        deadline = time.monotonic() + timeout
        while not self.events:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "nothing from the server in time"
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                return None
            self.protocol.receive_data(data)
            self.events += self.protocol.events_received()
            # Never send what the protocol queued (pongs, the closing handshake's answer).
            self.protocol.data_to_send()
        return self.events.pop(0)

    def frames(self, timeout: float) -> list[Frame]:
        """Every frame until the server closes the connection."""
        seen: list[Frame] = []
        while (event := self.next_event(timeout)) is not None:
            assert isinstance(event, Frame)
            seen.append(event)
        return seen

    def close(self) -> None:
        self.sock.close()


def test_websockets_behave_as_browsers_expect(server, server_env, agent_a, settings):
    key = session_cookie(agent_a)

    # A page of another site may not open a socket with the person's cookie.
    with pytest.raises(InvalidStatus) as refused:
        connect(
            url(server, "/ws/tchat/agent/"),
            origin=Origin("https://evil.example"),
            additional_headers={"Cookie": f"sessionid={key}"},
            open_timeout=30,
        )
    assert refused.value.response.status_code == 403

    # Without a session: accepted, then closed with the application's code.
    with open_socket(server, "/ws/tchat/agent/", compression="deflate") as anonymous:
        assert anonymous.response is not None
        assert "Sec-WebSocket-Extensions" not in anonymous.response.headers
        assert close_code(anonymous) == 4401

    with open_socket(server, "/ws/tchat/agent/", key, compression="deflate") as ws:
        assert ws.protocol.extensions == []
        assert json.loads(ws.recv(timeout=10))["type"] == "desk"
        # Keepalive pings every second, answered by the client: the socket stays open.
        time.sleep(3.5)
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
        # A frame over the chat's size limit: the consumer closes with 4413.
        ws.send(json.dumps({"type": "ping", "pad": "x" * 40_000}))
        assert close_code(ws) == 4413

    # Logout (contactcenter.sockets.on_logged_out) reaches the process through Redis.
    with open_socket(server, "/ws/tchat/agent/", key) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "desk"
        settings.CHANNEL_LAYERS = {
            "default": redis_channel_layer(
                os.environ["REDIS_URL"], server_env["CHANNEL_LAYER_PREFIX"]
            )
        }
        sockets.close_session_sockets(agent_a.pk, key, "logout")
        assert close_code(ws) == sockets.CLOSE_SESSION_ENDED


def test_unanswered_pings_and_oversized_frames_close_the_socket(server, agent_a):
    key = session_cookie(agent_a)
    silent = RawClient(server, "/ws/tchat/agent/", key)
    try:
        frames = silent.frames(timeout=10)
    finally:
        silent.close()
    assert [f.opcode for f in frames if f.opcode != Opcode.TEXT] == [Opcode.PING, Opcode.CLOSE]
    assert silent.protocol.close_rcvd is not None and silent.protocol.close_rcvd.code == 1011

    # A frame announcing more than uvicorn's --ws-max-size (16 MiB): refused on its header.
    big = RawClient(server, "/ws/tchat/agent/", key)
    try:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, 17 * 1024 * 1024) + os.urandom(4)
        big.sock.sendall(header)
        big.frames(timeout=10)
    finally:
        big.close()
    assert big.protocol.close_rcvd is not None and big.protocol.close_rcvd.code == 1009


def test_session_check_closes_the_socket_of_a_changed_password(server, agent_a):
    with open_socket(server, "/ws/tchat/agent/", session_cookie(agent_a)) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "desk"
        # Behind the signals' back: only the periodic check (every second here) can see it.
        type(agent_a).objects.filter(pk=agent_a.pk).update(password="md5$autre$0123456789abcdef")
        assert close_code(ws, timeout=15) == sockets.CLOSE_SESSION_ENDED
