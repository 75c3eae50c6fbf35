"""The voice server: SIP (sippy's transaction manager and user agents) and one thread a call
running the dialogue (voice.ivr).

sippy runs its event loop (``ED2``) in the main thread: SIP messages, timers and the user
agents' state machines live there, and nothing else does (no database access). Each answered
call gets a ``CallSession``, whose thread runs the dialogue (database, speech synthesis) and
talks back to the loop with ``ED2.callFromThread``. RTP is sippy's ``RTPEPoint`` (voice.media),
paced by rtpsynth's C thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from sippy.CCEvents import (
    CCEventConnect,
    CCEventDisconnect,
    CCEventFail,
    CCEventInfo,
    CCEventTry,
    CCEventUpdate,
)
from sippy.Core.EventDispatcher import ED2
from sippy.MsgBody import MsgBody
from sippy.SdpBody import SdpBody
from sippy.SipConf import SipConf
from sippy.SipLogger import SipLogger
from sippy.SipRegistrationAgent import SipRegistrationAgent
from sippy.SipTransactionManager import SipTransactionManager
from sippy.SipURL import SipURL
from sippy.UA import UA

from . import services, tts
from .bridge import AgentLeg
from .ivr import Dialogue, HungUp
from .media import CallMedia
from .models import Call

logger = logging.getLogger("voice.server")

PCMU = 0


class OfferError(Exception):
    pass


ANSWER_DIRECTION = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


def offer_direction(body: Any) -> str:
    """The direction attribute our answer must carry (RFC 3264: hold is a sendonly offer)."""
    for section in body.content.sections:
        for attribute in section.a_headers:
            if attribute.name in ANSWER_DIRECTION:
                return ANSWER_DIRECTION[attribute.name]
    for attribute in body.content.a_headers:
        if attribute.name in ANSWER_DIRECTION:
            return ANSWER_DIRECTION[attribute.name]
    return "sendrecv"


def parse_offer(body: Any) -> tuple[tuple[str, int], int | None]:
    """The caller's SDP offer -> (RTP address, telephone-event payload type or None).
    Only G.711 μ-law (PCMU) is answered."""
    if body is None:
        raise OfferError("no SDP offer")
    body.parse()
    sdp = body.content
    if not isinstance(sdp, SdpBody):
        raise OfferError("not an SDP body")
    for section in sdp.sections:
        media = section.m_header
        if media.stype.lower() != "audio" or media.port == 0:
            continue
        if PCMU not in media.formats:
            raise OfferError("PCMU not offered")
        event_pt = section.getPTbyName("telephone-event/8000")
        return (section.c_header.addr, media.port), event_pt
    raise OfferError("no audio stream")


def answer_sdp(host: str, port: int, event_pt: int | None, direction: str = "sendrecv") -> MsgBody:
    formats = f"{PCMU} {event_pt}" if event_pt is not None else f"{PCMU}"
    lines = [
        "v=0",
        f"o=guichet {int(time.time())} 1 IN IP4 {host}",
        "s=Guichet",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
        "a=rtpmap:0 PCMU/8000",
    ]
    if event_pt is not None:
        lines += [f"a=rtpmap:{event_pt} telephone-event/8000", f"a=fmtp:{event_pt} 0-15"]
    lines += ["a=ptime:20", f"a={direction}"]
    return MsgBody("\r\n".join(lines) + "\r\n")


def parse_info_digit(body: Any) -> str | None:
    """A SIP INFO DTMF (application/dtmf-relay "Signal=5", or application/dtmf "5")."""
    if body is None:
        return None
    text = str(body.content if hasattr(body, "content") else body).strip()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if value and key.strip().lower() == "signal":
            text = value
            break
    digit = text.strip()[:1].upper()
    return digit if digit and digit in "0123456789*#ABCD" else None


class CallSession:
    """One call: its user agent (loop thread) and its dialogue (own thread)."""

    def __init__(self, server: VoiceServer) -> None:
        self.server = server
        self.ua = UA(server.global_config, event_cb=self.recv_event)
        self.media: CallMedia | None = None
        self.digits: queue.Queue[str] = queue.Queue()
        self.stop = threading.Event()  # set on a key press or a hang-up: the prompt stops
        self.hung_up = threading.Event()
        self.hung_up_during_prompt = False  # the caller left before the end of a message
        self.sip_call_id = ""
        self.caller = ""
        self.called = ""

    # --- SIP side (event loop thread) ---
    def recv_event(self, event: Any, ua: Any) -> None:
        if isinstance(event, CCEventTry):
            self.on_invite(event)
        elif isinstance(event, CCEventUpdate):
            self.on_reinvite(event)
        elif isinstance(event, CCEventInfo):
            digit = parse_info_digit(event.getData())
            if digit:
                self.on_digit(digit)
        elif isinstance(event, CCEventDisconnect | CCEventFail):
            self.on_hangup()

    def on_invite(self, event: CCEventTry) -> None:
        call_id, caller, called, body, _auth, _name = event.getData()
        self.sip_call_id, self.caller, self.called = str(call_id), caller or "", called or ""
        try:
            remote, event_pt = parse_offer(body)
            self.media = CallMedia(
                remote,
                event_pt=event_pt,
                on_digit=self.on_digit,
                port_range=self.server.rtp_ports,
                local_host=self.server.public_host,
            )
        except OfferError as exc:
            logger.warning("call %s refused: %s", self.sip_call_id, exc)
            self.ua.recvEvent(CCEventFail((488, "Not Acceptable Here")))
            return
        logger.info("call %s: RTP %s:%s, telephone-event %s", self.sip_call_id, *remote, event_pt)
        answer = answer_sdp(self.server.public_host, self.media.local_port, event_pt)
        self.ua.recvEvent(CCEventConnect((200, "OK", answer)))
        threading.Thread(
            target=self.run_dialogue, name=f"call-{self.sip_call_id[:12]}", daemon=True
        ).start()

    def on_reinvite(self, event: CCEventUpdate) -> None:
        """A re-INVITE (hold, resume, new address): follow the new RTP address, answer with
        the same port and codecs. Prompts keep playing (to nobody while on hold)."""
        if self.media is None:
            self.ua.recvEvent(CCEventFail((488, "Not Acceptable Here")))
            return
        try:
            remote, event_pt = parse_offer(event.getData())
        except OfferError as exc:
            logger.warning("call %s: re-INVITE refused: %s", self.sip_call_id, exc)
            self.ua.recvEvent(CCEventFail((488, "Not Acceptable Here")))
            return
        self.media.retarget(remote)
        direction = offer_direction(event.getData())
        answer = answer_sdp(self.server.public_host, self.media.local_port, event_pt, direction)
        self.ua.recvEvent(CCEventConnect((200, "OK", answer)))

    def on_digit(self, digit: str) -> None:  # loop thread (INFO) or RTP thread (RFC 4733)
        self.digits.put(digit)
        self.stop.set()

    def on_hangup(self) -> None:
        self.hung_up.set()
        self.stop.set()

    # --- Line, for the dialogue (call thread) ---
    @staticmethod
    def release_connection() -> None:
        """Give the call thread's database connection back (to the pool, docs/operations.md,
        "Database connections") before waiting on the line: a call lasts minutes and the pool
        has a few connections for every call of the server. Never inside a transaction."""
        if not connection.in_atomic_block:
            close_old_connections()

    def say(self, text: str, audio: bytes | None = None) -> bool:
        self.release_connection()
        if audio is None:
            audio = tts.synthesise(text)
        # Cleared before looking at the keys and the line: a key or a hang-up that arrives
        # after this point sets it again and stops the prompt.
        self.stop.clear()
        self.check()
        if not self.digits.empty():
            return False
        assert self.media is not None
        done = self.media.play(audio, self.stop)
        if not done and self.hung_up.is_set():
            self.hung_up_during_prompt = True
        self.check()
        return done

    def next_digit(self, timeout: float) -> str | None:
        self.release_connection()
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                return self.digits.get(timeout=min(remaining, 0.25))
            except queue.Empty:
                continue

    def flush_digits(self) -> None:
        while True:
            try:
                self.digits.get_nowait()
            except queue.Empty:
                return

    def hangup(self) -> None:
        if not self.hung_up.is_set():
            self.hung_up.set()
            ED2.callFromThread(self.ua.recvEvent, CCEventDisconnect())

    def check(self) -> None:
        if self.hung_up.is_set():
            raise HungUp

    def hear(self, consumer: Any) -> None:
        """Pass the caller's voice to ``consumer`` (the callbot's capture)."""
        assert self.media is not None
        self.media.hear(consumer)

    def ring(self, extension: str) -> AgentLeg:
        """Ring an agent's phone: the second leg of the call (voice.bridge)."""
        self.release_connection()
        leg = AgentLeg(self, extension, self.caller)
        leg.dial()
        return leg

    def bridge(self, leg: AgentLeg) -> None:
        self.release_connection()
        assert self.media is not None
        leg.bridge(self.media)

    def run_dialogue(self) -> None:
        call: Call | None = None
        try:
            call = services.start_call(self.sip_call_id, self.caller, self.called)
            Dialogue(self, call).run()
        except HungUp:
            if call is not None:
                services.record_step(
                    call, "hangup", call.position, during_prompt=self.hung_up_during_prompt
                )
                services.end_call(
                    call, Call.EndedBy.CALLER, during_prompt=self.hung_up_during_prompt
                )
        except Exception:
            logger.exception("call %s failed", self.sip_call_id)
            if call is not None:
                services.end_call(call, Call.EndedBy.SERVER)
            self.hangup()
        finally:
            if self.media is not None:
                self.media.close()
            close_old_connections()


class VoiceServer:
    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        public_host: str | None = None,
    ) -> None:
        self.host = host or settings.VOICE_SIP_HOST
        self.port = port or settings.VOICE_SIP_PORT
        self.public_host = public_host or settings.VOICE_PUBLIC_HOST or self.host
        self.rtp_ports = (settings.VOICE_RTP_PORT_MIN, settings.VOICE_RTP_PORT_MAX)
        SipConf.my_uaname = "Guichet voice server"
        SipConf.allow_formats = (PCMU, 101)
        self.global_config: dict[str, Any] = {
            "_sip_address": self.host,
            "_sip_port": self.port,
            "_sip_logger": SipLogger("guichet-voice"),
        }
        self.registration: SipRegistrationAgent | None = None

    def start(self) -> None:
        self.global_config["_sip_tm"] = SipTransactionManager(self.global_config, self.recv_request)
        if settings.VOICE_REGISTRAR:
            self.register()

    def register(self) -> None:
        """Register to the SIP trunk / IPBX named by VOICE_REGISTRAR ("host[:port]")."""
        host, _, port = settings.VOICE_REGISTRAR.partition(":")
        user = settings.VOICE_SIP_USER
        aor = SipURL(f"sip:{user}@{host}")
        contact = SipURL(f"sip:{user}@{self.public_host}:{self.port}")
        self.registration = SipRegistrationAgent(
            self.global_config,
            aor,
            contact,
            user=user,
            passw=settings.VOICE_SIP_PASSWORD,
            exp=settings.VOICE_REGISTER_EXPIRES,
            rok_cb=lambda *args: logger.info("registered to %s", settings.VOICE_REGISTRAR),
            rfail_cb=lambda *args: logger.warning("registration failed: %s", args),
            target=((host, int(port or 5060)), "udp"),
        )
        self.registration.doregister()

    def recv_request(self, req: Any, sip_t: Any) -> Any:
        method = req.getMethod()
        if req.getHFBody("to").getTag() is not None:
            return (req.genResponse(481, "Call Leg/Transaction Does Not Exist"), None, None)
        if method == "INVITE":
            return CallSession(self).ua.recvRequest(req, sip_t)
        if method == "OPTIONS":
            return (req.genResponse(200, "OK"), None, None)
        return (req.genResponse(501, "Not Implemented"), None, None)

    def run(self) -> None:
        self.start()
        ED2.loop()

    def stop(self) -> None:
        ED2.callFromThread(ED2.breakLoop)
