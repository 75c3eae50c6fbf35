"""The OpenAPI schema tells the truth: real responses validate against it, errors have one
format, unknown query parameters are refused, and the schema and its documentation page are
for logged-in users only unless API_DOCS_PUBLIC is on. The full contract (schemathesis against
a running server, every check, a citizen and an agent) is bin/api-contract, run by .ci/run."""

import json
import os
import subprocess
import sys

import pytest
import requests
import schemathesis
from django.test import override_settings

from contactcenter.models import Case


def as_schemathesis(response, method: str, path: str) -> schemathesis.Response:
    """A Django test response as the response schemathesis validates."""
    return schemathesis.Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method, f"http://testserver{path}").prepare(),
        elapsed=0.0,
        verify=False,
        encoding="utf-8",
    )


@pytest.fixture
def api_schema(client_as, citizen):
    response = client_as(citizen).get("/api/schema/?format=json")
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(json.loads(response.content))


def check(api_schema, client, method: str, path: str, template: str, status: int, **kwargs):
    response = getattr(client, method.lower())(path, **kwargs)
    assert response.status_code == status, response.content
    api_schema[template][method].validate_response(as_schemathesis(response, method, path))
    return response.json()


def test_case_responses_match_the_schema(api_schema, client_as, citizen, agent_a, case_a):
    assert case_a.resolution == ""  # an open case: the value the old schema rejected
    for user in (citizen, agent_a):
        client = client_as(user)
        page = check(api_schema, client, "GET", "/api/cases/", "/api/cases/", 200)
        assert page["results"][0]["resolution"] == ""
        detail = f"/api/cases/{case_a.reference}/"
        check(api_schema, client, "GET", detail, "/api/cases/{reference}/", 200)
        messages = f"/api/cases/{case_a.reference}/messages/"
        assert isinstance(
            check(api_schema, client, "GET", messages, "/api/cases/{reference}/messages/", 200),
            list,
        )


def test_errors_have_one_documented_format(api_schema, client_as, citizen, case_a):
    client = client_as(citizen)
    body = check(
        api_schema,
        client,
        "POST",
        "/api/cases/",
        "/api/cases/",
        400,
        data={"topic": "impots", "kind": "question", "subject": " ", "body": 12},
        content_type="application/json",
    )
    assert body["errors"] == {"body": ["Valeur attendue : du texte."]}
    assert body["detail"] == "Valeur attendue : du texte."
    missing = check(
        api_schema, client, "GET", "/api/cases/2000-999999/", "/api/cases/{reference}/", 404
    )
    assert set(missing) == {"detail"}
    reopen = f"/api/cases/{case_a.reference}/reopen/"
    state = check(api_schema, client, "POST", reopen, "/api/cases/{reference}/reopen/", 409)
    assert state["errors"] == {"non_field_errors": ["Cette demande n'est pas clôturée."]}


def test_unknown_query_parameters_are_refused(api_schema, client_as, citizen, case_a):
    client = client_as(citizen)
    body = check(
        api_schema,
        client,
        "GET",
        f"/api/cases/{case_a.reference}/?statut=new",
        "/api/cases/{reference}/",
        400,
    )
    assert body["errors"] == {"statut": ["Paramètre inconnu pour cette opération."]}
    listed = client.get("/api/cases/?status=new&statu=closed")
    assert listed.status_code == 400 and list(listed.json()["errors"]) == ["statu"]
    empty = client.get("/api/cases/?status=")
    assert empty.status_code == 400 and empty.json()["errors"] == {"status": ["Statut inconnu."]}


def test_json_bodies_must_have_the_schema_types(client_as, citizen, case_a):
    case_a.status = Case.Status.ANSWERED
    case_a.save(update_fields=["status"])
    response = client_as(citizen).post(
        f"/api/cases/{case_a.reference}/rating/", {"score": "5"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"score": ["Valeur attendue : un nombre entier."]}


def test_other_api_paths_are_json_404s(client_as, citizen):
    response = client_as(citizen).get("/api/nulle-part/\n")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Cette adresse ne correspond à aucune opération de l'API."}


@override_settings(API_DOCS_PUBLIC=False)
def test_schema_and_docs_need_a_login_when_not_public(client, client_as, citizen, agent_a):
    assert client.get("/api/schema/").status_code == 403
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith("/connexion/")
    assert client_as(citizen).get("/api/schema/").status_code == 200
    page = client_as(agent_a).get("/api/docs/")
    assert page.status_code == 200
    assert b"vendor/swagger-ui/swagger-ui-bundle.js" in page.content


@pytest.mark.django_db
@override_settings(API_DOCS_PUBLIC=True)
def test_schema_is_public_when_configured(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize(
    ("environment", "public"),
    [
        ({}, "True"),
        ({"GUICHET_ENV": "production"}, "False"),
        ({"GUICHET_ENV": "production", "API_DOCS_PUBLIC": "1"}, "True"),
    ],
)
def test_docs_are_public_by_default_only_outside_production(environment, public):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"GUICHET_ENV", "API_DOCS_PUBLIC", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "SECRET_KEY": "x" * 60,
            "ALLOWED_HOSTS": "guichet.example.fr",
            "DATABASE_URL": "postgres://guichet@db:5432/guichet",
            "REDIS_URL": "redis://redis:6379/0",
            **environment,
        }
    )
    code = "import contactcenter.settings as s; print(s.API_DOCS_PUBLIC)"
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == public


def test_footer_links_the_docs_for_staff_only(client_as, citizen, agent_a):
    assert b'href="/api/docs/"' in client_as(agent_a).get("/console/").content
    assert b'href="/api/docs/"' not in client_as(citizen).get("/espace/").content


def test_close_takes_a_json_object_or_nothing(client_as, agent_a, case_a):
    url = f"/api/cases/{case_a.reference}/close/"
    client = client_as(agent_a)
    null = client.post(url, "null", content_type="application/json")
    assert null.status_code == 400
    assert null.json()["detail"] == "Corps de requête attendu : un objet JSON, ou aucun corps."
    garbage = client.post(
        url, "--x\r\nNone--x--\r\n", content_type="multipart/form-data; boundary=x"
    )
    assert garbage.status_code == 415
    case_a.refresh_from_db()
    assert case_a.status != Case.Status.CLOSED


def test_a_reused_idempotency_key_answers_a_documented_422(client_as, citizen, case_a):
    client = client_as(citizen)
    schema = json.loads(client.get("/api/schema/?format=json").content)
    keyed = [
        (path, method, operation["responses"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    ]
    assert len(keyed) >= 5
    for path, method, responses in keyed:
        assert "422" in responses, (method, path)
    path = f"/api/cases/{case_a.reference}/messages/"
    headers = {"HTTP_IDEMPOTENCY_KEY": "cle-de-test-1"}
    first = client.post(path, {"body": "Bonjour"}, content_type="application/json", **headers)
    assert first.status_code == 201, first.content
    other = client.post(path, {"body": "Autre"}, content_type="application/json", **headers)
    assert other.status_code == 422
    assert set(other.json()) == {"detail"} and "idempotence" in other.json()["detail"]
