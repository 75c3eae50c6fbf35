"""The dialogue of a call (interactive voice response): welcome, the service's menu tree,
the self-service steps. It runs in the call's own thread and talks to the caller through a
``Line`` (voice.server's SIP/RTP session), so it reads as a script; a hang-up at any moment
raises ``HungUp`` out of whatever the script was doing."""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from . import documents, services
from .models import Call, MenuNode

logger = logging.getLogger("voice.ivr")

MAX_REPEATS = 2  # a menu is read again twice without answer, then the call ends
MAX_TRACK_ATTEMPTS = 2
MAX_MOBILE_ATTEMPTS = 3  # a malformed number or two different ones count as one attempt
MAX_CODE_ATTEMPTS = 3  # wrong second factors before the caller is offered an agent
# How a menu is left.
BACK = "back"  # "#" in a submenu, or a choice done: the menu above is read again
NO_ANSWER = "no_answer"  # no key after the menu was read three times: the call ends
GOODBYE_SAID = "goodbye_said"  # a "goodbye" choice said its message: the call ends
AGENT_DONE = "agent_done"  # the call went to an agent (or a callback was offered): it ends
AGENT_KEY = "0"  # talk to an adviser (voice.to_agent)


class CallOver(Exception):
    """The call was handed to an agent from deep in a step (three wrong codes): the dialogue
    ends with ``outcome``."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class HungUp(Exception):
    """The caller hung up (or the line dropped)."""


class Line(Protocol):
    def say(self, text: str, audio: bytes | None = None) -> bool:
        """Play a prompt (``audio``: 8 kHz μ-law, else ``text`` synthesised); False when a key
        press cut it short (the digit stays queued for ``next_digit``). Raises HungUp."""

    def next_digit(self, timeout: float) -> str | None:
        """The next key pressed (RFC 4733 or SIP INFO), None after ``timeout`` seconds."""

    def flush_digits(self) -> None:
        """Forget the keys typed ahead."""

    def hangup(self) -> None:
        """End the call from the server side."""


class Dialogue:
    def __init__(self, line: Line, call: Call) -> None:
        self.line = line
        self.call = call
        self.timeout = float(settings.VOICE_DIGIT_TIMEOUT)
        # Second factor: None (not asked yet), True (checked), False (failed: nothing personal
        # for the rest of the call).
        self.verified: bool | None = None
        self.transfer_after_verify = False

    def say(self, text: str, position: str, node: MenuNode | None = None) -> bool:
        """Play a prompt: the node's recording when the service uploaded one, else speech."""
        audio = services.recording(node) if node is not None else None
        services.record_step(self.call, "prompt", position, text=text, recorded=bool(audio))
        logger.info("call %s plays %r%s", self.call.pk, text, " (recorded)" if audio else "")
        if audio:
            return self.line.say(text, audio=audio)
        return self.line.say(text)

    def run(self) -> None:
        call = self.call
        if call.menu is None:
            self.say(
                _(
                    "Ce numéro n'est pas en service pour le moment. Vous pouvez nous écrire "
                    "depuis votre espace en ligne. Au revoir."
                ),
                "closed",
            )
            self.finish()
            return
        from . import callbot

        with_callbot = callbot.enabled()
        keypad_only = (
            ""
            if with_callbot
            else _("Ce serveur vocal fonctionne avec les touches de votre téléphone.")
        )
        welcome = " ".join(
            part for part in (call.menu.welcome, services.opening_hours(call), keypad_only) if part
        )
        self.say(welcome, "welcome")
        try:
            outcome = callbot.Callbot(self).run() if with_callbot else BACK
            if outcome == BACK:
                outcome = self.menu(None)
        except CallOver as over:
            outcome = over.outcome
        if outcome != GOODBYE_SAID:
            self.say(_("Merci de votre appel. Au revoir."), "goodbye")
        self.finish()

    def to_agent(self, reason: str) -> str:
        """Hand the call to an agent (voice.to_agent): ``BACK`` when it could not (the menu
        goes on), else how the call ends."""
        from .to_agent import DONE, ToAgent

        if ToAgent(self).run(reason) != DONE:
            return BACK
        return GOODBYE_SAID if self.call.ended_at is not None else AGENT_DONE

    def finish(self) -> None:
        services.end_call(self.call, Call.EndedBy.SERVER)
        self.line.hangup()

    def menu(self, parent: MenuNode | None) -> str:
        """Read a menu and act on the choices until the caller goes back (# on a submenu:
        ``BACK``), does not answer (``NO_ANSWER``) or a choice ends the call after its message
        (``GOODBYE_SAID``)."""
        assert self.call.menu is not None
        position = f"menu:{parent.path()}" if parent is not None else "menu"
        choices = services.menu_choices(self.call.menu, parent)
        by_digit = {node.digit: node for node in choices}
        prompt = services.menu_prompt(self.call.menu, parent, choices)
        unanswered = 0
        while True:
            # A submenu's recording, when uploaded, announces its choices itself.
            self.say(prompt, position, parent)
            digit = self.line.next_digit(self.timeout)
            if digit is None:
                unanswered += 1
                if unanswered > MAX_REPEATS:
                    services.record_step(self.call, "no_answer", position)
                    if parent is None and self.call.citizen_id is not None:
                        # An identified caller who types nothing: an agent rather than goodbye.
                        outcome = self.to_agent("no_answer")
                        if outcome != BACK:
                            return outcome
                    return NO_ANSWER
                continue
            unanswered = 0
            self.line.flush_digits()
            if digit == "*":
                continue
            if digit == AGENT_KEY:
                outcome = self.to_agent("key")
                if outcome != BACK:
                    return outcome
                continue
            if digit == "#" and parent is not None:
                return BACK
            node = by_digit.get(digit)
            if node is None:
                services.record_step(self.call, "invalid", position, digit=digit)
                self.say(_("Ce choix n'existe pas."), position)
                continue
            services.record_step(
                self.call, "choice", f"choice:{node.path()}", path=node.path(), label=node.label
            )
            outcome = self.act(node)
            if outcome != BACK:
                return outcome

    def act(self, node: MenuNode) -> str:
        """Do what a choice says: ``BACK`` to read the current menu again, else the call ends
        (``NO_ANSWER`` in a submenu, ``GOODBYE_SAID``)."""
        position = f"choice:{node.path()}"
        if node.action == MenuNode.Action.SUBMENU:
            return self.menu(node)
        if node.action == MenuNode.Action.TRACK_REQUEST:
            if node.prompt.strip():
                self.say(node.prompt, position, node)
            self.track_request(position)
            self.satisfaction(position)
            return BACK
        if node.action == MenuNode.Action.CALLBACK:
            if node.prompt.strip():
                self.say(node.prompt, position, node)
            self.callback(node, position)
            self.satisfaction(position)
            return BACK
        if node.action == MenuNode.Action.CHANGE_MOBILE:
            if node.prompt.strip():
                self.say(node.prompt, position, node)
            self.change_mobile(position)
            self.satisfaction(position)
            return BACK
        if node.action == MenuNode.Action.DOCUMENT:
            if node.prompt.strip():
                self.say(node.prompt, position, node)
            documents.document_request(self, position)
            self.satisfaction(position)
            return BACK
        if node.action == MenuNode.Action.MESSAGE:
            self.say(node.prompt, position, node)
            return BACK
        self.say(node.prompt, position, node)  # GOODBYE
        return GOODBYE_SAID

    def track_request(self, position: str) -> None:
        """Self-service: the caller types a reference, hears its status."""
        position = f"{position}:track_request"
        services.record_step(self.call, "self_service_start", position, kind="track_request")
        if not self.identified("track_request", position):
            return
        for _attempt in range(MAX_TRACK_ATTEMPTS):
            self.say(
                _(
                    "Tapez les %(count)s chiffres du numéro de votre demande, sans le tiret, "
                    "puis dièse."
                )
                % {"count": services.REFERENCE_DIGITS},
                position,
            )
            digits = self.collect(services.REFERENCE_DIGITS)
            result = services.track_request(self.call, digits)
            if result.found:
                self.self_service_done("track_request", completed=True, reference=result.reference)
                self.say(result.speech, position)
                return
            self.say(result.speech, position)
        self.self_service_done("track_request", completed=False, reason="not_found")

    def identified(self, kind: str, position: str) -> bool:
        """Whether the caller may use a personal self-service: identified by the caller ID and
        the second factor. Says why not and records the self-service as not completed."""
        if self.call.citizen_id is None:
            self.say(
                _(
                    "Pour protéger vos informations, ce service n'est possible que depuis le "
                    "numéro de mobile enregistré dans votre espace en ligne."
                ),
                position,
            )
            self.self_service_done(kind, completed=False, reason="unidentified")
            return False
        if not self.verify(position):
            self.self_service_done(kind, completed=False, reason="second_factor")
            if self.transfer_after_verify:
                # Three wrong codes: an agent takes over (once), the dialogue ends after.
                self.transfer_after_verify = False
                raise CallOver(self.to_agent("verify"))
            return False
        return True

    def callback(self, node: MenuNode, position: str) -> None:
        """Self-service: book a callback in one of the next free slots, read out."""
        position = f"{position}:callback"
        services.record_step(self.call, "self_service_start", position, kind="callback")
        if not self.identified("callback", position):
            return
        for _attempt in range(MAX_TRACK_ATTEMPTS):
            slots = services.callback_offer(node)
            if not slots:
                self.say(
                    _(
                        "Aucun créneau de rappel n'est libre pour le moment. Vous pouvez "
                        "demander un rappel depuis votre espace en ligne."
                    ),
                    position,
                )
                self.self_service_done("callback", completed=False, reason="no_slot")
                return
            prompt = " ".join(
                _("Pour être rappelé le %(slot)s, tapez %(digit)s.")
                % {"slot": services.spoken_slot(slot), "digit": index}
                for index, slot in enumerate(slots, start=1)
            )
            chosen = self.choose(prompt, len(slots), position)
            if chosen is None:
                self.self_service_done("callback", completed=False, reason="no_choice")
                return
            slot = slots[chosen]
            try:
                case = services.book_callback(self.call, node, slot)
            except ValidationError:
                self.say(_("Ce créneau vient d'être réservé par quelqu'un d'autre."), position)
                continue
            # Booked: recorded before the confirmation, which a hang-up may cut short.
            self.self_service_done("callback", completed=True, reference=case.reference)
            self.say(
                _(
                    "Votre rappel est réservé le %(slot)s, au numéro de mobile de votre espace. "
                    "Votre demande porte le numéro %(reference)s."
                )
                % {
                    "slot": services.spoken_slot(slot),
                    "reference": services.spoken_digits(case.reference),
                },
                position,
            )
            return
        self.self_service_done("callback", completed=False, reason="taken")

    def change_mobile(self, position: str) -> None:
        """Self-service: a new mobile for the SMS, typed twice, checked by the project's phone
        parsing."""
        position = f"{position}:change_mobile"
        kind = "change_mobile"
        services.record_step(self.call, "self_service_start", position, kind=kind)
        if not self.identified(kind, position):
            return
        for _attempt in range(MAX_MOBILE_ATTEMPTS):
            self.say(
                _(
                    "Tapez votre nouveau numéro de mobile, par exemple 0 6 1 2 3 4 5 6 7 8, "
                    "puis dièse. Pour un numéro d'outre-mer à indicatif, tapez 0 0 puis "
                    "l'indicatif."
                ),
                position,
            )
            number = services.mobile_from_keypad(self.collect(services.MOBILE_DIGITS))
            if not number:
                services.record_step(self.call, "invalid", position)
                self.say(_("Ce numéro n'est pas un numéro de mobile français."), position)
                continue
            self.say(_("Tapez ce numéro une seconde fois, puis dièse."), position)
            again = services.mobile_from_keypad(self.collect(services.MOBILE_DIGITS))
            if again != number:
                services.record_step(self.call, "invalid", position)
                self.say(_("Les deux numéros saisis sont différents."), position)
                continue
            if not services.change_mobile(self.call, number):
                self.say(
                    _(
                        "Ce numéro ne peut pas être enregistré pour votre compte. Un conseiller "
                        "peut vous aider."
                    ),
                    position,
                )
                self.self_service_done(kind, completed=False, reason="refused")
                return
            self.self_service_done(kind, completed=True)
            self.say(
                _(
                    "C'est fait : les SMS vous seront envoyés au %(number)s. Pour appeler le "
                    "serveur vocal, utilisez désormais ce numéro."
                )
                % {"number": services.spoken_mobile(number)},
                position,
            )
            return
        self.self_service_done(kind, completed=False, reason="invalid")

    def choose(
        self, prompt: str, count: int, position: str, repeats: int = MAX_REPEATS
    ) -> int | None:
        """Read numbered options (1..count), return the index chosen; a wrong key says so, no
        key reads them again twice; None then."""
        silent = 0
        while True:
            self.say(prompt, position)
            digit = self.line.next_digit(self.timeout)
            if digit is None:
                silent += 1
                if silent > repeats:
                    services.record_step(self.call, "no_answer", position)
                    return None
                continue
            self.line.flush_digits()
            if digit.isdigit() and 1 <= int(digit) <= count:
                return int(digit) - 1
            services.record_step(self.call, "invalid", position, digit=digit)
            self.say(_("Ce choix n'existe pas."), position)

    def verify(self, position: str) -> bool:
        """The second factor, once a call, before anything personal: a code sent by SMS to the
        citizen's mobile (the caller ID), or the date of birth when an identity provider
        certified one (the caller chooses), typed on the keypad. Without any key the request
        is said again twice; three wrong answers and nothing personal is read for the rest of
        the call, the caller is told to talk to an adviser."""
        if self.verified is not None:
            return self.verified
        position = f"{position}:verify"
        born = services.birthdate(self.call)
        if born:
            chosen = self.choose(
                _(
                    "Pour vérifier votre identité, tapez 1 pour recevoir un code par SMS, ou "
                    "tapez 2 pour saisir votre date de naissance."
                ),
                2,
                position,
            )
            if chosen is None:
                self.verified = False
                return False
            if chosen == 1:
                return self.check_factor("birthdate", born, position)
        return self.check_factor("sms", services.send_code(self.call), position)

    def check_factor(self, factor: str, expected: str, position: str) -> bool:
        if factor == "sms":
            request = _(
                "Pour vérifier votre identité, nous venons de vous envoyer un code à "
                "%(count)s chiffres par SMS. Tapez ce code, puis dièse."
            ) % {"count": services.CODE_DIGITS}
            wrong_text = _("Ce code est incorrect.")
        else:
            request = _(
                "Tapez votre date de naissance en 8 chiffres : le jour, le mois, puis l'année. "
                "Par exemple, 0 5 0 3 1 9 8 0 pour le 5 mars 1980. Puis dièse."
            )
            wrong_text = _("Cette date de naissance ne correspond pas.")
        wrong = silent = 0
        while True:
            self.say(request, position)
            typed = self.collect(len(expected))
            if not typed:
                silent += 1
                if silent > MAX_REPEATS:
                    services.record_step(self.call, "no_answer", position)
                    self.verified = False
                    return False
                continue
            if services.code_matches(expected, typed):
                services.record_step(self.call, "verified", position, factor=factor)
                self.verified = True
                return True
            wrong += 1
            services.record_step(self.call, "verify_failed", position, attempt=wrong, factor=factor)
            if wrong >= MAX_CODE_ATTEMPTS:
                self.verified = False
                services.record_step(self.call, "transfer_offered", position, reason="verify")
                self.say(
                    _(
                        "Votre saisie est incorrecte. Pour votre sécurité, aucune information "
                        "personnelle ne peut vous être donnée par le serveur vocal pendant cet "
                        "appel. Un conseiller peut vous aider."
                    ),
                    position,
                )
                self.transfer_after_verify = True
                return False
            self.say(wrong_text, position)

    def satisfaction(self, position: str) -> None:
        """Once a call, after a self-service completed: one keypad question, 1 to 5."""
        done = any(s.get("step") == "self_service" and s.get("completed") for s in self.call.steps)
        if not done or any(s.get("step") == "satisfaction_asked" for s in self.call.steps):
            return
        services.record_step(self.call, "satisfaction_asked", position)
        chosen = self.choose(
            _(
                "Ce service vous a-t-il satisfait ? Tapez une note de 1, pas du tout satisfait, "
                "à 5, très satisfait."
            ),
            5,
            position,
            repeats=1,
        )
        if chosen is not None:
            kind = next(
                s.get("kind", "")
                for s in reversed(self.call.steps)
                if s.get("step") == "self_service" and s.get("completed")
            )
            services.record_step(self.call, "satisfaction", position, score=chosen + 1, kind=kind)
            self.say(_("Merci pour votre réponse."), position)

    def self_service_done(self, kind: str, *, completed: bool, **data: str) -> None:
        services.record_step(
            self.call, "self_service", self.call.position, kind=kind, completed=completed, **data
        )

    def collect(self, count: int) -> str:
        """Up to ``count`` digits, ended by # or a pause."""
        digits = ""
        while len(digits) < count:
            digit = self.line.next_digit(self.timeout)
            if digit is None or digit == "#":
                break
            if digit.isdigit():
                digits += digit
        else:
            # All the digits typed: the # that usually follows must not cut the answer short.
            if self.line.next_digit(1.5) not in (None, "#"):
                self.line.flush_digits()
        return digits
