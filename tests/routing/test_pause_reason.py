"""A pause with its reason: set by the agent from the status widget, shown to supervisors,
cleared when the agent is no longer paused."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

import routing


def test_pause_keeps_its_reason_and_other_statuses_clear_it(agent_a):
    presence = routing.set_status(agent_a, "paused", reason="meal")
    assert presence.pause_reason == "meal"
    assert routing.set_status(agent_a, "available", reason="meal").pause_reason == ""
    assert routing.set_status(agent_a, "paused").pause_reason == ""


def test_unknown_pause_reason_is_refused_precisely(agent_a):
    with pytest.raises(ValidationError) as exc:
        routing.set_status(agent_a, "paused", reason="sieste")
    assert exc.value.message_dict["reason"] == ["Motif de pause inconnu."]
    assert routing.get_presence(agent_a).status == "offline"


def test_status_widget_posts_the_reason_and_shows_it(agent_a, supervisor):
    client = Client()
    client.force_login(agent_a)
    response = client.post(
        reverse("routing:status_widget"),
        {"status": "paused", "reason": "training"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="training" selected>' in html
    assert "data-routing-pause-reason>Formation<" in html
    bad = client.post(
        reverse("routing:status_widget"),
        {"status": "paused", "reason": "sieste"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 400 and "Motif de pause inconnu." in bad.content.decode()
    assert 'name="reason" aria-invalid="true" aria-describedby="routing-pause-reason-messages"' in (
        bad.content.decode()
    )
    boss = Client()
    boss.force_login(supervisor)
    live = boss.get(reverse("routing:supervision_live"), HTTP_HX_REQUEST="true")
    assert "Formation" in live.content.decode()
