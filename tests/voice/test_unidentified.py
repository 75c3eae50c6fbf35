"""Unidentified callers reach an agent (voice.unidentified): the phone case belongs to the
"Appelant non identifié" placeholder, the workstation's citizen panel shows the caller ID and
links the case to the citizen the agent recognised."""

from __future__ import annotations

import uuid

import pytest

from contactcenter.models import AuditLog, Case, Event, User
from tests.voice.test_to_agent import Line, on_duty, routed, run  # noqa: F401
from tests.voice.test_voice_units import phone_setup  # noqa: F401
from voice import services
from voice.models import Call
from voice.unidentified import UNIDENTIFIED_CALLER_EMAIL, find_citizen

pytestmark = pytest.mark.django_db


def test_unidentified_caller_reaches_an_agent(on_duty, agent_a, routed):  # noqa: F811
    call = services.start_call("u1@h", "0699999999", "0140000000")
    assert call.citizen_id is None
    line = run(call, Line(["0"]))
    assert line.rung == ["sip:alice@127.0.0.1:5070"]
    case = call.case
    assert case.citizen.email == UNIDENTIFIED_CALLER_EMAIL and not case.citizen.is_active
    assert case.channel == "phone" and case.assigned_to == agent_a
    queued = Event.objects.filter(case=case, type=Event.Type.CALL).order_by("pk").first()
    assert queued.payload["unidentified"] is True
    assert call.ended_by == Call.EndedBy.AGENT and call.citizen_id is None
    steps = {s["step"]: s for s in call.steps}
    assert steps["transfer"]["identified"] is False
    # A second unknown caller gets a case of their own (never joined).
    other = services.start_call("u2@h", "0688888888", "0140000000")
    run(other, Line(["0"]))
    assert other.case_id != case.pk
    assert Case.objects.filter(citizen__email=UNIDENTIFIED_CALLER_EMAIL).count() == 2


def test_agent_links_the_caller_to_a_citizen(on_duty, agent_a, agent_b, routed, client_as):  # noqa: F811
    citizen = User.objects.get(mobile_phone="+33612345678")
    call = services.start_call("u3@h", "0699999999", "0140000000")
    run(call, Line(["0"]))
    case = call.case
    client = client_as(agent_a)
    panel_url = f"/console/poste/demandes/{case.reference}/usager/"
    panel = client.get(panel_url).content.decode()
    assert "Appelant non identifié" in panel and "06 99 99 99 99" in panel
    url = f"/console/poste/demandes/{case.reference}/appelant/"
    headers = {"HTTP_HX_REQUEST": "true"}
    unknown = client.post(url, {"citoyen": "0677777777", "idempotency_key": str(uuid.uuid4())})
    assert unknown.status_code == 400 and "Aucun compte" in unknown.content.decode()
    # Another service's agent does not see the case.
    data = {"citoyen": "06 12 34 56 78", "idempotency_key": str(uuid.uuid4())}
    assert client_as(agent_b).post(url, data).status_code == 404
    linked = client.post(url, data, **headers)
    assert linked.status_code == 200
    assert citizen.display_name in linked.content.decode()
    case.refresh_from_db()
    assert case.citizen == citizen
    assert not Event.objects.filter(case=case).exclude(citizen=citizen).exists()
    assert Call.objects.get(pk=call.pk).citizen == citizen
    note = Event.objects.filter(case=case, type=Event.Type.NOTE).get()
    assert note.internal and note.payload["linked_caller"] == "0699999999"
    assert AuditLog.objects.filter(
        actor=agent_a, action=AuditLog.Action.VIEW_SYNTHESIS, citizen=citizen
    ).exists()
    # Linked: the panel is the citizen's; linking again is refused.
    again = {"citoyen": "06 12 34 56 78", "idempotency_key": str(uuid.uuid4())}
    assert client.post(url, again).status_code == 409
    assert "Appelant non identifié" not in client.get(panel_url).content.decode()


def test_find_citizen_by_address_or_mobile(phone_setup):  # noqa: F811
    citizen = User.objects.get(mobile_phone="+33612345678")
    assert find_citizen("CAM@example.fr") == citizen
    assert find_citizen("06 12 34 56 78") == citizen
    assert find_citizen("pas un numéro") is None
    assert find_citizen(UNIDENTIFIED_CALLER_EMAIL) is None
