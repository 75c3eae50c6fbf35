"""The voice server process on the SIP side, with raw UDP messages: registration to a trunk
with digest authentication, garbled datagrams, OPTIONS, an offer without G.711 μ-law."""

from __future__ import annotations

import hashlib
import re
import socket
import uuid

import pytest

from tests.voice.process import VoiceServer, free_port

USER, PASSWORD = "guichet", "s3cret"


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
