"""An agent on the phone (an active phone or callback case: a call put through by the voice
server) counts against phone capacity and is not free for chat: no chat is routed to them, the
chat button hides when every chat agent is on the phone, and the call's end gives chats again.
Both engines (the portable one, and the PostgreSQL claim when run there)."""

import pytest

import routing
from contactcenter.models import Case
from contactcenter.services import change_status
from routing.capacity import free_capacity
from routing.engine import assign_available

from .conftest import make_case, set_available

pytestmark = pytest.mark.django_db


def on_a_call(citizen, topic, agent):
    call = make_case(citizen, topic, channel="phone")
    assert routing.route_case(call.pk) == agent.pk
    return Case.objects.get(pk=call.pk)


def test_an_agent_on_a_call_gets_no_chat_until_the_call_ends(citizen, topic_a, agent_a):
    set_available(agent_a)
    call = on_a_call(citizen, topic_a, agent_a)
    assert free_capacity(agent_a.pk, "phone") == 0
    assert free_capacity(agent_a.pk, "chat") == 0
    assert routing.compute_availability()[topic_a.slug] is False

    chat = make_case(citizen, topic_a, channel="chat")
    assert routing.route_case(chat.pk) is None
    assert assign_available(agent_a) == []

    change_status(call, Case.Status.ANSWERED)  # the call ended
    assert free_capacity(agent_a.pk, "chat") == 2
    assert routing.compute_availability()[topic_a.slug] is True
    assert [case.pk for case in assign_available(agent_a)] == [chat.pk]


def test_written_messages_still_reach_an_agent_on_a_call(citizen, topic_a, agent_a):
    set_available(agent_a)
    on_a_call(citizen, topic_a, agent_a)
    web = make_case(citizen, topic_a, channel="web")
    assert routing.route_case(web.pk) == agent_a.pk


def test_take_a_chat_while_on_a_call_is_refused(citizen, topic_a, agent_a):
    from django.core.exceptions import ValidationError

    set_available(agent_a)
    on_a_call(citizen, topic_a, agent_a)
    chat = make_case(citizen, topic_a, channel="chat")
    with pytest.raises(ValidationError):
        routing.take_case(agent_a, chat)
