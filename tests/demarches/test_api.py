"""The démarches API for business systems: schema-valid answers, idempotent pushes, validation
against the type's steps, unknown citizens, other clients' démarches, revoked clients."""

import json

import pytest
import schemathesis

from accounts.api_clients import create_api_client, revoke_api_client
from accounts.models import ApiClient
from demarches.models import Demarche, DemarcheStep
from messaging.models import Notification
from tests.api.test_api_clients import bearer, issue_token
from tests.contactcenter.test_api_schema import as_schemathesis
from tests.upload_samples import upload, valid_pdf, windows_executable

from .conftest import create_body

BASE = "/api/demarches/"
ONE = "/api/demarches/{type_code}/{reference}/"


@pytest.fixture
def schema(client_as, citizen):
    response = client_as(citizen).get("/api/schema/?format=json")
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(json.loads(response.content))


def call(schema, api, method, path, template, status, **kwargs):
    response = getattr(api, method.lower())(path, **kwargs)
    assert response.status_code == status, response.content
    schema[template][method].validate_response(as_schemathesis(response, method, path))
    return response


def post_json(api, path, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(path, json.dumps(body), content_type="application/json", **headers)


def test_create_move_close_match_the_schema(
    schema, api, passport_type, fc_citizen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = call(
            schema,
            api,
            "POST",
            BASE,
            BASE,
            201,
            data=json.dumps(create_body(note="Reçu en mairie")),
            content_type="application/json",
        ).json()
    assert created["step"] == "depot"
    assert created["history"][0]["event"] == "created"
    one = f"{BASE}passeport/PASS-1/"
    call(schema, api, "GET", one, ONE, 200)
    with django_capture_on_commit_callbacks(execute=True):
        moved = call(
            schema,
            api,
            "POST",
            one + "step/",
            ONE + "step/",
            200,
            data=json.dumps({"step": "piece-manquante", "note": "Photo floue"}),
            content_type="application/json",
        ).json()
    assert moved["step"] == "piece-manquante" and moved["requires_action"] is True
    closed = call(
        schema,
        api,
        "POST",
        one + "close/",
        ONE + "close/",
        200,
        data=json.dumps({"step": "remis"}),
        content_type="application/json",
    ).json()
    assert closed["closed_at"] and closed["step"] == "remis"
    assert [row["event"] for row in closed["history"]] == ["created", "step", "closed"]
    # Audited: every write is recorded under the client's technical account.
    demarche = Demarche.objects.get()
    assert {entry.actor for entry in demarche.history.all()} == {demarche.client.account}
    # A content-free alert for the step change, linking to "Mes démarches".
    texts = list(
        Notification.objects.filter(kind__in=["demarche_step", "demarche_action"]).values_list(
            "text", flat=True
        )
    )
    assert any("Pièce manquante" in text for text in texts)
    assert all("Photo floue" not in text for text in texts)
    assert all("/espace/demarches/" in text for text in texts)
    # Ended: moving again is a 409.
    response = call(
        schema,
        api,
        "POST",
        one + "step/",
        ONE + "step/",
        409,
        data=json.dumps({"step": "instruction"}),
        content_type="application/json",
    )
    assert "terminée" in response.json()["detail"]


def test_wrong_step_lists_the_allowed_steps(schema, api, passport_type, fc_citizen):
    post_json(api, BASE, create_body())
    response = call(
        schema,
        api,
        "POST",
        f"{BASE}passeport/PASS-1/step/",
        ONE + "step/",
        400,
        data=json.dumps({"step": "envole"}),
        content_type="application/json",
    )
    message = response.json()["errors"]["step"][0]
    assert "envole" in message and "depot, piece-manquante, instruction" in message
    assert DemarcheStep.objects.count() == 1
    # The same with a creation at an unknown step.
    response = post_json(api, BASE, create_body("PASS-2", step="nope"))
    assert response.status_code == 400 and "Étapes possibles" in response.json()["detail"]


def test_idempotent_replays_act_once(api, passport_type, fc_citizen):
    first = post_json(api, BASE, create_body(), key="create-1")
    again = post_json(api, BASE, create_body(), key="create-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Demarche.objects.count() == 1
    step = f"{BASE}passeport/PASS-1/step/"
    for _ in range(3):
        response = post_json(api, step, {"step": "instruction"}, key="move-1")
        assert response.status_code == 200
    assert DemarcheStep.objects.filter(kind="step").count() == 1
    # Same key, other body: refused, nothing done.
    response = post_json(api, step, {"step": "remis"}, key="move-1")
    assert response.status_code == 422
    assert Demarche.objects.get().current_step.code == "instruction"
    # Without a key, the same reference twice is a conflict, not a second démarche.
    response = post_json(api, BASE, create_body())
    assert response.status_code == 409
    # Moving to the current step writes nothing.
    assert post_json(api, step, {"step": "instruction"}).status_code == 200
    assert DemarcheStep.objects.filter(kind="step").count() == 1


def test_unknown_citizen_is_404(schema, api, passport_type, fc_citizen):
    body = create_body()
    body["citizen"] = {"franceconnect_sub": "inconnu"}
    response = call(
        schema,
        api,
        "POST",
        BASE,
        BASE,
        404,
        data=json.dumps(body),
        content_type="application/json",
    )
    assert "usager" in response.json()["detail"].lower()
    by_tax = create_body()
    by_tax["citizen"] = {"tax_number": "1234567890123"}
    assert post_json(api, BASE, by_tax).status_code == 201
    two = create_body("PASS-3")
    two["citizen"] = {"tax_number": "1234567890123", "franceconnect_sub": "fc-sub-camille"}
    assert post_json(api, BASE, two).status_code == 400


def test_types_and_demarches_of_other_services_or_clients_are_not_found(
    api, passport_type, other_type, fc_citizen, service_a
):
    response = post_json(api, BASE, create_body(type="bourse"))
    assert response.status_code == 404
    assert post_json(api, BASE, create_body()).status_code == 201
    other = create_api_client("Autre SI", [service_a], [ApiClient.Scope.DEMARCHES_WRITE])
    other_api = bearer(issue_token(other)["access_token"])
    assert other_api.get(f"{BASE}passeport/PASS-1/").status_code == 404
    response = post_json(other_api, f"{BASE}passeport/PASS-1/step/", {"step": "instruction"})
    assert response.status_code == 404


def test_scope_session_and_revoked_client(
    api, pusher, passport_type, fc_citizen, service_a, client_as, citizen
):
    reader = create_api_client("Lecteur", [service_a], [ApiClient.Scope.CASES_READ])
    response = post_json(bearer(issue_token(reader)["access_token"]), BASE, create_body())
    assert response.status_code == 403 and "demarches:write" in response.json()["detail"]
    session = client_as(citizen)
    assert session.get(f"{BASE}passeport/PASS-1/").status_code == 403
    revoke_api_client(pusher.client)
    response = post_json(api, BASE, create_body())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Demarche.objects.exists()


def test_documents_go_through_the_upload_checks(api, passport_type, fc_citizen):
    post_json(api, BASE, create_body())
    path = f"{BASE}passeport/PASS-1/documents/"
    bad = api.post(path, {"file": upload("recepisse.pdf", windows_executable())})
    assert bad.status_code == 400 and bad.json()["errors"]["file"]
    good = api.post(
        path,
        {"file": upload("recepisse.pdf", valid_pdf()), "note": "Récépissé"},
        HTTP_IDEMPOTENCY_KEY="doc-1",
    )
    assert good.status_code == 201, good.content
    again = api.post(
        path,
        {"file": upload("recepisse.pdf", valid_pdf()), "note": "Récépissé"},
        HTTP_IDEMPOTENCY_KEY="doc-1",
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    documents = DemarcheStep.objects.filter(kind="document")
    assert documents.count() == 1
    download = good.json()["history"][-1]["document"]["url"]
    response = api.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
