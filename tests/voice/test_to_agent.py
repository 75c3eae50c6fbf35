"""Key 0 to an agent on a scripted line (voice.to_agent, voice.queueing): the case of channel
phone (new or joined), routing's agent, the ring and the bridge (a scripted agent's leg), the
end of the call freeing the agent's phone slot, the position announced while waiting, the
callback offered outside hours, with nobody on duty or after the longest wait, the fallback
after three wrong codes, and the agent's screen-pop with the call's context."""

from __future__ import annotations

from datetime import time

import pytest

import routing
from console import screenpop
from contactcenter.models import AgentProfile, Case, Event, Topic
from contactcenter.services import open_case
from routing.engine import sweep_queues
from routing.models import AgentPresence, CallbackRequest, OpeningHours
from tests.voice.test_voice_units import CODE, ScriptedLine, phone_setup  # noqa: F401
from voice import queueing, services
from voice.ivr import Dialogue, HungUp
from voice.models import Call

pytestmark = pytest.mark.django_db


class Leg:
    """The agent's phone: answers (or not), then hangs up after ``talk`` polls."""

    def __init__(self, answers: bool, talk: int = 2) -> None:
        self.answers = answers
        self.talk = talk
        self.closed = False
        self.status = "" if answers else "486 Busy Here"

    def wait_answer(self, timeout, check) -> bool:
        check()
        return self.answers

    def ended_now(self) -> bool:
        self.talk -= 1
        return self.talk < 0

    def close(self) -> None:
        self.closed = True


class Line(ScriptedLine):
    def __init__(self, keys, answers: bool = True) -> None:
        super().__init__(keys)
        self.answers = answers
        self.rung: list[str] = []
        self.bridged: list[Leg] = []
        self.polls = 0

    def next_digit(self, timeout: float):
        if timeout <= 1 and not self.keys:  # waiting in the queue or talking: no key
            self.polls += 1
            if self.polls > 100:
                raise HungUp
            sweep_queues()  # what the beat (or the requeue's task) does
            return None
        return super().next_digit(timeout)

    def ring(self, extension: str) -> Leg:
        self.rung.append(extension)
        return Leg(self.answers)

    def bridge(self, leg: Leg) -> None:
        self.bridged.append(leg)

    def check(self) -> None:
        pass


def run(call: Call, line: Line) -> Line:
    try:
        Dialogue(line, call).run()
    except HungUp:
        services.end_call(call, Call.EndedBy.CALLER)
    call.refresh_from_db()
    return line


@pytest.fixture
def on_duty(phone_setup, agent_a, topic_a, settings):  # noqa: F811
    """Agent A available for the menu's agent topic, with a SIP phone; routing runs as soon
    as the case is queued (the test's transaction never commits)."""
    settings.VOICE_WAIT_ANNOUNCE = 3600
    menu = phone_setup["menu"]
    menu.agent_topic = topic_a
    menu.save()
    AgentProfile.objects.filter(user=agent_a).update(sip_extension="sip:alice@127.0.0.1:5070")
    AgentPresence.objects.create(user=agent_a, status=AgentPresence.Status.AVAILABLE)
    for weekday in range(7):
        OpeningHours.objects.create(
            service=menu.service, weekday=weekday, start=time(0), end=time(23, 59), on_holidays=True
        )
    return phone_setup


@pytest.fixture
def routed(monkeypatch):
    enqueue = queueing.enqueue

    def enqueue_and_route(call, topic, reason):
        case = enqueue(call, topic, reason)
        routing.route_case(case.pk)
        return case

    monkeypatch.setattr(queueing, "enqueue", enqueue_and_route)


def test_key_0_rings_the_agent_bridges_and_frees_the_slot_at_the_end(on_duty, agent_a, routed):
    call = services.start_call("a@h", "0612345678", "0140000000")
    line = run(call, Line(["0"]))
    assert line.rung == ["sip:alice@127.0.0.1:5070"] and len(line.bridged) == 1
    assert line.bridged[0].closed and line.hung_up
    assert call.ended_by == Call.EndedBy.AGENT and call.agent == agent_a
    assert call.queued_at <= call.answered_at <= call.ended_at
    case = Case.objects.get(pk=call.case_id)
    assert case.channel == "phone" and case.assigned_to == agent_a
    assert case.status == Case.Status.ANSWERED
    assert routing.free_capacity(agent_a.pk, "phone") == 1
    queued, end = Event.objects.filter(case=case, type=Event.Type.CALL).order_by("pk")
    assert queued.payload["stage"] == "queued" and queued.payload["reason"] == "key"
    assert "Parcours dans le menu" in queued.body
    assert end.payload["ended_by"] == "agent" and end.payload["agent"] == agent_a.pk
    assert {"wait", "talk"} <= set(end.payload)
    assert "Votre appel est transmis à un conseiller. Merci de patienter." in line.said


def test_an_agent_phone_that_does_not_answer_puts_the_call_back_in_the_queue(
    on_duty, agent_a, routed
):
    call = services.start_call("b@h", "0612345678", "0140000000")
    run(call, Line(["0"], answers=False))
    steps = [s["step"] for s in call.steps]
    assert steps.count("agent_no_answer") == 3  # then a callback is offered
    assert "callback_offered" in steps
    case = Case.objects.get(pk=call.case_id)
    assert case.status == Case.Status.CLOSED and case.resolution == "no_follow_up"
    assert case.events.filter(payload__mode="requeued").count() == 3


def test_max_wait_offers_a_callback_that_is_booked(on_duty, settings):
    settings.VOICE_MAX_WAIT = 0
    call = services.start_call("c@h", "0612345678", "0140000000")
    line = run(call, Line(["0", CODE, "2"]))
    assert "Tous nos conseillers sont occupés." in line.said
    offered = [s for s in call.steps if s["step"] == "callback_offered"]
    assert offered[0]["reason"] == "max_wait"
    booking = CallbackRequest.objects.get()
    assert booking.phone == "+33612345678"
    phone_case = Case.objects.get(channel="phone")
    assert phone_case.status == Case.Status.CLOSED  # left the queue for the callback
    assert call.case_id == booking.case_id


def test_the_position_and_wait_are_announced_and_a_hang_up_leaves_the_queue(on_duty, settings):
    settings.VOICE_WAIT_ANNOUNCE = 0
    call = services.start_call("d@h", "0612345678", "0140000000")
    line = Line(["0"])
    polls = iter(range(3))

    def next_digit(timeout):
        if line.keys:
            return line.keys.popleft()
        if next(polls, None) is None:
            raise HungUp
        return None

    line.next_digit = next_digit
    run(call, line)
    assert any(text.startswith("Vous êtes en position 1") for text in line.said)
    assert any("Temps d'attente estimé : 7 minutes." in text for text in line.said)
    assert call.ended_by == Call.EndedBy.CALLER
    case = Case.objects.get(pk=call.case_id)
    assert case.status == Case.Status.CLOSED and case.resolution == "no_follow_up"
    end = case.events.filter(type=Event.Type.CALL).last()
    assert "sans réponse" in end.body and "talk" not in end.payload


def test_a_call_joins_the_caller_answered_phone_case(on_duty, agent_a, routed, topic_a):
    citizen = on_duty["case"].citizen
    earlier, _ = open_case(
        citizen=citizen, topic=topic_a, kind="question", channel="phone", subject="Appel",
        route=False, status=Case.Status.ANSWERED,
    )  # fmt: skip
    call = services.start_call("e@h", "0612345678", "0140000000")
    run(call, Line(["0"]))
    assert call.case_id == earlier.pk
    assert Case.objects.filter(channel="phone").count() == 1
    queued = earlier.events.get(type=Event.Type.CALL, payload__stage="queued")
    assert queued.payload["joined_from"] == "answered"


def test_nobody_on_duty_or_closed_offers_a_callback(phone_setup, agent_a, monkeypatch):  # noqa: F811
    call = services.start_call("f@h", "0612345678", "0140000000")
    line = run(call, Line(["0"]))
    assert "Aucun conseiller n'est disponible pour le moment." in line.said
    assert [s["reason"] for s in call.steps if s["step"] == "callback_offered"] == ["no_agent"]
    monkeypatch.setattr(queueing, "service_open", lambda call, at=None: False)
    call = services.start_call("g@h", "0612345678", "0140000000")
    line = run(call, Line(["0"]))
    assert any("en dehors des horaires" in text for text in line.said)
    assert [s["reason"] for s in call.steps if s["step"] == "callback_offered"] == ["closed"]
    assert not Case.objects.filter(channel="phone").exists()


def test_unidentified_caller_with_nobody_on_duty_is_sent_to_the_web_form(phone_setup):  # noqa: F811
    # Unidentified callers reach an agent (tests/voice/test_unidentified.py); nobody here: no
    # callback can be booked without identification: the web form is named instead.
    call = services.start_call("h@h", "0699999999", "0140000000")
    line = run(call, Line(["0"]))
    assert any("depuis votre espace en ligne" in text for text in line.said)
    assert [s["reason"] for s in call.steps if s["step"] == "callback_offered"] == ["no_agent"]
    assert call.case_id is None and not CallbackRequest.objects.exists()


def test_three_wrong_codes_go_to_an_agent(on_duty, agent_a, routed):
    call = services.start_call("i@h", "0612345678", "0140000000")
    wrong = ["0", "0", "0", "0", "0", "0", "#"]
    line = run(call, Line(["1", *wrong, *wrong, *wrong]))
    assert [s["reason"] for s in call.steps if s["step"] == "transfer"] == ["verify"]
    assert not any("Votre demande numéro" in text for text in line.said)
    assert call.ended_by == Call.EndedBy.AGENT
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["reason"] == "second_factor"


def test_the_screen_pop_carries_the_call_context(on_duty, agent_a):
    call = services.start_call("j@h", "0612345678", "0140000000")
    services.record_step(call, "choice", "choice:2", path="2", label="nos services")
    case = queueing.enqueue(call, Topic.objects.get(slug="impots"), "key")
    item = screenpop.item_payload(case)
    assert item["call"] == {
        "call": call.pk,
        "menu_path": ["2"],
        "self_service": [],
        "transcript": [],
    }
    services.end_call(call, Call.EndedBy.CALLER)
    assert "call" not in screenpop.item_payload(Case.objects.get(pk=case.pk))


def test_the_live_view_shows_calls_in_the_menu_waiting_and_with_an_agent(
    on_duty, agent_a, supervisor, client
):
    from django.urls import reverse
    from django.utils import timezone

    now = timezone.now()
    services.start_call("k@h", "0699999999", "0140000000")  # in the menu
    waiting = services.start_call("l@h", "0612345678", "0140000000")
    queueing.enqueue(waiting, Topic.objects.get(slug="impots"), "key")
    Call.objects.filter(pk=waiting.pk).update(queued_at=now - timezone.timedelta(minutes=2))
    talking = services.start_call("m@h", "0612345678", "0140000000")
    Call.objects.filter(pk=talking.pk).update(queued_at=now, answered_at=now, agent=agent_a)
    services.end_call(services.start_call("n@h", "0612345678", "0140000000"), "caller")
    (section,) = routing.live_view(supervisor, now)["sections"]
    (row,) = section.rows
    assert row[1:3] == [1, 1] and row[3].total_seconds() == 120 and row[4] == 1
    client.force_login(supervisor)
    page = client.get(reverse("routing:supervision_live")).content.decode()
    assert "Appels en cours" in page and "2 min" in page


def test_the_agent_extension_is_a_sip_uri_or_an_extension_of_the_ipbx(settings):
    from voice.bridge import offer_sdp, sip_target

    assert sip_target("sip:alice@10.0.0.5:5070") == ("alice", "10.0.0.5", 5070)
    assert sip_target("sip:1001@ipbx.example.fr") == ("1001", "ipbx.example.fr", 5060)
    settings.VOICE_REGISTRAR = "ipbx.example.fr:5080"
    assert sip_target("1001") == ("1001", "ipbx.example.fr", 5080)
    settings.VOICE_REGISTRAR = ""
    with pytest.raises(ValueError):
        sip_target("1001")
    offer = str(offer_sdp("127.0.0.1", 20010))
    assert "m=audio 20010 RTP/AVP 0" in offer and "a=sendrecv" in offer
