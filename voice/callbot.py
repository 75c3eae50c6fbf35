"""The callbot (docs/voice.md, "Callbot"): after the welcome, when speech recognition is
configured (contactcenter.speech), the caller says in a few words why they call; their words go
through the chatbot's understanding (knowledge.services: the article, the topic, distress), the
answer is read out and ends with "Cette réponse vous convient-elle ?". After two failures, on
distress, or when the caller says "conseiller" or presses 0, the call goes to an agent
(voice.to_agent) with the transcript on the case and in the screen-pop.

The caller's voice is captured from RTP (voice.media's ``hear``) by the energy-based detector
of contactcenter.speech (``Segmenter``: an utterance starts with 60 ms of sound and ends after
0.8 s of quiet or 8 s in all). Recognition runs in the process's speech worker thread, shared
by the calls and the visio captions (the model uses the CPU one utterance at a time), while the
call's thread keeps watching the keypad and the line."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from contactcenter import speech
from contactcenter.models import User

from . import services
from .ivr import AGENT_KEY, BACK, GOODBYE_SAID, Dialogue, Line

logger = logging.getLogger("voice.callbot")

RATE = 8000  # the line's audio (G.711)
WAIT_SPEECH = 7.0  # seconds the caller has to start speaking
MAX_QUESTIONS = 3  # questions heard before the keypad menu takes over
FAILURES_BEFORE_AGENT = 2  # answers not understood or judged unsuitable
CONFIRM_HINTS = "Oui. Non. Conseiller."  # words the recogniser should expect (French calls)
POSITION = "callbot"


YES = re.compile(r"\b(oui|ouais|voila|exactement|parfait|d'accord|tout a fait|ca me convient)\b")
NO = re.compile(r"\b(non|pas du tout|pas vraiment)\b")
ADVISER = re.compile(r"\b(conseill\w*|agent|humain|quelqu'un|une personne)\b")


class ListeningLine(Line, Protocol):
    def hear(self, consumer: Callable[[Any], None]) -> None:
        """Pass the caller's audio (100 ms chunks of 8 kHz PCM) to ``consumer``."""

    def check(self) -> None:
        """Raise HungUp when the caller has gone."""


def enabled() -> bool:
    """Whether calls start with the callbot: a speech backend configured and loadable."""
    return bool(settings.ASR_BACKEND) and speech.available()


def plain(text: str) -> str:
    """Lower case without accents, for the yes/no/adviser patterns."""
    import unicodedata

    decomposed = unicodedata.normalize("NFD", text.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Capture:
    """One utterance, cut from the caller's audio by ``speech.Segmenter`` (RTP thread -> call
    thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.started = threading.Event()
        self.segmenter = speech.Segmenter(RATE)
        self.utterance = b""

    def __call__(self, chunk: Any) -> None:
        if self.done.is_set():
            return
        if chunk.samplerate != RATE:
            chunk.resample(RATE)
        with self.lock:
            if self.done.is_set():
                return
            utterances = self.segmenter.feed(chunk.audio)
            if utterances:
                self.utterance = utterances[0]
                self.done.set()
            if self.segmenter.started or utterances:
                self.started.set()

    def pcm(self) -> bytes:
        with self.lock:
            return self.utterance


def _recognise(pcm_8k: bytes, hints: str) -> speech.Transcript:
    return speech.transcribe(speech.to_16k(pcm_8k, RATE), "fr", hints)


class Callbot:
    def __init__(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        self.call = dialogue.call
        self.line: ListeningLine = dialogue.line  # type: ignore[assignment]
        self.conversation: int | None = None
        self.user: User | None = None
        self.failures = 0
        self.follow_up: str | None = None  # the next prompt, when an answer asks for more

    def say(self, text: str) -> bool:
        return self.dialogue.say(text, POSITION)

    def run(self) -> str:
        """The callbot's part of the call: ``BACK`` when the keypad menu takes over, else how
        the call ends (as ``Dialogue.menu``)."""
        services.record_step(self.call, "self_service_start", POSITION, kind="callbot")
        prompt = _(
            "Dites-moi en quelques mots l'objet de votre appel. Pour parler à un conseiller, "
            "dites « conseiller » ou tapez 0. Pour le menu des touches, tapez étoile."
        )
        unheard = 0
        for _question in range(MAX_QUESTIONS):
            self.say(prompt)
            heard = self.listen(self.hints())
            if heard is None:
                unheard += 1
                if unheard >= 2:
                    return self.to_menu("silence")
                prompt = _("Je ne vous ai pas entendu. Dites l'objet de votre appel.")
                continue
            if isinstance(heard, str):
                outcome = self.keypad(heard)
                if outcome is not None:
                    return outcome
                return self.to_menu("key")
            outcome = self.understand(heard)
            if outcome is not None:
                return outcome
            prompt = self.follow_up or _("Pouvez-vous reformuler votre demande en quelques mots ?")
            self.follow_up = None
        return self.to_menu("questions")

    def hints(self) -> str:
        """What the recogniser should expect when the caller says what the call is about: the
        menu's words (``Menu.callbot_hints``)."""
        menu = self.call.menu
        return menu.callbot_hints.strip() if menu is not None else ""

    def keypad(self, digit: str) -> str | None:
        if digit == AGENT_KEY:
            return self.dialogue.to_agent("key")
        return None

    def to_menu(self, reason: str) -> str:
        services.record_step(self.call, "callbot_end", POSITION, reason=reason)
        self.line.flush_digits()
        return BACK

    def listen(self, hints: str) -> speech.Transcript | str | None:
        """The caller's next utterance, transcribed; a key pressed instead (its digit); None
        when they said nothing for ``WAIT_SPEECH`` seconds."""
        capture = Capture()
        self.line.hear(capture)
        logger.info("call %s listens", self.call.pk)
        try:
            deadline = time.monotonic() + WAIT_SPEECH
            while not capture.done.is_set():
                digit = self.line.next_digit(0.1)
                if digit is not None:
                    return digit
                if not capture.started.is_set() and time.monotonic() > deadline:
                    return None
        finally:
            self.line.hear(lambda chunk: None)
        future: Future[speech.Transcript] = speech.WORKER.submit(_recognise, capture.pcm(), hints)
        while True:
            self.line.check()  # the caller may hang up while the model works
            try:
                transcript = future.result(timeout=0.1)
            except TimeoutError:
                continue
            logger.info(
                "call %s heard %r (confidence %.2f, %.1f s of audio, %.1f s CPU)",
                self.call.pk,
                transcript.text,
                transcript.confidence,
                transcript.seconds,
                transcript.cpu_seconds,
            )
            return transcript

    def caller(self) -> User:
        if self.user is None:
            if self.call.citizen_id is not None:
                self.user = User.objects.get(pk=self.call.citizen_id)
            else:
                from .unidentified import unidentified_caller

                self.user = unidentified_caller()
        return self.user

    def understand(self, heard: speech.Transcript) -> str | None:
        """Answer what was heard: how the call ends, or None to ask again."""
        from knowledge import services as knowledge

        text = heard.text.strip()
        step: dict[str, Any] = {
            "text": text,
            "confidence": heard.confidence,
            "seconds": heard.seconds,
            "cpu": heard.cpu_seconds,
        }
        if not text:
            services.record_step(self.call, "callbot_heard", POSITION, outcome="unheard", **step)
            self.say(_("Je n'ai pas compris."))
            return self.failed()
        if ADVISER.search(plain(text)):
            services.record_step(self.call, "callbot_heard", POSITION, outcome="handoff", **step)
            return self.dialogue.to_agent("callbot_request")
        try:
            reply = knowledge.post_chatbot_message(self.caller(), text, self.conversation)
        except ValidationError:
            services.record_step(self.call, "callbot_heard", POSITION, outcome="invalid", **step)
            self.say(_("Je n'ai pas compris."))
            return self.failed()
        self.conversation = reply["conversation"]
        article = reply.get("article") or {}
        handoff = reply.get("handoff") or {}
        services.record_step(
            self.call,
            "callbot_heard",
            POSITION,
            outcome=reply["outcome"],
            article=article.get("slug", ""),
            topic=self.topic_id(),
            handoff=handoff.get("reason", ""),
            **step,
        )
        if handoff.get("reason") in ("distress", "request", "failures"):
            if handoff["reason"] == "distress":
                self.say(_("Je comprends que la situation est difficile."))
            return self.dialogue.to_agent(f"callbot_{handoff['reason']}")
        if reply["outcome"] == "smalltalk":  # a greeting alone: answered, then asked again
            self.say(reply["text"])
            return None
        if reply["outcome"] == "redirected" and handoff.get("reason") == "subject":
            # Ours, but only an adviser can answer (the web message speaks of writing to us).
            self.say(_("Un conseiller va vous répondre sur ce sujet."))
            return self.dialogue.to_agent("callbot_subject")
        if reply["outcome"] == "redirected":
            # Another administration's subject: the message names it; not a failure.
            self.say(reply["text"])
            self.follow_up = _("Avez-vous une autre question ?")
            return None
        if not article:
            self.say(_("Je ne suis pas sûr d'avoir compris votre demande."))
            return self.failed()
        self.say(
            _("Voici ce que je peux vous dire. %(title)s. %(summary)s")
            % {"title": article["title"], "summary": article["summary"]}
        )
        if handoff.get("reason") == "escalate":
            self.say(_("Pour votre situation, un conseiller va examiner votre dossier."))
            return self.dialogue.to_agent("callbot_escalate")
        return self.confirm(reply["turn"])

    def failed(self) -> str | None:
        """A failure (not understood, or a "no"): the second one hands the call to an agent."""
        self.failures += 1
        if self.failures >= FAILURES_BEFORE_AGENT:
            return self.dialogue.to_agent("callbot_failures")
        return None

    def topic_id(self) -> int | None:
        from knowledge import services as knowledge

        if self.conversation is None:
            return None
        try:
            conversation = knowledge.get_conversation(self.caller(), self.conversation)
        except Exception:  # noqa: BLE001 - the topic is only a routing hint
            return None
        return conversation.topic_id

    def confirm(self, turn: int) -> str | None:
        """ "Cette réponse vous convient-elle ?": yes ends the callbot (satisfaction then
        goodbye), no counts as a failure (two: an agent), an adviser asked for: an agent."""
        from knowledge import services as knowledge

        question = _(
            "Cette réponse vous convient-elle ? Dites oui ou non, ou tapez 1 pour oui, 2 pour non."
        )
        for _attempt in range(2):
            self.say(question)
            heard = self.listen(CONFIRM_HINTS)
            if heard is None:
                continue
            if isinstance(heard, str):
                answer = {"1": "yes", "2": "no", AGENT_KEY: "adviser"}.get(heard, "")
                text = ""
            else:
                text = plain(heard.text)
                answer = (
                    "adviser"
                    if ADVISER.search(text)
                    else "no"
                    if NO.search(text)
                    else "yes"
                    if YES.search(text)
                    else ""
                )
            data = {"answer": answer}
            if isinstance(heard, str):
                data["key"] = heard
            else:
                data["text"] = heard.text
            services.record_step(self.call, "callbot_confirm", POSITION, **data)
            if answer == "adviser":
                return self.dialogue.to_agent("callbot_request")
            if answer == "yes":
                knowledge.rate_turn(self.caller(), turn, 1)
                self.dialogue.self_service_done("callbot", completed=True)
                self.dialogue.satisfaction(POSITION)
                self.say(_("Merci de votre appel. Au revoir."))
                return GOODBYE_SAID
            if answer == "no":
                knowledge.rate_turn(self.caller(), turn, -1)
                return self.failed()
            self.say(_("Je n'ai pas compris."))
        return None
