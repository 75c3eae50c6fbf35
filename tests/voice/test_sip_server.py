"""The voice server process on the SIP side, with raw UDP messages: registration to a trunk
with digest authentication, garbled datagrams, OPTIONS, an offer without G.711 μ-law."""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import time
import uuid

import pytest

from tests.voice.process import VoiceServer, free_port

USER, PASSWORD = "guichet", "s3cret"

# One worker runs the module: the registration is the server's first datagram (bin/test's
# loadgroup distribution).
# A real peer: CI runs it in the PostgreSQL phase only (docs/testing.md).
pytestmark = [pytest.mark.xdist_group("voice_sip"), pytest.mark.backend_independent("postgresql")]


@pytest.fixture(scope="module")
def registrar():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", free_port()))
    sock.settimeout(20)
    yield sock
    sock.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, registrar):
    port = registrar.getsockname()[1]
    process = VoiceServer(
        tmp_path_factory.mktemp("voice-sip"),
        {
            "VOICE_REGISTRAR": f"127.0.0.1:{port}",
            "VOICE_SIP_USER": USER,
            "VOICE_SIP_PASSWORD": PASSWORD,
        },
    )
    yield process
    process.close()


def headers(message: str) -> dict[str, str]:
    lines = message.split("\r\n")
    return {
        line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip()
        for line in lines[1:]
        if ":" in line
    }


def reply(request: str, status: str, *extra: str) -> bytes:
    found = headers(request)
    lines = [f"SIP/2.0 {status}"]
    lines += [f"{name}: {found[name]}" for name in ("via", "from", "to", "call-id", "cseq")]
    lines += [*extra, "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SIP digest is MD5)


def test_registers_to_the_trunk_with_digest_authentication(server, registrar):
    data, address = registrar.recvfrom(65535)
    first = data.decode()
    assert first.startswith("REGISTER sip:127.0.0.1 SIP/2.0")
    assert headers(first)["to"] == f"<sip:{USER}@127.0.0.1>"
    assert f"sip:{USER}@127.0.0.1:{server.sip_port}" in headers(first)["contact"]
    registrar.sendto(
        reply(first, "401 Unauthorized", 'WWW-Authenticate: Digest realm="trunk", nonce="n0nce"'),
        address,
    )
    data, address = registrar.recvfrom(65535)
    second = data.decode()
    authorization = headers(second)["authorization"]
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', authorization))
    expected = md5(f"{md5(f'{USER}:trunk:{PASSWORD}')}:n0nce:{md5('REGISTER:' + fields['uri'])}")
    assert fields["username"] == USER and fields["response"] == expected
    registrar.sendto(reply(second, "200 OK", "Expires: 300"), address)


def sip_request(port: int, method: str, body: str = "", *extra: str) -> str:
    call_id = uuid.uuid4().hex
    lines = [
        f"{method} sip:+33140000000@127.0.0.1:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port + 1};branch=z9hG4bK{call_id[:10]};rport",
        "Max-Forwards: 70",
        f"From: <sip:0612345678@127.0.0.1>;tag={call_id[:8]}",
        "To: <sip:+33140000000@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        "Contact: <sip:0612345678@127.0.0.1>",
        *extra,
        f"Content-Length: {len(body.encode())}",
        "",
        body,
    ]
    return "\r\n".join(lines)


def exchange(server, message: bytes) -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        sock.sendto(message, ("127.0.0.1", server.sip_port))
        answers = []
        try:
            while True:
                answers.append(sock.recv(65535).decode())
                if not answers[-1].startswith("SIP/2.0 1"):
                    return answers
        except TimeoutError:
            return answers


def test_garbled_datagrams_are_ignored(server):
    for garbage in (b"\x00\xff" * 50, b"INVITE nonsense\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n"):
        exchange(server, garbage)
    answers = exchange(server, sip_request(server.sip_port, "OPTIONS").encode())
    assert answers and answers[-1].startswith("SIP/2.0 200 OK")
    assert server.process.poll() is None


def test_an_offer_without_pcmu_is_refused(server):
    offer = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    )
    answers = exchange(
        server,
        sip_request(server.sip_port, "INVITE", offer, "Content-Type: application/sdp").encode(),
    )
    assert answers[-1].startswith("SIP/2.0 488")


MENU = """
from contactcenter.models import Service
from voice.models import Menu, MenuNode
service = Service.objects.create(code="caf", name="Allocations", phone="+33140000000")
menu = Menu.objects.create(service=service, version=1, status="published", welcome="Bonjour.")
MenuNode.objects.create(
    menu=menu, digit="2", label="nos horaires", action="message",
    prompt="Nous sommes ouverts le matin.",
)
print("null")
"""


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="bin/setup installs espeak-ng")
def test_sip_info_digits_and_bye(server):
    server.shell(MENU)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.settimeout(5)
    offer = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp.getsockname()[1]} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    )
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    sip.settimeout(5)
    port = sip.getsockname()[1]
    call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    target = ("127.0.0.1", server.sip_port)

    def request(method: str, cseq: int, to_tag: str = "", body: str = "", *extra: str) -> str:
        lines = [
            f"{method} sip:+33140000000@127.0.0.1:{server.sip_port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport",
            "Max-Forwards: 70",
            f"From: <sip:0699999999@127.0.0.1>;tag={tag}",
            "To: <sip:+33140000000@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:0699999999@127.0.0.1:{port}>",
            *extra,
            f"Content-Length: {len(body.encode())}",
            "",
            body,
        ]
        sip.sendto("\r\n".join(lines).encode(), target)
        return method

    def final_response() -> str:
        while True:
            message = sip.recv(65535).decode()
            if message.startswith("SIP/2.0 ") and not message.startswith("SIP/2.0 1"):
                return message

    try:
        request("INVITE", 1, "", offer, "Content-Type: application/sdp")
        ok = final_response()
        assert ok.startswith("SIP/2.0 200"), ok
        assert "telephone-event/8000" in ok
        to_tag = headers(ok)["to"].split("tag=")[1]
        request("ACK", 1, to_tag)
        packet = rtp.recv(2048)
        assert packet[1] & 0x7F == 0 and len(packet) == 12 + 160  # 20 ms of PCMU
        mark = server.wait_log("Pour nos horaires, tapez 2")
        request(
            "INFO",
            2,
            to_tag,
            "Signal=2\r\nDuration=160\r\n",
            "Content-Type: application/dtmf-relay",
        )
        assert final_response().startswith("SIP/2.0 200")
        server.wait_log("Nous sommes ouverts le matin.", after=mark)
        request("BYE", 3, to_tag)
        assert final_response().startswith("SIP/2.0 200")
    finally:
        sip.close()
        rtp.close()
    report = (
        "import json; from voice.models import Call; "
        f"c = Call.objects.get(sip_call_id={call_id!r}); "
        "print(json.dumps([c.ended_by, c.menu_path]))"
    )
    deadline = time.monotonic() + 10
    while server.shell(report)[0] != "caller":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert server.shell(report) == ["caller", ["2"]]
