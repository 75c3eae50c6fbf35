"""Key 0 (and the fallbacks of the dialogue): the call goes to an agent (docs/voice.md, "To an
agent"). The caller waits in routing's queue hearing their position and estimated wait; when
routing gives the case to an agent, the agent's phone rings (voice.bridge) while their
workstation pops the case; outside opening hours, with nobody on duty or after
``VOICE_MAX_WAIT`` the caller is offered a callback instead."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import controls, queueing, services, tts
from .models import Call, MenuNode

if TYPE_CHECKING:
    from contactcenter.models import Case, Topic

    from .ivr import Dialogue

logger = logging.getLogger("voice.ivr")

MAX_RINGS = 3  # agents' phones that did not answer before the caller is offered a callback
POLL = 0.5  # seconds between two looks at the case while waiting

# What ``ToAgent.run`` tells the dialogue.
BACK = "back"  # nothing happened (unidentified caller): the menu is read again
DONE = "done"  # the call is over (ended here or by a goodbye to say)

# What ``ToAgent.connect`` tells the wait.
ENDED = "ended"  # the call ended with the agent
FAILED = "failed"  # the agent's phone did not answer
REROUTED = "rerouted"  # the agent transferred the call: it waits again


class AgentLeg(Protocol):
    def wait_answer(self, timeout: float, check: object) -> bool: ...

    def ended_now(self) -> bool: ...

    def hold(self, held: bool) -> None: ...

    def hangup(self) -> None: ...

    def close(self) -> None: ...


class RingingLine(Protocol):
    def ring(self, extension: str) -> AgentLeg:
        """Ring an agent's phone (a second SIP leg)."""

    def bridge(self, leg: AgentLeg) -> None:
        """Relay the audio between the caller and the answered leg."""

    def check(self) -> None:
        """Raise HungUp when the caller has gone."""


def spoken_wait(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}


class ToAgent:
    def __init__(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        self.call: Call = dialogue.call
        self.line = dialogue.line

    def say(self, text: str) -> bool:
        return self.dialogue.say(text, self.call.position or "agent")

    def run(self, reason: str) -> str:
        call = self.call
        services.record_step(
            call, "transfer", "agent", reason=reason, identified=call.citizen_id is not None
        )
        topic = queueing.agent_topic(call)
        if topic is None or not queueing.service_open(call):
            self.say(
                _("Nos conseillers ne sont pas disponibles en dehors des horaires d'ouverture.")
            )
            self.offer_callback(topic, "closed")
            return DONE
        if not queueing.agents_on_duty(topic):
            self.say(_("Aucun conseiller n'est disponible pour le moment."))
            self.offer_callback(topic, "no_agent")
            return DONE
        case = queueing.enqueue(call, topic, reason)
        self.say(_("Votre appel est transmis à un conseiller. Merci de patienter."))
        return self.wait(case, topic)

    def wait(self, case: Case, topic: Topic) -> str:
        started = time.monotonic()
        announced = float("-inf")
        rings = 0
        max_wait = float(settings.VOICE_MAX_WAIT)
        every = float(settings.VOICE_WAIT_ANNOUNCE)
        while True:
            assigned = queueing.assignment(case.pk)
            if assigned is not None:
                outcome = self.connect(assigned)
                if outcome == ENDED:
                    return DONE
                if outcome == REROUTED:  # transferred: a new wait, in the case's new topic
                    started, rings = time.monotonic(), 0
                    topic = queueing.case_topic(case.pk) or topic
                    continue
                rings += 1
                if rings >= MAX_RINGS:
                    return self.give_up(topic, "no_answer")
                continue
            if time.monotonic() - started >= max_wait:
                return self.give_up(topic, "max_wait")
            if time.monotonic() - announced >= every:
                self.announce(case)
                announced = time.monotonic()
            self.line.next_digit(POLL)  # keys are ignored while waiting; raises on hang-up

    def announce(self, case: Case) -> None:
        position, wait = queueing.position(case)
        if position <= 0:
            return
        services.record_step(self.call, "queue_position", "queue", rank=position, wait=wait)
        text = _("Vous êtes en position %(position)s dans la file d'attente.") % {
            "position": position
        }
        if wait:
            text += " " + _("Temps d'attente estimé : %(wait)s.") % {"wait": spoken_wait(wait)}
        self.say(text)

    def give_up(self, topic: Topic, reason: str) -> str:
        queueing.leave_queue(self.call, reason)
        self.say(_("Tous nos conseillers sont occupés."))
        self.offer_callback(topic, reason)
        return DONE

    def offer_callback(self, topic: Topic | None, reason: str) -> None:
        """The existing callback booking (a slot read out, the SMS second factor first when
        it was not checked yet), in the topic of the calls to an agent."""
        services.record_step(self.call, "callback_offered", "agent", reason=reason)
        if topic is None or self.dialogue.verified is False or self.call.citizen_id is None:
            self.say(
                _("Vous pouvez demander à être rappelé depuis votre espace en ligne. Au revoir.")
            )
            return
        self.say(_("Nous vous proposons d'être rappelé par un conseiller."))
        node = MenuNode(
            topic=topic, label=str(_("parler à un conseiller")), action=MenuNode.Action.CALLBACK
        )
        self.dialogue.callback(node, "agent")

    def connect(self, assigned: queueing.Assignment) -> str:
        """Ring the agent routing chose: ``ENDED`` once the call ended with them, ``FAILED``
        when their phone did not answer, ``REROUTED`` when they transferred the call."""
        call = self.call
        ringing: RingingLine = self.line  # type: ignore[assignment]
        if not assigned.extension:
            queueing.ring_failed(call, assigned.agent_id, "no_extension")
            return FAILED
        services.record_step(call, "agent_ringing", "agent", agent=assigned.agent_id)
        try:
            leg = ringing.ring(assigned.extension)
        except ValueError:
            queueing.ring_failed(call, assigned.agent_id, "bad_extension")
            return FAILED
        try:
            if not leg.wait_answer(float(settings.VOICE_AGENT_RING_TIMEOUT), ringing.check):
                queueing.ring_failed(call, assigned.agent_id, getattr(leg, "status", ""))
                return FAILED
            queueing.answered(call, assigned.agent_id)
            ringing.bridge(leg)
            if not self.talk(leg, assigned.agent_id):
                return REROUTED
            services.record_step(call, "hangup", "agent", by="agent")
            services.end_call(call, Call.EndedBy.AGENT)
            self.line.hangup()
            return ENDED
        finally:
            leg.close()

    def talk(self, leg: AgentLeg, agent_id: int) -> bool:
        """The caller and the agent talk until the agent hangs up (True), with the holds the
        workstation asks for; False when the case left the agent (a transfer): the agent's
        phone is hung up and the call waits in the queue again."""
        held = False
        last = controls.TALK
        while not leg.ended_now():
            state = controls.bridged_state(self.call, agent_id)
            if state != last:
                logger.info("call %s with agent %s: %s", self.call.pk, agent_id, state)
                last = state
            if state == controls.GONE:
                leg.hold(True)
                leg.hangup()
                controls.requeue(self.call, agent_id)
                self.say(_("Votre appel est transféré à un autre conseiller. Merci de patienter."))
                return False
            if state == controls.HOLD:
                if not held:
                    held = True
                    leg.hold(True)
                    services.record_step(self.call, "hold", "agent:hold", agent=agent_id)
                    self.say(_("Votre conseiller vous met en attente. Merci de patienter."))
                else:
                    self.line.flush_digits()
                    self.line.say("", audio=tts.hold_music())  # 2.4 s, then a new look
                continue
            if held:
                held = False
                services.record_step(self.call, "resume", "agent", agent=agent_id)
                leg.hold(False)
            self.line.next_digit(POLL)  # raises HungUp when the caller hangs up
        return True
