"""The chatbot's hand-off offers to book an appointment for the conversation's topic (the
appointments app answers through the core's ``booking_offer_requested``), prefilled."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from appointments.models import AppointmentType, Mode
from contactcenter.models import Topic
from knowledge.models import Conversation
from tests.knowledge.test_chatbot import ask


def bookable(topic, mode=Mode.PHONE):
    return AppointmentType.objects.create(service=topic.service, topic=topic, mode=mode)


def booking_option(data):
    return next((o for o in data["handoff"]["options"] if o["kind"] == "booking"), None)


@pytest.mark.django_db
def test_no_booking_offered_when_nothing_is_bookable(citizen_client):
    data = ask(citizen_client, "mon compte est bloqué").json()
    assert data["handoff"] and booking_option(data) is None
    url = reverse("knowledge:handoff", args=[data["conversation"], "booking"])
    assert citizen_client.get(url).status_code == 404


@pytest.mark.django_db
def test_handoff_books_for_the_topic_of_the_conversation(citizen_client, client_as, citizen):
    topic = Topic.objects.get(slug="compte")
    bookable(topic)
    bookable(topic, Mode.VISIO)
    data = ask(citizen_client, "mon compte est bloqué").json()
    option = booking_option(data)
    assert option is not None and "rendez-vous" in option["label"]
    response = citizen_client.get(option["url"])
    target = urlparse(response["Location"])
    assert target.path == reverse("appointments:book")
    assert parse_qs(target.query) == {"theme": ["compte"]}
    conversation = Conversation.objects.get(pk=data["conversation"])
    assert conversation.handoff_kind == "booking" and conversation.handed_off_at
    # Prefilled: the booking page opens on the topic's modes.
    page = citizen_client.get(response["Location"])
    assert page.templates[0].name == "appointments/book_mode.html"
    text = page.content.decode()
    assert "Par téléphone" in text and "En visioconférence" in text


@pytest.mark.django_db
def test_topic_without_types_books_among_its_service_topics(citizen_client):
    topic = Topic.objects.get(slug="compte")
    other = Topic.objects.filter(service=topic.service, is_active=True).exclude(pk=topic.pk).first()
    bookable(other)
    data = ask(citizen_client, "mon compte est bloqué").json()
    target = urlparse(citizen_client.get(booking_option(data)["url"])["Location"])
    assert parse_qs(target.query) == {"service": [topic.service.code]}
    page = citizen_client.get(target.path + "?" + target.query)
    assert page.templates[0].name == "appointments/book_topic.html"
    assert list(page.context["topics"]) == [other]
