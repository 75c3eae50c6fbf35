"""Simultaneous calls against the voice server, driven through its menu by a load generator on
loopback that is not Guichet's code: raw SIP (UDP) and RTP sockets in this file.

For each N of the sweep: start N calls (INVITE with a PCMU + telephone-event offer, ACK), listen
to the server's 20 ms RTP packets, press 2 (RFC 4733 event packets) once the menu is being
read, hold the call, hang up (BYE). Reports per N:

- calls held: calls answered 200 OK and still receiving audio at the end;
- p50/p99/max lateness of the server's packets: the kernel's receive time of each PCMU packet
  (SO_TIMESTAMPNS, so the generator's own scheduling does not count) minus when it was due,
  i.e. the first packet of its talk spurt plus its RTP timestamp advance at 8 kHz;
- DTMF recognised: calls whose menu path on the server's database is ["2"];
- CPU per call: the voice_server process's CPU time (/proc) during the hold, per call, in % of
  one core.

The target is 100 calls with p99 < 10 ms and 100 % DTMF; the sweep goes up until p99 passes
20 ms and prints the highest N below it.

    .venv/bin/python bench/voice_calls.py                  # sweep 25, 50, 100, 125, 150, ...
    .venv/bin/python bench/voice_calls.py --calls 100      # one N only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TE_PT = 101
DIGIT = "2"

SETUP = """
import json
from contactcenter.models import Service
from voice.models import Menu, MenuNode
service = Service.objects.create(code="bench", name="Service des impôts", phone="+33140000000")
menu = Menu.objects.create(
    service=service, version=1, status="published",
    welcome="Bienvenue au service des impôts.",
)
MenuNode.objects.create(menu=menu, digit="1", label="nos adresses", action="message",
    prompt="Nos adresses sont dans votre espace en ligne.")
MenuNode.objects.create(menu=menu, digit="2", label="nos horaires", action="message",
    prompt="Nous sommes ouverts du lundi au vendredi, de 9 heures à 17 heures.")
print(json.dumps(menu.pk))
"""

REPORT = """
import json
from voice.models import Call
print(json.dumps({c.sip_call_id: c.menu_path for c in Call.objects.all()}))
"""


def free_udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


@dataclass
class Leg:
    index: int
    sip: socket.socket
    rtp: socket.socket
    server_sip: int
    call_id: str = ""
    tag: str = ""
    to_tag: str = ""
    remote_rtp: int = 0
    answered: bool = False
    anchor: float | None = None  # kernel time minus RTP time of the current talk spurt
    last_ts: int | None = None
    last_arrival: float = 0.0
    lateness: list[float] = field(default_factory=list)
    last_packet: float = 0.0
    seq: int = field(default_factory=lambda: random.randrange(65536))

    def __post_init__(self) -> None:
        self.call_id = f"bench-{self.index}-{random.getrandbits(48):x}@127.0.0.1"
        self.tag = f"{random.getrandbits(32):x}"

    @property
    def sip_port(self) -> int:
        return self.sip.getsockname()[1]

    @property
    def rtp_port(self) -> int:
        return self.rtp.getsockname()[1]

    def request(self, method: str, cseq: int, body: str = "", *extra: str) -> bytes:
        to = "<sip:+33140000000@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else "")
        lines = [
            f"{method} sip:+33140000000@127.0.0.1:{self.server_sip} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.sip_port};branch=z9hG4bK{random.getrandbits(48):x}",
            "Max-Forwards: 70",
            f"From: <sip:06{self.index:08d}@127.0.0.1>;tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:06{self.index:08d}@127.0.0.1:{self.sip_port}>",
            *extra,
            f"Content-Length: {len(body.encode())}",
            "",
            body,
        ]
        return "\r\n".join(lines).encode()

    def invite(self) -> None:
        sdp = (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.rtp_port} RTP/AVP 0 {TE_PT}\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:{TE_PT} telephone-event/8000\r\na=fmtp:{TE_PT} 0-16\r\na=sendrecv\r\n"
        )
        self.sip.sendto(
            self.request("INVITE", 1, sdp, "Content-Type: application/sdp"),
            ("127.0.0.1", self.server_sip),
        )

    def on_sip(self, data: bytes) -> None:
        text = data.decode(errors="replace")
        first = text.split("\r\n", 1)[0]
        if not first.startswith("SIP/2.0 "):
            return
        status = int(first.split()[1])
        if status < 200 or "INVITE" not in text.split("CSeq:", 1)[1].split("\r\n", 1)[0]:
            return
        for line in text.split("\r\n"):
            if line.lower().startswith(("to:", "t:")) and "tag=" in line:
                self.to_tag = line.split("tag=", 1)[1].split(";")[0].strip()
            if line.startswith("m=audio "):
                self.remote_rtp = int(line.split()[1])
        self.sip.sendto(self.request("ACK", 1), ("127.0.0.1", self.server_sip))
        self.answered = status == 200

    def on_rtp(self, data: bytes, arrival: float) -> None:
        if len(data) < 12 or data[1] & 0x7F != 0:
            return
        marker = bool(data[1] & 0x80)
        ts = struct.unpack("!I", data[4:8])[0]
        offset = arrival - ts / 8000
        gap = arrival - self.last_arrival
        if (
            self.anchor is None
            or marker
            or (self.last_ts is not None and ts - self.last_ts > 160 * 5)
            or gap > 0.2
        ):
            self.anchor = offset  # a new talk spurt
        elif offset < self.anchor:
            self.anchor = offset  # earlier than the spurt's first packet: the new baseline
        else:
            self.lateness.append(offset - self.anchor)
        self.last_ts, self.last_arrival, self.last_packet = ts, arrival, arrival

    def send_digit(self, digit: str) -> None:
        """RFC 4733: three event packets then three end packets, one timestamp."""
        event = "0123456789*#".index(digit)
        ts = random.getrandbits(32)
        ssrc = random.getrandbits(32)
        for number, (end, duration) in enumerate(
            [(False, 400), (False, 800), (False, 1200), (True, 1600), (True, 1600), (True, 1600)]
        ):
            header = struct.pack(
                "!BBHII", 0x80, TE_PT | (0x80 if number == 0 else 0), self.seq, ts, ssrc
            )
            payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
            self.rtp.sendto(header + payload, ("127.0.0.1", self.remote_rtp))
            self.seq = (self.seq + 1) % 65536
            time.sleep(0.001)

    def bye(self) -> None:
        self.sip.sendto(self.request("BYE", 2), ("127.0.0.1", self.server_sip))


def kernel_time(ancdata: list) -> float:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanos = struct.unpack("qq", data[:16])
            return seconds + nanos / 1e9
    return time.time()


class Server:
    def __init__(self, workdir: Path) -> None:
        probe = free_udp()
        self.sip_port = probe.getsockname()[1]
        probe.close()
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "VOICE_SIP_HOST": "127.0.0.1",
            "VOICE_SIP_PORT": str(self.sip_port),
            "VOICE_RTP_PORT_MIN": "41000",
            "VOICE_RTP_PORT_MAX": "42999",
            "VOICE_PROMPT_CACHE": str(workdir / "prompts"),
            "VOICE_DIGIT_TIMEOUT": "8",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("REDIS_URL", None)
        self.manage("migrate", "-v0")
        self.manage("shell", "-c", SETUP)
        self.log_path = workdir / "voice_server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "voice_server"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while b"voice server listening" not in self.log_path.read_bytes():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(self.log_path.read_text(errors="replace"))
            time.sleep(0.2)

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return result.stdout

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def menu_paths(self) -> dict[str, list[str]]:
        return json.loads(self.manage("shell", "-c", REPORT).strip().splitlines()[-1])

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(server: Server, count: int, hold: float, ramp: float) -> dict:
    selector = selectors.DefaultSelector()
    legs = []
    for index in range(count):
        leg = Leg(index, free_udp(), free_udp(), server.sip_port)
        leg.rtp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        leg.rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        selector.register(leg.sip, selectors.EVENT_READ, (leg, "sip"))
        selector.register(leg.rtp, selectors.EVENT_READ, (leg, "rtp"))
        legs.append(leg)
    start = time.monotonic()
    started = 0
    digit_at = start + ramp + 4.0  # the welcome then the menu are being read
    end = start + ramp + hold
    digits_sent = False
    cpu_start = cpu_end = None
    measure_from = start + ramp + 1.0
    while True:
        now = time.monotonic()
        while started < count and now >= start + ramp * started / count:
            legs[started].invite()
            started += 1
        if cpu_start is None and now >= measure_from:
            cpu_start = (server.cpu_seconds(), now)
        if not digits_sent and now >= digit_at:
            for leg in legs:
                if leg.answered:
                    leg.send_digit(DIGIT)
            digits_sent = True
        if now >= end:
            cpu_end = (server.cpu_seconds(), now)
            break
        for key, _mask in selector.select(timeout=0.01):
            leg, kind = key.data
            if kind == "sip":
                leg.on_sip(leg.sip.recv(65536))
            else:
                data, ancdata, _flags, _addr = leg.rtp.recvmsg(2048, socket.CMSG_SPACE(16))
                leg.on_rtp(data, kernel_time(ancdata))
    held = sum(1 for leg in legs if leg.answered and end - leg.last_packet < 1.0)
    for leg in legs:
        if leg.answered:
            leg.bye()
    time.sleep(1.5)
    for leg in legs:
        selector.unregister(leg.sip)
        selector.unregister(leg.rtp)
        leg.sip.close()
        leg.rtp.close()
    paths = server.menu_paths()
    recognised = sum(1 for leg in legs if paths.get(leg.call_id) == [DIGIT])
    lateness = [value for leg in legs for value in leg.lateness]
    assert cpu_start is not None and cpu_end is not None
    cpu = (cpu_end[0] - cpu_start[0]) / (cpu_end[1] - cpu_start[1])
    return {
        "calls": count,
        "held": held,
        "packets": len(lateness),
        "p50_ms": percentile(lateness, 0.50) * 1000,
        "p99_ms": percentile(lateness, 0.99) * 1000,
        "max_ms": max(lateness, default=float("nan")) * 1000,
        "dtmf": recognised,
        "cpu_per_call": 100 * cpu / max(held, 1),
        "cpu_total": 100 * cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, help="one N instead of the sweep")
    parser.add_argument("--hold", type=float, default=12.0, help="seconds each call is held")
    parser.add_argument("--max", type=int, default=400, help="highest N of the sweep")
    args = parser.parse_args()
    sweep = (
        [args.calls]
        if args.calls
        else [n for n in (25, 50, 100, 125, 150, 200, 300, 400) if n <= args.max]
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}, nproc {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            run(server, 1, 8.0, 0.0)  # synthesises and caches the prompts
            print(
                "| Calls | Held | Packets | p50 lateness | p99 lateness | max | DTMF recognised "
                "| CPU per call | voice_server CPU | load avg |"
            )
            print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            best = 0
            for count in sweep:
                row = run(server, count, args.hold, ramp=min(2.0, count / 50))
                print(
                    f"| {count} | {row['held']} | {row['packets']} | {row['p50_ms']:.2f} ms "
                    f"| {row['p99_ms']:.2f} ms | {row['max_ms']:.1f} ms "
                    f"| {row['dtmf']}/{count} | {row['cpu_per_call']:.2f} % "
                    f"| {row['cpu_total']:.0f} % | {os.getloadavg()[0]:.2f} |",
                    flush=True,
                )
                if row["p99_ms"] >= 20 or row["held"] < count:
                    break
                best = count
            print(f"highest N with p99 lateness < 20 ms (and every call held): {best}")
        finally:
            server.close()


if __name__ == "__main__":
    main()
