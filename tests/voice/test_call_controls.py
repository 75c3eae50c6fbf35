"""Hold and transfer of a call answered by an agent (voice.controls, ToAgent.talk) on a
scripted line, and the workstation's hold button (console.workstation_views.call_hold)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from contactcenter.cases import transfer_case
from contactcenter.models import AgentProfile, Case, Event
from contactcenter.trace_kpis import trace_counts
from routing.models import AgentPresence, OpeningHours
from tests.voice.test_to_agent import Line, on_duty, routed  # noqa: F401
from tests.voice.test_voice_units import phone_setup  # noqa: F401
from voice import controls, services
from voice.ivr import Dialogue, HungUp
from voice.models import Call

pytestmark = pytest.mark.django_db


class HoldLeg:
    """The agent's phone: answers, talks for ``talk`` polls, records the holds."""

    def __init__(self, talk: int) -> None:
        self.talk = talk
        self.closed = False
        self.hung_up = False
        self.status = ""
        self.holds: list[bool] = []

    def wait_answer(self, timeout, check) -> bool:
        return True

    def ended_now(self) -> bool:
        self.talk -= 1
        return self.talk < 0 or self.hung_up

    def hold(self, held: bool) -> None:
        self.holds.append(held)

    def hangup(self) -> None:
        self.hung_up = True

    def close(self) -> None:
        self.closed = True


class AgentLine(Line):
    """``actions``: poll number -> what the agent does in the workstation at that moment."""

    def __init__(self, keys, actions, talks=(40, 6)) -> None:
        super().__init__(keys)
        self.actions = dict(actions)
        self.talks = list(talks)
        self.legs: list[HoldLeg] = []
        self.music = 0

    def next_digit(self, timeout: float):
        action = self.actions.pop(self.polls + 1, None)
        result = super().next_digit(timeout)
        if action is not None:
            action()
        return result

    def say(self, text: str, audio: bytes | None = None) -> bool:
        if audio is not None and not text:
            self.music += 1
            self.polls += 1
            action = self.actions.pop(self.polls, None)
            if action is not None:
                action()
        return super().say(text, audio)

    def ring(self, extension: str) -> HoldLeg:  # type: ignore[override]
        self.rung.append(extension)
        leg = HoldLeg(self.talks.pop(0))
        self.legs.append(leg)
        return leg


def run(call: Call, line: Line) -> Line:
    try:
        Dialogue(line, call).run()
    except HungUp:
        services.end_call(call, Call.EndedBy.CALLER)
    call.refresh_from_db()
    return line


@pytest.fixture
def second_service(on_duty, agent_b, topic_b, service_b):  # noqa: F811
    AgentProfile.objects.filter(user=agent_b).update(sip_extension="sip:bruno@127.0.0.1:5071")
    AgentPresence.objects.create(user=agent_b, status=AgentPresence.Status.AVAILABLE)
    for weekday in range(7):
        OpeningHours.objects.create(
            service=service_b, weekday=weekday, start=time(0), end=time(23, 59), on_holidays=True
        )
    return service_b


def current_call() -> Call:
    return Call.objects.get()


def test_hold_plays_music_then_resume_reconnects(on_duty, agent_a, routed):  # noqa: F811
    def hold():
        call = current_call()
        assert controls.agent_call(call.case, agent_a) == call
        controls.set_hold(call, True)

    def resume():
        controls.set_hold(current_call(), False)

    call = services.start_call("h@h", "0612345678", "0140000000")
    line = run(call, AgentLine(["0"], {3: hold, 8: resume}))
    leg = line.legs[0]
    assert leg.holds == [True, False]
    assert "Votre conseiller vous met en attente. Merci de patienter." in line.said
    assert line.music >= 3  # the hold music looped until the agent came back
    steps = [s["step"] for s in call.steps]
    assert steps.index("agent_answered") < steps.index("hold") < steps.index("resume")
    assert call.ended_by == Call.EndedBy.AGENT and not call.on_hold
    assert call.case.status == Case.Status.ANSWERED


def test_blind_transfer_to_another_service_keeps_the_case(
    on_duty,  # noqa: F811
    second_service,
    agent_a,
    agent_b,
    topic_b,
    routed,  # noqa: F811
):
    def transfer():
        case = current_call().case
        transfer_case(case, to_service=second_service, reason="Question de santé", by=agent_a)

    call = services.start_call("t@h", "0612345678", "0140000000")
    line = run(call, AgentLine(["0"], {4: transfer}))
    assert line.rung == ["sip:alice@127.0.0.1:5070", "sip:bruno@127.0.0.1:5071"]
    first, second = line.legs
    assert first.hung_up and first.holds == [True]  # the caller no longer hears alice
    assert "Votre appel est transféré à un autre conseiller. Merci de patienter." in line.said
    case = call.case
    assert case.service == second_service and case.topic == topic_b
    assert case.assigned_to == agent_b and case.status == Case.Status.ANSWERED
    assert call.agent == agent_b and call.ended_by == Call.EndedBy.AGENT
    steps = [s["step"] for s in call.steps]
    assert steps.count("agent_answered") == 2 and "requeued" in steps
    types = list(Event.objects.filter(case=case).order_by("pk").values_list("type", "payload"))
    kinds = [t for t, _p in types]
    assert kinds.index(Event.Type.TRANSFER) < len(kinds) - 1
    requeued = [p for t, p in types if t == Event.Type.CALL and p.get("reason") == "transfer"]
    assert requeued and requeued[0]["from_agent"] == agent_a.pk


def test_caller_hangs_up_in_the_new_queue_leaves_the_case_answered(
    on_duty,  # noqa: F811
    second_service,
    agent_a,
    agent_b,
    routed,  # noqa: F811
):
    AgentPresence.objects.filter(user=agent_b).update(status=AgentPresence.Status.OFFLINE)

    def transfer():
        case = current_call().case
        transfer_case(case, to_service=second_service, reason="Santé", by=agent_a)

    call = services.start_call("u@h", "0612345678", "0140000000")
    line = run(call, AgentLine(["0"], {4: transfer}))
    assert len(line.legs) == 1  # nobody free in the other service: the caller hangs up
    assert call.ended_by == Call.EndedBy.CALLER
    assert controls.waiting_again(call)
    case = Case.objects.get(pk=call.case_id)
    assert case.service == second_service and case.status == Case.Status.ANSWERED
    assert case.assigned_to is None
    assert "left_queue" in [s["step"] for s in call.steps]


def test_hold_button_only_for_the_agent_on_the_call(
    on_duty,  # noqa: F811
    agent_a,
    client_as,
    supervisor,
):
    from contactcenter.services import open_case

    call = services.start_call("b@h", "0612345678", "0140000000")
    topic = on_duty["menu"].agent_topic
    case, _event = open_case(
        citizen=call.citizen, topic=topic, kind="question", channel="phone", subject="Appel"
    )
    Case.objects.filter(pk=case.pk).update(assigned_to=agent_a, status=Case.Status.ASSIGNED)
    url = f"/console/poste/demandes/{case.reference}/appel/"
    client = client_as(agent_a)
    assert client.post(url, {"action": "hold"}).status_code == 409  # no call bridged yet
    from django.utils import timezone

    Call.objects.filter(pk=call.pk).update(
        case=case, agent=agent_a, queued_at=timezone.now(), answered_at=timezone.now()
    )
    tab = client.get(f"/console/poste/demandes/{case.reference}/").content.decode()
    assert "Mettre en attente" in tab and f'data-ws-call="{call.pk}"' in tab
    response = client.post(url, {"action": "hold"})
    assert response.status_code == 200 and "Reprendre l'appel" in response.content.decode()
    call.refresh_from_db()
    assert call.on_hold
    assert "Mettre en attente" in client.post(url, {"action": "resume"}).content.decode()
    call.refresh_from_db()
    assert not call.on_hold
    # Someone else (a supervisor of the service) cannot hold the agent's call.
    assert client_as(supervisor).post(url, {"action": "hold"}).status_code == 409
    call.refresh_from_db()
    assert not call.on_hold
    assert client.get(url).status_code == 405


def test_call_summary_goes_to_the_citizens_messaging_once(
    on_duty,  # noqa: F811
    agent_a,
    agent_b,
    client_as,
    django_capture_on_commit_callbacks,
):
    import uuid

    from django.utils import timezone

    from contactcenter.services import open_case
    from messaging.models import Notification

    call = services.start_call("s@h", "0612345678", "0140000000")
    topic = on_duty["menu"].agent_topic
    case, _event = open_case(
        citizen=call.citizen, topic=topic, kind="question", channel="phone", subject="Appel"
    )
    url = f"/console/poste/demandes/{case.reference}/appel/resume/"
    data = {"body": "Nous avons vérifié votre dossier.", "idempotency_key": str(uuid.uuid4())}
    client = client_as(agent_a)
    headers = {"HTTP_HX_REQUEST": "true"}
    # No call of this case was answered by the agent: nothing is posted.
    assert client.post(url, data, **headers).status_code == 409
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        case=case, agent=agent_a, queued_at=now, answered_at=now, ended_at=now, ended_by="agent"
    )
    call.refresh_from_db()
    call_event = services.write_call_event(call, during_prompt=False)
    Case.objects.filter(pk=case.pk).update(assigned_to=agent_a, status=Case.Status.ANSWERED)
    tab = client.get(f"/console/poste/demandes/{case.reference}/").content.decode()
    assert "Résumé de l'appel pour l'usager" in tab
    data["idempotency_key"] = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, data, **headers)
        second = client.post(url, data, **headers)
    assert first.status_code == 200 and "envoyé dans la messagerie de l" in first.content.decode()
    assert second["Idempotent-Replayed"] == "true"
    messages = Event.objects.filter(
        case=case, type=Event.Type.MESSAGE, payload__contact_trace="phone"
    )
    assert messages.count() == 1
    message = messages.get()
    assert message.actor == agent_a and message.channel == "phone" and not message.internal
    # Tied to the call's event: the dashboard counts the call as followed by a trace.
    assert message.payload == {"contact_trace": "phone", "contact_event": call_event.pk}
    start, end = now - timedelta(minutes=1), timezone.now() + timedelta(minutes=1)
    assert trace_counts(start, end, service_ids=[case.service_id]) == {"phone": (1, 1)}
    assert message.body == "Nous avons vérifié votre dossier."
    alerts = Notification.objects.filter(case=case)
    assert alerts.exists() and all(data["body"] not in a.text for a in alerts)
    # An empty summary is refused; an agent of another service does not see the case.
    empty = {"body": " ", "idempotency_key": str(uuid.uuid4())}
    assert client.post(url, empty, **headers).status_code == 400
    assert client_as(agent_b).post(url, data | {"idempotency_key": "x"}).status_code == 404


def test_the_live_view_shows_an_agent_whose_call_is_on_hold_and_since_when(
    on_duty,  # noqa: F811
    agent_a,
    client_as,
    supervisor,
):
    import re
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    import routing
    from contactcenter.services import open_case

    call = services.start_call("h@h", "0612345678", "0140000000")
    case, _event = open_case(
        citizen=call.citizen,
        topic=on_duty["menu"].agent_topic,
        kind="question",
        channel="phone",
        subject="Appel",
    )
    Case.objects.filter(pk=case.pk).update(assigned_to=agent_a, status=Case.Status.ASSIGNED)
    start = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        case=case, agent=agent_a, queued_at=start, answered_at=start
    )
    AgentPresence.objects.update_or_create(user=agent_a, defaults={"status": "available"})

    def agent_row(now):
        (row,) = [r for r in routing.live_view(supervisor, now)["agents"] if r.agent == agent_a]
        return row

    assert agent_row(start).status == "busy"  # talking
    controls.set_hold(call, True)
    held_since = Call.objects.get(pk=call.pk).held_since
    assert held_since is not None and held_since >= start
    controls.set_hold(call, True)  # a second click keeps the start of the hold
    assert Call.objects.get(pk=call.pk).held_since == held_since
    row = agent_row(held_since + timedelta(seconds=90))
    assert (row.status, str(row.status_label)) == ("on_hold", "Appel en attente")
    assert row.since == held_since and row.in_status == timedelta(seconds=90)
    (section,) = routing.live_view(supervisor)["sections"]
    assert section.rows[0][4:] == [1, 1]  # with an agent, of which on hold

    # The supervision page's live partial (polled) and the dashboard's live tiles.
    Call.objects.filter(pk=call.pk).update(held_since=timezone.now() - timedelta(minutes=3))
    boss = client_as(supervisor)
    page = boss.get(reverse("routing:supervision_live"), HTTP_HX_REQUEST="true").content.decode()
    (cells,) = re.findall(rf"{agent_a.display_name}</th>(.*?)</tr>", page, re.S)
    assert "guichet-status-badge--on_hold" in cells and "Appel en attente" in cells
    assert "3 min" in cells
    live = boss.get(reverse("dashboard:live")).context["live"]
    assert live["on_hold"] == 1 and live["busy"] >= 1
    assert "avec un appel en attente" in boss.get(reverse("dashboard:live")).content.decode()

    controls.set_hold(call, False)  # taken back: busy again, and the hold time is cleared
    assert Call.objects.get(pk=call.pk).held_since is None
    assert agent_row(timezone.now()).status == "busy"
    page = boss.get(reverse("routing:supervision_live"), HTTP_HX_REQUEST="true").content.decode()
    assert "Appel en attente" not in page
