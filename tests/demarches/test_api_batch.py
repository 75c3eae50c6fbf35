"""The batch endpoint of the démarches API: schema-valid answers, per-operation results with
partial success (a bad operation never loses the good ones nor half-writes), idempotent
replays per operation, the single calls' checks, scoping, notifications and webhooks."""

import json
from datetime import datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts import webhooks
from accounts.api_clients import create_api_client, revoke_api_client
from accounts.models import ApiClient, WebhookDelivery, WebhookEndpoint
from contactcenter.models import IdempotencyKey
from demarches import services
from demarches.models import Demarche, DemarcheStep
from messaging.models import Notification
from tests.api.test_api_clients import bearer, issue_token

from .conftest import create_body
from .test_api import BASE, ONE, call, post_json, schema  # noqa: F401 (fixture)

BATCH = BASE + "batch/"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def demarches(api, passport_type, fc_citizen):
    for reference in ("PASS-1", "PASS-2", "PASS-3"):
        assert post_json(api, BASE, create_body(reference)).status_code == 201
    return Demarche.objects.order_by("external_reference")


@pytest.fixture
def endpoint(pusher):
    found, _secret = webhooks.create_endpoint(
        pusher.client, "http://127.0.0.1:9/hooks", WebhookEndpoint.EventType.values
    )
    return found


def op(key, reference, step="", kind="step", **extra):
    body = {"op": kind, "idempotency_key": key, "type": "passeport", "reference": reference}
    if step:
        body["step"] = step
    return {**body, **extra}


def send(schema, api, operations, status=200):  # noqa: F811
    return call(
        schema,
        api,
        "POST",
        BATCH,
        BATCH,
        status,
        data=json.dumps({"operations": operations}),
        content_type="application/json",
    ).json()


@override_settings(GUICHET_WEBHOOK_ALLOW_HTTP_LOOPBACK=True)
def test_mixed_batch_keeps_the_good_operations_and_writes_nothing_of_the_bad(
    schema,  # noqa: F811
    api,
    demarches,
    endpoint,
    django_capture_on_commit_callbacks,
):
    services.close_demarche(demarches[2].client, "passeport", "PASS-3", "remis")
    history_before = DemarcheStep.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        answer = send(
            schema,
            api,
            [
                op("k1", "PASS-1", "piece-manquante", note="Photo floue"),
                op("k2", "PASS-1", "instuction"),  # not a step of the type
                op("k3", "INCONNUE", "instruction"),  # no such démarche
                op("k4", "PASS-3", "instruction"),  # ended
                op("k5", "PASS-2", "instruction", note="x" * 1001),  # note too long
                {"op": "step", "idempotency_key": "k6", "type": "passeport"},  # no reference
                op("k1", "PASS-2", "instruction"),  # key repeated in the batch
                op("k7", "PASS-2", "depot"),  # already there: nothing to write
                op("k8", "PASS-1", "remis", kind="close"),  # after k1, in order
            ],
        )
    statuses = [result["status"] for result in answer["results"]]
    assert statuses == [200, 400, 404, 409, 400, 400, 400, 200, 200]
    assert (answer["succeeded"], answer["failed"]) == (3, 6)
    results = answer["results"]
    assert "Étapes possibles : depot, piece-manquante" in results[1]["error"]["detail"]
    assert results[1]["error"]["errors"]["step"]
    assert results[2]["error"]["detail"] == "Démarche introuvable."
    assert "terminée" in results[3]["error"]["detail"]
    assert results[4]["error"]["errors"]["note"]
    assert results[5]["error"]["errors"]["reference"]
    assert "opération 0" in results[6]["error"]["detail"]
    assert results[7]["history_id"] is None and results[7]["demarche"]["step"] == "depot"
    # Each answer is the démarche right after its own operation.
    assert results[0]["demarche"]["step"] == "piece-manquante"
    assert results[0]["demarche"]["requires_action"] is True
    assert results[8]["demarche"]["step"] == "remis" and results[8]["demarche"]["closed_at"]
    # Written: two history rows under the client's account, nothing for the refusals.
    written = DemarcheStep.objects.order_by("id")[history_before:]
    assert [(row.kind, row.step.code) for row in written] == [
        ("step", "piece-manquante"),
        ("closed", "remis"),
    ]
    assert {row.actor for row in written} == {demarches[0].client.account}
    assert str(written[0].public_id) == results[0]["history_id"]
    assert written[0].note == "Photo floue"
    assert Demarche.objects.get(external_reference="PASS-2").current_step.code == "depot"
    # One webhook outbox row per change and endpoint, the events in order, content-free.
    rows = WebhookDelivery.objects.filter(source_key__in=[f"demarche:{r.pk}" for r in written])
    assert sorted(rows.values_list("event_type", flat=True)) == [
        "demarche.closed",
        "demarche.step_changed",
    ]
    moved = json.loads(rows.get(event_type="demarche.step_changed").body)["data"]
    assert moved["step"] == {"from": "depot", "to": "piece-manquante"}
    assert moved["demarche"]["step"] == "piece-manquante"  # as it was then, not "remis"
    assert "Photo floue" not in rows.get(event_type="demarche.step_changed").body
    # The citizen's alerts, content-free, in the outbox; one task each for the two outboxes.
    alerts = Notification.objects.filter(idempotency_key__contains=f"demarche:{written[0].pk}")
    assert alerts.exists() and all("Photo floue" not in alert.text for alert in alerts)
    assert Notification.objects.filter(kind="demarche_closed").exists()
    assert len(callbacks) == 2
    # The refused operations' keys are free: corrected, they go through.
    again = send(schema, api, [op("k2", "PASS-2", "instruction")])
    assert again["results"][0]["status"] == 200 and not again["results"][0]["replayed"]


def test_replays_act_once_per_operation(schema, api, demarches):  # noqa: F811
    operations = [op("a", "PASS-1", "instruction"), op("b", "PASS-2", "piece-manquante")]
    first = send(schema, api, operations)
    counts = (DemarcheStep.objects.count(), Notification.objects.count())
    again = send(schema, api, [*operations, op("c", "PASS-3", "instruction")])
    assert [r["replayed"] for r in again["results"]] == [True, True, False]
    for before, after in zip(first["results"], again["results"][:2], strict=True):
        assert {**before, "replayed": True} == after
    assert DemarcheStep.objects.count() == counts[0] + 1  # only "c"
    assert Notification.objects.count() > counts[1]
    # The same key with another content: refused (422) for that operation alone.
    reused = send(schema, api, [op("a", "PASS-1", "remis"), op("d", "PASS-2", "instruction")])
    assert [r["status"] for r in reused["results"]] == [422, 200]
    assert Demarche.objects.get(external_reference="PASS-1").current_step.code == "instruction"
    # Keys are kept per client, as done, with their answers.
    assert IdempotencyKey.objects.filter(scope="demarches.batch", status="done").count() == 4


def test_oversize_or_empty_batch_is_refused_whole(schema, api, demarches):  # noqa: F811
    operations = [op(f"k{i}", "PASS-1", "instruction") for i in range(101)]
    answer = send(schema, api, operations, status=400)
    assert "100 opérations au plus" in answer["detail"]
    assert answer["errors"]["operations"]
    assert send(schema, api, [], status=400)["errors"]["operations"]
    assert not DemarcheStep.objects.filter(kind="step").exists()
    assert not IdempotencyKey.objects.filter(scope="demarches.batch").exists()


def test_other_clients_demarches_revoked_client_and_sessions(
    api, pusher, demarches, service_a, client_as, citizen
):
    other = create_api_client("Autre SI", [service_a], [ApiClient.Scope.DEMARCHES_WRITE])
    other_api = bearer(issue_token(other)["access_token"])
    answer = post_json(other_api, BATCH, {"operations": [op("x", "PASS-1", "instruction")]})
    assert answer.status_code == 200
    assert answer.json()["results"][0]["status"] == 404
    reader = create_api_client("Lecteur", [service_a], [ApiClient.Scope.CASES_READ])
    refused = post_json(bearer(issue_token(reader)["access_token"]), BATCH, {"operations": []})
    assert refused.status_code == 403
    assert client_as(citizen).post(BATCH, {}, content_type="application/json").status_code == 403
    revoke_api_client(pusher.client)
    response = post_json(api, BATCH, {"operations": [op("y", "PASS-1", "instruction")]})
    assert response.status_code == 401
    assert not DemarcheStep.objects.filter(kind="step").exists()


@override_settings(GUICHET_SMS_QUIET_START=20, GUICHET_SMS_QUIET_END=8)
def test_alerts_of_a_batch_keep_the_quiet_hours(schema, api, demarches, fc_citizen):  # noqa: F811
    fc_citizen.notify_sms = True
    fc_citizen.save(update_fields=["notify_sms"])
    evening = datetime(2026, 12, 4, 21, 30, tzinfo=PARIS)
    before = list(Notification.objects.values_list("pk", flat=True))
    with mock.patch("django.utils.timezone.now", return_value=evening):
        send(schema, api, [op("q1", "PASS-1", "instruction"), op("q2", "PASS-2", "instruction")])
    alerts = Notification.objects.exclude(pk__in=before).filter(kind="demarche_step")
    sms, email = alerts.filter(channel="sms"), alerts.filter(channel="email")
    assert sms.count() == email.count() == 2
    assert {row.next_attempt_at for row in sms} == {datetime(2026, 12, 5, 8, 0, tzinfo=PARIS)}
    assert {row.next_attempt_at for row in email} == {evening}


def test_a_batch_costs_a_fixed_number_of_statements(api, demarches):
    def statements(prefix, steps):
        operations = [
            op(f"{prefix}{i}", f"PASS-{1 + i % 3}", step)
            for i, step in enumerate(step for step in steps for _ in range(3))
        ]
        with CaptureQueriesContext(connection) as queries:
            response = post_json(api, BATCH, {"operations": operations})
        assert response.status_code == 200
        assert all(result["history_id"] for result in response.json()["results"])
        return len(queries)

    assert statements("s", ["instruction"]) == statements("t", ["depot", "instruction"])
    assert DemarcheStep.objects.filter(kind="step").count() == 9


def test_a_single_push_reads_its_step_with_the_demarche(api, demarches):
    path = ONE.format(type_code="passeport", reference="PASS-1") + "step/"
    with CaptureQueriesContext(connection) as queries:
        response = post_json(api, path, {"step": "instruction"}, key="single-1")
    assert response.status_code == 200
    sql = [query["sql"] for query in queries]
    assert not [text for text in sql if 'FROM "demarches_demarchetypestep"' in text]
