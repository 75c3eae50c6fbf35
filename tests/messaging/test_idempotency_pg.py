"""The same form posted twice at the same instant acts once (two real requests, PostgreSQL).

Real concurrency needs PostgreSQL (row locks, separate connections per thread); SQLite
serialises writers on one file and the in-memory test database is not shared between threads.
"""

import uuid

import pytest
from django.urls import reverse

from contactcenter.models import Case, IdempotencyKey
from tests.concurrency import POSTGRES_ONLY, race
from tests.conftest import client_for

pytestmark = POSTGRES_ONLY


def post_twice_at_once(user, url, data):
    clients = [client_for(user), client_for(user)]  # two tabs, two connections
    results = race([lambda c=c: c.post(url, data) for c in clients])
    assert all(not isinstance(r, Exception) for r in results), results
    return results


@pytest.mark.django_db(transaction=True)
def test_parallel_replies_with_one_key_store_one_message(citizen, case_a):
    url = reverse("messaging:case_reply", args=[case_a.reference])
    for round_ in range(5):
        body = f"Réponse envoyée deux fois ({round_})"
        first, second = post_twice_at_once(
            citizen, url, {"body": body, "idempotency_key": str(uuid.uuid4())}
        )
        assert first.status_code == second.status_code == 302
        assert first["Location"] == second["Location"]
        replayed = [r for r in (first, second) if r.has_header("Idempotent-Replayed")]
        assert len(replayed) == 1, "one request acted, the other replayed its result"
        assert case_a.events.filter(body=body).count() == 1
    assert IdempotencyKey.objects.filter(status=IdempotencyKey.Status.DONE).count() == 5


@pytest.mark.django_db(transaction=True)
def test_parallel_new_requests_with_one_key_store_one_case(citizen, topic_a):
    url = reverse("messaging:new_request")
    for round_ in range(5):
        data = {
            "topic": "impots",
            "kind": "question",
            "subject": f"Double envoi {round_}",
            "body": "Bonjour",
            "idempotency_key": str(uuid.uuid4()),
        }
        first, second = post_twice_at_once(citizen, url, data)
        assert first.status_code == second.status_code == 302
        case = Case.objects.get(subject=data["subject"])
        assert (
            first["Location"]
            == second["Location"]
            == reverse("messaging:case_detail", args=[case.reference])
        )


@pytest.mark.django_db(transaction=True)
def test_parallel_api_cases_with_one_key_store_one_case(citizen, topic_a):
    url = reverse("messaging-api:case-list")
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"topic": "impots", "kind": "question", "subject": "API double", "body": "Bonjour"}
    clients = [client_for(citizen), client_for(citizen)]
    first, second = race(
        [
            lambda c=c: c.post(url, body, content_type="application/json", headers=headers)
            for c in clients
        ]
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Case.objects.filter(subject="API double").count() == 1
