"""Double submits of the chat's forms (rating, summary, transfer) act once."""

import uuid

from django.urls import reverse

from contactcenter.models import Event, Transfer


def key() -> str:
    return str(uuid.uuid4())


def test_rating_sent_twice_is_recorded_once(client_as, live_chat, citizen):
    client = client_as(citizen)
    client.post(reverse("chat:leave", args=[live_chat.pk]))
    page = client.get(reverse("chat:conversation", args=[live_chat.pk])).content.decode()
    assert 'name="idempotency_key"' in page
    url = reverse("chat:rate", args=[live_chat.pk])
    data = {"score": "5", "comment": "Merci", "idempotency_key": key()}
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Idempotent-Replayed"] == "true"
    assert Event.objects.filter(case_id=live_chat.case_id, type=Event.Type.RATING).count() == 1


def test_summary_sent_twice_ends_the_chat_once(
    client_as, live_chat, agent_a, django_capture_on_commit_callbacks
):
    client = client_as(agent_a)
    url = reverse("chat:finish", args=[live_chat.pk])
    data = {"summary": "Prochaine étape : formulaire 2042.", "idempotency_key": key()}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, data, HTTP_HX_REQUEST="true")
        second = client.post(url, data, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert f'data-chat-finished="{live_chat.pk}"' in second.content.decode()
    assert (
        Event.objects.filter(case_id=live_chat.case_id, body__contains="formulaire 2042").count()
        == 1
    )


def test_transfer_sent_twice_transfers_once(client_as, live_chat, agent_a, service_b, topic_b):
    client = client_as(agent_a)
    panel = client.get(reverse("chat:panel", args=[live_chat.pk])).content.decode()
    assert panel.count('name="idempotency_key"') == 2  # summary and transfer
    url = reverse("chat:transfer", args=[live_chat.pk])
    data = {
        "to_service": service_b.pk,
        "to_topic": topic_b.pk,
        "reason": "Assurance maladie",
        "idempotency_key": key(),
    }
    first = client.post(url, data, HTTP_HX_REQUEST="true")
    second = client.post(url, data, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert f'data-chat-transferred="{live_chat.pk}"' in second.content.decode()
    assert Transfer.objects.filter(case_id=live_chat.case_id).count() == 1


def test_summary_refused_in_a_200_fragment_keeps_its_key_for_the_corrected_one(
    client_as, live_chat, agent_a, django_capture_on_commit_callbacks
):
    """htmx error fragments are 200s: the form shown again with its key marks the failure."""
    client = client_as(agent_a)
    url = reverse("chat:finish", args=[live_chat.pk])
    same = key()
    refused = client.post(url, {"summary": "", "idempotency_key": same}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200
    assert "Le message ne peut pas être vide." in refused.content.decode()
    assert f'name="idempotency_key" value="{same}"' in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url, {"summary": "Synthèse corrigée", "idempotency_key": same}, HTTP_HX_REQUEST="true"
        )
    assert f'data-chat-finished="{live_chat.pk}"' in done.content.decode()
    live_chat.refresh_from_db()
    assert not live_chat.is_open
