"""Key 0 (and the fallbacks of the dialogue): the call goes to an agent (docs/voice.md, "To an
agent"). The caller waits in routing's queue hearing their position and estimated wait; when
routing gives the case to an agent, the agent's phone rings (voice.bridge) while their
workstation pops the case; outside opening hours, with nobody on duty or after
``VOICE_MAX_WAIT`` the caller is offered a callback instead."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import queueing, services
from .models import Call, MenuNode

if TYPE_CHECKING:
    from contactcenter.models import Case, Topic

    from .ivr import Dialogue

MAX_RINGS = 3  # agents' phones that did not answer before the caller is offered a callback
POLL = 0.5  # seconds between two looks at the case while waiting

# What ``ToAgent.run`` tells the dialogue.
BACK = "back"  # nothing happened (unidentified caller): the menu is read again
DONE = "done"  # the call is over (ended here or by a goodbye to say)


class AgentLeg(Protocol):
    def wait_answer(self, timeout: float, check: object) -> bool: ...

    def ended_now(self) -> bool: ...

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
        services.record_step(call, "transfer", "agent", reason=reason)
        if call.citizen_id is None:
            self.say(
                _(
                    "Pour parler à un conseiller, appelez-nous depuis le numéro de mobile "
                    "enregistré dans votre espace en ligne, ou écrivez-nous depuis cet espace."
                )
            )
            return BACK
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
                if self.connect(assigned):
                    return DONE
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
        if topic is None or self.dialogue.verified is False:
            self.say(
                _("Vous pouvez demander à être rappelé depuis votre espace en ligne. Au revoir.")
            )
            return
        self.say(_("Nous vous proposons d'être rappelé par un conseiller."))
        node = MenuNode(
            topic=topic, label=str(_("parler à un conseiller")), action=MenuNode.Action.CALLBACK
        )
        self.dialogue.callback(node, "agent")

    def connect(self, assigned: queueing.Assignment) -> bool:
        """Ring the agent routing chose; True once the call ended with them."""
        call = self.call
        ringing: RingingLine = self.line  # type: ignore[assignment]
        if not assigned.extension:
            queueing.ring_failed(call, assigned.agent_id, "no_extension")
            return False
        services.record_step(call, "agent_ringing", "agent", agent=assigned.agent_id)
        try:
            leg = ringing.ring(assigned.extension)
        except ValueError:
            queueing.ring_failed(call, assigned.agent_id, "bad_extension")
            return False
        try:
            if not leg.wait_answer(float(settings.VOICE_AGENT_RING_TIMEOUT), ringing.check):
                queueing.ring_failed(call, assigned.agent_id, getattr(leg, "status", ""))
                return False
            queueing.answered(call, assigned.agent_id)
            ringing.bridge(leg)
            while not leg.ended_now():
                self.line.next_digit(POLL)  # raises HungUp when the caller hangs up
            services.record_step(call, "hangup", "agent", by="agent")
            services.end_call(call, Call.EndedBy.AGENT)
            self.line.hangup()
            return True
        finally:
            leg.close()
