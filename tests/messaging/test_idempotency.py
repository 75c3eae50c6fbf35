"""Double submits of the citizen space and of the messaging API act once (idempotency keys)."""

import html
import re
import uuid

from django.urls import reverse

from contactcenter.models import Case, Event, IdempotencyKey, Satisfaction
from messaging import services
from messaging.models import Attachment
from tests.messaging.conftest import pdf_file

KEY_INPUT = re.compile(r'<input type="hidden" name="idempotency_key" value="([^"]+)">')


def key() -> str:
    return str(uuid.uuid4())


def keys_in(response) -> list[str]:
    return KEY_INPUT.findall(response.content.decode())


def text(response) -> str:
    return html.unescape(response.content.decode())


def form_keys(response, form_id: str) -> list[str]:
    page = response.content.decode()
    start = page.index(f'id="{form_id}"')
    return KEY_INPUT.findall(page[start : page.index("</form>", start)])


NEW_REQUEST = {"topic": "impots", "kind": "question", "subject": "Taxe", "body": "Bonjour"}


# --- forms ------------------------------------------------------------------------------------


def test_new_request_form_carries_a_fresh_key_each_time(client_as, citizen, topic_a):
    url = reverse("messaging:new_request") + "?topic=impots&kind=question"
    client = client_as(citizen)
    first = form_keys(client.get(url), "new-request-form")
    second = form_keys(client.get(url), "new-request-form")
    assert len(first) == 1 and len(second) == 1
    assert first != second
    uuid.UUID(first[0])


def test_new_request_sent_twice_creates_one_case_and_replays_the_redirect(
    client_as, citizen, topic_a
):
    client = client_as(citizen)
    data = {**NEW_REQUEST, "idempotency_key": key(), "files": [pdf_file()]}
    first = client.post(reverse("messaging:new_request"), data)
    data["files"] = [pdf_file()]  # the same bytes, sent again
    second = client.post(reverse("messaging:new_request"), data)
    case = Case.objects.get()
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"] == case_url(case)
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Attachment.objects.count() == 1
    page = client.get(second["Location"]).content.decode()
    assert f"Votre demande {case.reference} a bien été envoyée" in page


def case_url(case) -> str:
    return reverse("messaging:case_detail", args=[case.reference])


def test_new_request_without_key_is_not_deduplicated(client_as, citizen, topic_a):
    client = client_as(citizen)
    client.post(reverse("messaging:new_request"), NEW_REQUEST)
    client.post(reverse("messaging:new_request"), NEW_REQUEST)
    assert Case.objects.count() == 2


def test_same_key_with_another_body_is_refused_and_creates_nothing(client_as, citizen, topic_a):
    client = client_as(citizen)
    same = key()
    client.post(reverse("messaging:new_request"), {**NEW_REQUEST, "idempotency_key": same})
    response = client.post(
        reverse("messaging:new_request"),
        {**NEW_REQUEST, "body": "Autre chose", "idempotency_key": same},
    )
    assert response.status_code == 422
    assert "Cette clé d'idempotence a déjà servi pour une autre requête" in text(response)
    assert Case.objects.count() == 1


def test_invalid_key_is_refused_with_a_precise_message(client_as, citizen, topic_a):
    response = client_as(citizen).post(
        reverse("messaging:new_request"), {**NEW_REQUEST, "idempotency_key": "a b"}
    )
    assert response.status_code == 400
    assert "Clé d'idempotence invalide" in text(response)
    assert not Case.objects.exists()


def test_reply_sent_twice_stores_one_message(client_as, citizen, case_a):
    client = client_as(citizen)
    url = reverse("messaging:case_reply", args=[case_a.reference])
    data = {"body": "Voici ma réponse", "idempotency_key": key()}
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert case_a.events.filter(body="Voici ma réponse").count() == 1


def test_reply_with_an_error_keeps_its_key_and_the_corrected_form_is_sent_once(
    client_as, citizen, case_a
):
    client = client_as(citizen)
    url = reverse("messaging:case_reply", args=[case_a.reference])
    same = key()
    refused = client.post(url, {"body": "   ", "idempotency_key": same})
    assert refused.status_code == 400
    # The reply form rendered again keeps the key; the other forms of the page get new ones.
    assert keys_in(refused)[0] == same
    assert keys_in(refused).count(same) == 1
    assert not IdempotencyKey.objects.exists(), "a failed request does not use up its key"
    ok = client.post(url, {"body": "Corrigé", "idempotency_key": same})
    again = client.post(url, {"body": "Corrigé", "idempotency_key": same})
    assert ok.status_code == again.status_code == 302
    assert case_a.events.filter(body="Corrigé").count() == 1


def test_rating_sent_twice_is_recorded_once(client_as, citizen, case_a, agent_a):
    services.post_agent_reply(case_a, agent_a, "Réponse")
    client = client_as(citizen)
    url = reverse("messaging:case_rate", args=[case_a.reference])
    data = {"score": "4", "comment": "Rapide", "idempotency_key": key()}
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert Satisfaction.objects.get(case=case_a).score == 4
    assert case_a.events.filter(type=Event.Type.RATING).count() == 1


def test_a_key_left_in_progress_by_a_crashed_request_does_not_block(client_as, citizen, case_a):
    same = key()
    url = reverse("messaging:case_reply", args=[case_a.reference])
    IdempotencyKey.objects.create(
        user=citizen, scope="messaging.views.case_reply", key=same, fingerprint="crashed"
    )
    response = client_as(citizen).post(url, {"body": "Après la panne", "idempotency_key": same})
    assert response.status_code == 302
    assert case_a.events.filter(body="Après la panne").count() == 1
    assert IdempotencyKey.objects.get(key=same).status == IdempotencyKey.Status.DONE


# --- API ----------------------------------------------------------------------------------------


def api_post(client, url, data, idem=None, **kwargs):
    headers = {"Idempotency-Key": idem} if idem else {}
    return client.post(url, data, content_type="application/json", headers=headers, **kwargs)


def test_api_case_created_twice_with_the_same_key_is_created_once(client_as, citizen, topic_a):
    client = client_as(citizen)
    url = reverse("messaging-api:case-list")
    same = key()
    first = api_post(client, url, NEW_REQUEST, same)
    second = api_post(client, url, NEW_REQUEST, same)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1


def test_api_same_key_other_body_is_a_422(client_as, citizen, topic_a):
    client = client_as(citizen)
    url = reverse("messaging-api:case-list")
    same = key()
    api_post(client, url, NEW_REQUEST, same)
    response = api_post(client, url, {**NEW_REQUEST, "subject": "Autre"}, same)
    assert response.status_code == 422
    assert "Cette clé d'idempotence a déjà servi" in response.json()["detail"]
    assert Case.objects.count() == 1


def test_api_invalid_key_is_a_400(client_as, citizen, topic_a):
    response = api_post(
        client_as(citizen), reverse("messaging-api:case-list"), NEW_REQUEST, "x" * 256
    )
    assert response.status_code == 400
    assert "Clé d'idempotence invalide" in response.json()["detail"]
    assert not Case.objects.exists()


def test_api_validation_error_does_not_use_up_the_key(client_as, citizen, topic_a):
    client = client_as(citizen)
    url = reverse("messaging-api:case-list")
    same = key()
    refused = api_post(client, url, {**NEW_REQUEST, "topic": "inconnu"}, same)
    assert refused.status_code == 400
    ok = api_post(client, url, NEW_REQUEST, same)
    assert ok.status_code == 201
    assert Case.objects.count() == 1


def test_api_message_posted_twice_is_stored_once(client_as, citizen, case_a):
    client = client_as(citizen)
    url = reverse("messaging-api:case-messages", args=[case_a.reference])
    same = key()
    first = api_post(client, url, {"body": "Par l'API"}, same)
    second = api_post(client, url, {"body": "Par l'API"}, same)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert case_a.events.filter(body="Par l'API").count() == 1


def test_api_agent_note_posted_twice_is_stored_once(client_as, agent_a, case_a):
    client = client_as(agent_a)
    url = reverse("messaging-api:case-messages", args=[case_a.reference])
    same = key()
    for _attempt in range(2):
        assert api_post(client, url, {"type": "note", "body": "Note API"}, same).status_code == 201
    assert case_a.events.filter(type=Event.Type.NOTE, body="Note API").count() == 1


def test_api_upload_sent_twice_stores_one_draft(client_as, citizen, case_a):
    client = client_as(citizen)
    url = reverse("messaging-api:case-attachments", args=[case_a.reference])
    same = key()
    first = client.post(url, {"file": pdf_file()}, headers={"Idempotency-Key": same})
    second = client.post(url, {"file": pdf_file()}, headers={"Idempotency-Key": same})
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert Attachment.objects.count() == 1


def test_api_rating_sent_twice_is_recorded_once(client_as, citizen, case_a, agent_a):
    services.post_agent_reply(case_a, agent_a, "Réponse")
    client = client_as(citizen)
    url = reverse("messaging-api:case-rating", args=[case_a.reference])
    same = key()
    first = api_post(client, url, {"score": 5}, same)
    second = api_post(client, url, {"score": 5}, same)
    assert first.status_code == second.status_code == 201
    assert case_a.events.filter(type=Event.Type.RATING).count() == 1


def test_openapi_schema_documents_the_header(client_as, agent_a):
    schema = client_as(agent_a).get(reverse("api-schema"), {"format": "json"}).json()
    documented = {
        (path, method)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert ("/api/cases/", "post") in documented
    assert ("/api/cases/{reference}/messages/", "post") in documented
    assert ("/api/cases/{reference}/attachments/", "post") in documented
    assert ("/api/cases/{reference}/rating/", "post") in documented
    assert ("/api/chatbot/messages", "post") in documented


def test_flash_message_is_shown_once_after_a_replay(client_as, citizen, case_a):
    client = client_as(citizen)
    url = reverse("messaging:case_reply", args=[case_a.reference])
    data = {"body": "Une fois", "idempotency_key": key()}
    client.post(url, data)
    second = client.post(url, data)
    page = client.get(second["Location"]).content.decode()
    assert page.count("Votre message a bien été envoyé.") == 1
    again = client.get(second["Location"]).content.decode()
    assert "Votre message a bien été envoyé." not in again


def test_messages_shown_by_a_refused_form_are_not_shown_again(client_as, citizen, case_a):
    client = client_as(citizen)
    services.citizen_close(case_a, citizen)
    client.post(reverse("messaging:case_reopen", args=[case_a.reference]))  # queues a message
    url = reverse("messaging:case_reply", args=[case_a.reference])
    refused = client.post(url, {"body": "  ", "idempotency_key": key()})
    assert refused.status_code == 400
    assert "Votre demande est rouverte" in refused.content.decode()
    page = client.get(case_url(case_a)).content.decode()
    assert "Votre demande est rouverte" not in page
