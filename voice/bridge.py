"""The agent's leg of a call: the voice server rings the agent's phone (a SIP INVITE from a
second sippy ``UA``, the B2BUA's outgoing half) and, once it answers, relays the audio between
the caller's RTP endpoint and the agent's (docs/voice.md, "To an agent").

Both legs are G.711 μ-law RTP endpoints of the voice server (voice.media): what one receives
is decoded by sippy's jitter buffer (100 ms chunks) and queued on the other's paced output, so
each side keeps one RTP stream (one SSRC, sequence and timestamps) whatever happened before
(prompts, hold). The SIP side lives in sippy's event loop thread like the caller's; the call's
thread waits on the events set here."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from sippy.CCEvents import (
    CCEventConnect,
    CCEventDisconnect,
    CCEventFail,
    CCEventRing,
    CCEventTry,
)
from sippy.Core.EventDispatcher import ED2
from sippy.MsgBody import MsgBody
from sippy.SipAddress import SipAddress
from sippy.SipContact import SipContact
from sippy.SipURL import SipURL
from sippy.UA import UA

from .media import CallMedia

if TYPE_CHECKING:
    from .server import CallSession

logger = logging.getLogger("voice.bridge")


def sip_target(extension: str) -> tuple[str, str, int]:
    """An agent's ``sip_extension`` -> (user, host, port). A SIP URI is dialled as is; a bare
    extension ("1001") at the registrar the voice server registers to (the IPBX)."""
    extension = extension.strip()
    if extension.startswith(("sip:", "sips:")):
        url = SipURL(extension)
        return str(url.username or ""), str(url.host), int(url.port or 5060)
    host, _, port = (settings.VOICE_REGISTRAR or "").partition(":")
    if not host:
        raise ValueError("a bare extension needs VOICE_REGISTRAR")
    return extension, host, int(port or 5060)


def offer_sdp(host: str, port: int) -> MsgBody:
    lines = [
        "v=0",
        f"o=guichet {int(time.time())} 1 IN IP4 {host}",
        "s=Guichet",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return MsgBody("\r\n".join(lines) + "\r\n")


class AgentLeg:
    """The outgoing call to one agent's phone."""

    def __init__(self, session: CallSession, extension: str, caller_id: str) -> None:
        self.session = session
        self.server = session.server
        self.user, self.host, self.port = sip_target(extension)
        self.caller_id = caller_id or "guichet"
        self.ringing = threading.Event()
        self.answered = threading.Event()
        self.ended = threading.Event()
        self.held = threading.Event()
        self.status = ""  # the final answer when the phone did not answer ("486 Busy Here")
        self.ua: UA | None = None
        self.media = CallMedia(
            None,
            event_pt=None,
            on_digit=lambda digit: None,
            port_range=self.server.rtp_ports,
            local_host=self.server.public_host,
        )

    # --- loop thread ---
    def start(self) -> None:
        self.ua = UA(
            self.server.global_config,
            event_cb=self.recv_event,
            nh_address=(self.host, self.port),
        )
        contact = SipURL(
            username=self.caller_id, host=self.server.public_host, port=self.server.port
        )
        self.ua.lContact = SipContact(address=SipAddress(url=contact))
        body = offer_sdp(self.server.public_host, self.media.local_port)
        self.ua.recvEvent(CCEventTry((None, self.caller_id, self.user, body, None, "Guichet")))

    def recv_event(self, event: Any, ua: Any) -> None:
        from .server import OfferError, parse_offer

        if isinstance(event, CCEventRing):
            self.ringing.set()
        elif isinstance(event, CCEventConnect):
            _code, _reason, body = event.getData()
            try:
                remote, _event_pt = parse_offer(body)
            except OfferError as exc:
                logger.warning("agent's phone answered without PCMU: %s", exc)
                self.status = "488"
                self.ua_disconnect()
                self.ended.set()
                return
            self.media.retarget(remote)
            self.answered.set()
        elif isinstance(event, CCEventFail):
            data = event.getData() or ()
            self.status = " ".join(str(part) for part in data[:2])
            self.ended.set()
        elif isinstance(event, CCEventDisconnect):
            self.ended.set()

    def ua_disconnect(self) -> None:
        if self.ua is not None:
            self.ua.recvEvent(CCEventDisconnect())

    # --- call thread ---
    def dial(self) -> None:
        ED2.callFromThread(self.start)

    def wait_answer(self, timeout: float, check: Callable[[], None]) -> bool:
        """Wait until the phone answers (True), fails or ``timeout`` passes (False: the
        ringing is cancelled). ``check`` raises when the caller hangs up meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check()
            if self.answered.wait(0.1):
                return True
            if self.ended.is_set():
                return False
        self.status = self.status or "timeout"
        self.hangup()
        return False

    def ended_now(self) -> bool:
        return self.ended.is_set()

    def bridge(self, caller: CallMedia) -> None:
        """Relay the audio both ways between the caller and the agent (not while held)."""
        caller.hear(self.to_agent)
        self.media.hear(lambda chunk: None if self.held.is_set() else caller.forward(chunk))

    def to_agent(self, chunk: Any) -> None:
        if not self.held.is_set():
            self.media.forward(chunk)

    def hold(self, held: bool) -> None:
        """Stop (or restart) the relay: on hold, the caller hears the hold music the call's
        thread plays and the agent hears nothing."""
        if held:
            self.held.set()
        else:
            self.held.clear()

    def hangup(self) -> None:
        if not self.ended.is_set():
            self.ended.set()
            ED2.callFromThread(self.ua_disconnect)

    def close(self) -> None:
        self.hangup()
        self.media.close()
