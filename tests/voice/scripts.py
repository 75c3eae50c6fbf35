"""What the phone tests (tests/voice/test_*_baresip.py, test_call_agent.py) share: the mark that
skips them without the phone and the speech synthesis, and the scripts they run in the voice
server's Django (``VoiceServer.shell``) to set up a line and read back the last call."""

from __future__ import annotations

import shutil

import pytest

# baresip (the phones) and espeak-ng (the voice server's prompts, the callbot's caller).
NEEDS_PHONES = pytest.mark.skipif(
    shutil.which("baresip") is None or shutil.which("espeak-ng") is None,
    reason="baresip and espeak-ng are installed by bin/setup --test",
)

# Camille, the caller: her mobile is the number the phones call from (0612345678).
CALLER = """
User.objects.create_user(
    username="camille", email="camille@example.fr", password="x", mobile_phone="+33612345678"
)
"""
# ``service`` open every day, around the clock.
OPEN_ALL_WEEK = """
for weekday in range(7):
    OpeningHours.objects.create(
        service=service, weekday=weekday, start=datetime.time(0), end=datetime.time(23, 59)
    )
"""


def agent_line(
    service: str,
    *,
    welcome: str,
    status: str,
    extension: str = "",
    hours_digit: str,
    callbot_hints: str = "",
) -> str:
    """A script: ``service`` (Python code that defines ``service``, whose phone number is
    +33140000000, and ``topic``, where the menu sends callers to an agent), Camille, the agent
    Alice in ``status`` at the SIP address ``extension``, the service open every day, and its
    published menu saying ``welcome`` (and expecting ``callbot_hints``), with the opening hours
    on key ``hours_digit``. Prints
    ``{"agent": Alice's id}`` as JSON, with what ``service`` put in ``extra``."""
    return (
        """
import datetime, json
from contactcenter.models import AgentProfile, Service, Topic, User
from routing.models import AgentPresence, OpeningHours
from voice.models import Menu, MenuNode
extra = {}
"""
        + service
        + CALLER
        + f"""
agent = User.objects.create_user(
    username="alice", email="alice@example.fr", password="x", role="agent"
)
AgentProfile.objects.create(user=agent, sip_extension={extension!r}).services.set([service])
AgentPresence.objects.create(user=agent, status={status!r})
"""
        + OPEN_ALL_WEEK
        + f"""
menu = Menu.objects.create(
    service=service, version=1, status="published", agent_topic=topic, welcome={welcome!r},
    callbot_hints={callbot_hints!r},
)
MenuNode.objects.create(
    menu=menu, digit={hours_digit!r}, label="connaître nos horaires", action="message",
    prompt="Nous sommes ouverts tous les jours.",
)
print(json.dumps({{"agent": agent.pk, **extra}}))
"""
    )


# The last call: its steps, agent and end; its case (topic, channel, status, agent, timeline);
# the phone cases, callbacks booked, and the phone slots the call's agent has free.
LAST_CALL = """
import json
from contactcenter.models import Case, Event
from routing import free_capacity
from routing.models import CallbackRequest
from voice.models import Call
call = Call.objects.latest("pk")
case = call.case
print(json.dumps({
    "ended_by": call.ended_by, "agent": call.agent_id, "steps": call.steps,
    "wait": (call.answered_at - call.queued_at).total_seconds() if call.answered_at else None,
    "case": case and {
        "topic": case.topic_id, "channel": case.channel, "status": case.status,
        "assigned_to": case.assigned_to_id,
        "events": [
            {"type": e.type, "body": e.body, "payload": e.payload}
            for e in Event.objects.filter(case=case).order_by("pk")
        ],
    },
    "phone_cases": Case.objects.filter(channel="phone").count(),
    "callbacks": list(CallbackRequest.objects.values_list("phone", flat=True)),
    "free_phone": free_capacity(call.agent_id, "phone") if call.agent_id else None,
}))
"""
