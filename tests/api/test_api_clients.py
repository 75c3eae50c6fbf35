"""API clients: OAuth2 client credentials, a token that sees only its services' cases, audited
reads, scopes, revocation, expiry and the per-client rate limit."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from accounts.api_clients import create_api_client, revoke_api_client
from accounts.models import ApiClient
from contactcenter.models import AuditLog

TOKEN_URL = "/api/oauth/token/"


def issue_token(credentials, **extra) -> dict:
    response = Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials", **extra},
        HTTP_AUTHORIZATION=basic(credentials.client_id, credentials.client_secret),
    )
    assert response.status_code == 200, response.content
    return response.json()


def basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def reader(service_a):
    return create_api_client("SI impôts", [service_a], [ApiClient.Scope.CASES_READ])


@pytest.fixture
def token(reader) -> str:
    return issue_token(reader)["access_token"]


def test_client_credentials_issue_a_short_lived_token(reader):
    data = issue_token(reader)
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 3600
    assert data["scope"] == "cases:read"
    # Only the hash of the secret is stored.
    assert reader.client.application.client_secret != reader.client_secret


def test_token_reads_only_its_services_cases(token, case_a, case_b):
    api = bearer(token)
    rows = api.get("/api/cases/").json()["results"]
    assert [row["reference"] for row in rows] == [case_a.reference]
    assert api.get(f"/api/cases/{case_a.reference}/").status_code == 200
    assert api.get(f"/api/cases/{case_a.reference}/messages/").status_code == 200
    assert api.get(f"/api/cases/{case_b.reference}/").status_code == 404


def test_reads_are_audited_with_the_client(reader, token, case_a):
    bearer(token).get(f"/api/cases/{case_a.reference}/")
    entry = AuditLog.objects.get(case=case_a)
    assert entry.actor == reader.client.account
    assert entry.actor_service_id == case_a.service_id
    assert entry.detail == {"api_client": reader.client_id}
    reader.client.refresh_from_db()
    assert reader.client.last_used_at is not None


def test_expired_token_is_401(token, case_a):
    # The only token of the test (stored hashed: RFC 9700 token storage).
    assert AccessToken.objects.count() == 1
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = bearer(token).get("/api/cases/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"]


def test_unknown_token_is_401(db):
    assert bearer("nimporte-quoi").get("/api/cases/").status_code == 401


def test_revoked_client_is_401_and_gets_no_token(reader, token):
    revoke_api_client(reader.client)
    assert bearer(token).get("/api/cases/").status_code == 401
    response = Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(reader.client_id, reader.client_secret),
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


def test_revoked_token_is_401(reader, token):
    response = Client().post(
        "/api/oauth/revoke/",
        {"token": token, "client_id": reader.client_id, "client_secret": reader.client_secret},
    )
    assert response.status_code == 200
    assert bearer(token).get("/api/cases/").status_code == 401


def test_scope_is_required(service_a, case_a):
    writer = create_api_client("SI webhooks", [service_a], [ApiClient.Scope.WEBHOOKS])
    response = bearer(issue_token(writer)["access_token"]).get("/api/cases/")
    assert response.status_code == 403
    assert "cases:read" in response.json()["detail"]


def test_a_client_cannot_ask_for_a_scope_it_was_not_given(reader):
    response = Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials", "scope": "cases:write"},
        HTTP_AUTHORIZATION=basic(reader.client_id, reader.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/cases/{ref}/messages/"),
        ("post", "/api/cases/{ref}/close/"),
        ("post", "/api/cases/{ref}/rating/"),
        ("get", "/api/cases/{ref}/attachments/"),
        ("get", "/api/routing/availability/"),
        ("post", "/api/chatbot/messages"),
    ],
)
def test_operations_not_open_to_clients_are_403(token, case_a, method, path):
    api = bearer(token)
    response = getattr(api, method)(
        path.format(ref=case_a.reference), {}, content_type="application/json"
    )
    assert response.status_code == 403, (path, response.status_code)


def test_rate_limit_per_client(settings, token, service_a):
    from rest_framework.settings import api_settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_client": "2/min"}
    from contactcenter.api_access import ApiClientThrottle

    ApiClientThrottle.THROTTLE_RATES = rates
    try:
        api = bearer(token)
        assert [api.get("/api/cases/").status_code for _ in range(3)] == [200, 200, 429]
        other = create_api_client("Autre SI", [service_a], [ApiClient.Scope.CASES_READ])
        assert bearer(issue_token(other)["access_token"]).get("/api/cases/").status_code == 200
    finally:
        ApiClientThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_token_endpoint_refuses_other_grants(reader, agent_a):
    response = Client().post(
        TOKEN_URL,
        # The agent's real password: the grant itself is refused, not the credentials.
        {
            "grant_type": "password",
            "username": agent_a.username,
            "password": "motdepasse-solide-2026",
        },
        HTTP_AUTHORIZATION=basic(reader.client_id, reader.client_secret),
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()
    assert not AccessToken.objects.filter(user=agent_a).exists()


def test_wrong_secret_gets_no_token(reader):
    response = Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(reader.client_id, "faux"),
    )
    assert response.status_code == 401


def test_session_auth_unchanged(client_as, agent_a, citizen, case_a):
    assert client_as(agent_a).get(f"/api/cases/{case_a.reference}/").status_code == 200
    assert client_as(citizen).get("/api/cases/").status_code == 200
    assert Client().get("/api/cases/").status_code == 403


def test_create_api_client_command(service_a, service_b):
    out = StringIO()
    call_command(
        "create_api_client",
        "--name",
        "SI",
        "--services",
        f"{service_a.code},{service_b.code}",
        "--scopes",
        "cases:read",
        stdout=out,
    )
    client = ApiClient.objects.get(application__name="SI")
    assert set(client.services.all()) == {service_a, service_b}
    assert client.scopes == ["cases:read"]
    assert client.application.client_id in out.getvalue()
    assert not client.account.is_active
    assert not client.account.has_usable_password()


def test_admin_creates_and_revokes(client_as, admin_user, service_a):
    admin = client_as(admin_user)
    response = admin.post(
        "/admin/accounts/apiclient/add/",
        {"name": "SI admin", "services": [service_a.pk], "scopes": ["cases:read"]},
        follow=True,
    )
    assert response.status_code == 200
    client = ApiClient.objects.get(application__name="SI admin")
    assert client.application.client_id in response.content.decode()
    assert admin.get(f"/admin/accounts/apiclient/{client.pk}/change/").status_code == 200
    assert admin.get("/admin/accounts/apiclient/").status_code == 200
    admin.post(
        "/admin/accounts/apiclient/",
        {"action": "revoke", "_selected_action": [client.pk]},
    )
    client.refresh_from_db()
    assert client.revoked_at is not None


@pytest.mark.django_db
def test_openapi_documents_both_authentications(client):
    schema = client.get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/api/oauth/token/"
    assert set(flow["scopes"]) == {"cases:read", "cases:write", "webhooks", "demarches:write"}
    opened = {
        ("get", "/api/cases/"): "cases:read",
        ("get", "/api/cases/{reference}/"): "cases:read",
        ("get", "/api/cases/{reference}/messages/"): "cases:read",
        ("post", "/api/cases/{reference}/close/"): "cases:write",
        ("post", "/api/cases/{reference}/reopen/"): "cases:write",
        ("post", "/api/demarches/"): "demarches:write",
        ("post", "/api/demarches/batch/"): "demarches:write",
        ("get", "/api/demarches/{type_code}/{reference}/"): "demarches:write",
        ("post", "/api/demarches/{type_code}/{reference}/step/"): "demarches:write",
        ("post", "/api/demarches/{type_code}/{reference}/close/"): "demarches:write",
        ("post", "/api/demarches/{type_code}/{reference}/documents/"): "demarches:write",
        (
            "get",
            "/api/demarches/{type_code}/{reference}/documents/{document_id}/",
        ): "demarches:write",
    }
    public = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            security = operation["security"]
            if security == [{}]:
                # No authentication at all: only the forum's public reading.
                public.add((method, path))
                continue
            assert {"cookieAuth": []} in security, (method, path)
            if (method, path) in opened:
                # Open to clients: the scope it needs, and the 401 and 429 of a token.
                assert {"oauth2": [opened[method, path]]} in security, (method, path)
                assert {"401", "429"} <= set(operation["responses"]), (method, path)
            else:
                assert not any("oauth2" in entry for entry in security), (method, path)
    assert public == {
        ("get", "/api/forum/threads/"),
        ("get", "/api/forum/threads/{id}/"),
        ("get", "/api/forum/threads/{id}/posts/"),
    }


@pytest.mark.django_db
def test_a_writer_closes_and_reopens_its_services_cases(service_a, case_a, case_b, citizen):
    from contactcenter.models import Case, Event

    writer = create_api_client(
        "SI impôts", [service_a], [ApiClient.Scope.CASES_READ, ApiClient.Scope.CASES_WRITE]
    )
    api = bearer(issue_token(writer, scope="cases:read cases:write")["access_token"])
    url = f"/api/cases/{case_a.reference}/close/"
    # It changes the status; it does not write to the citizen.
    refused = api.post(url, {"resolution": "answered", "body": "Bonjour"}, "application/json")
    assert refused.status_code == 400 and "body" in refused.json()["errors"]
    response = api.post(url, {"resolution": "answered"}, content_type="application/json")
    assert response.status_code == 200, response.content
    case_a.refresh_from_db()
    assert case_a.status == Case.Status.CLOSED and case_a.resolution == "answered"
    event = case_a.events.filter(type=Event.Type.STATUS).latest("created_at")
    account = writer.client.account
    assert event.actor == account and account.last_name == "SI impôts"
    assert api.post(url, {"resolution": "answered"}, "application/json").status_code == 409
    reopened = api.post(f"/api/cases/{case_a.reference}/reopen/")
    assert reopened.status_code == 200
    case_a.refresh_from_db()
    assert case_a.status != Case.Status.CLOSED
    # Another service's case: not found, as for its reads.
    other = api.post(f"/api/cases/{case_b.reference}/close/", {}, "application/json")
    assert other.status_code == 404


@pytest.mark.django_db
def test_writing_needs_the_write_scope(token, case_a):
    response = bearer(token).post(
        f"/api/cases/{case_a.reference}/reopen/", {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "cases:write" in response.json()["detail"]
