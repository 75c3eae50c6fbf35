"""``/health/live`` and ``/health/ready`` (contactcenter/health.py): answered before any redirect,
host check or session, 503 with the names of what failed, never any data."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from django.test import Client

from contactcenter import health
from contactcenter import settings as production

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # port 1: nothing listens there


@pytest.fixture
def client():
    return Client()


@pytest.fixture(autouse=True)
def _recheck_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def test_live_answers_without_database_session_or_known_host(client, settings):
    # No db mark: any database access would raise. Production's HTTPS redirect and a balancer
    # probing by address (Host not in ALLOWED_HOSTS) must not turn the probe into a 301 or 400.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["guichet.example.fr"]
    response = client.get("/health/live", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies
    assert "X-Guichet-Process" not in response


@pytest.mark.django_db
def test_ready_when_everything_answers(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["guichet.example.fr"]
    response = client.get("/health/ready", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "failed": []}
    assert not response.cookies
    assert client.head("/health/ready", HTTP_HOST="10.0.0.7").status_code == 200


def test_not_ready_without_the_database(client):
    # Without the db mark pytest-django refuses every connection, in every thread.
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "failed": ["database", "migrations"]}


@pytest.mark.django_db
def test_not_ready_when_redis_is_away(client, settings):
    settings.HEALTH_CHECK_TIMEOUT = 2
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": production.redis_channel_layer(UNREACHABLE_REDIS, "health-test")
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body == {"status": "fail", "failed": ["cache", "broker", "channel_layer"]}
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_not_ready_while_a_migration_is_pending(client, settings):
    # A migration the code knows and the database has not recorded: what a process started
    # before `migrate` finished sees.
    settings.MIGRATION_MODULES = {"contactcenter": "tests.contactcenter.pending_migrations"}
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["migrations"]


@pytest.mark.django_db
def test_not_ready_while_the_knowledge_engine_is_built_at_start(client, monkeypatch):
    """KNOWLEDGE_WARM_UP: a balancer sends no traffic to a process whose chatbot engine is still
    being built (the first questions would wait for it holding their connections)."""
    from knowledge import engine, warm_up

    gate = threading.Event()
    monkeypatch.setattr(engine, "get_engine", lambda: gate.wait(10))
    warm_up.warm_up_in_background()
    try:
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["failed"] == ["knowledge"]
    finally:
        gate.set()
    for _ in range(100):
        if not warm_up.warming_up():
            break
        time.sleep(0.05)
    assert client.get("/health/ready").status_code == 200


@pytest.mark.django_db
def test_other_methods_refused(client):
    assert client.post("/health/ready").status_code == 405
    assert client.post("/health/live").status_code == 405


@pytest.mark.django_db
def test_process_header_only_when_asked(settings):
    settings.PROCESS_HEADER = True
    os.environ["GUICHET_PROCESS_NAME"] = "web-7"
    try:
        response = Client().get("/health/live")
        assert response["X-Guichet-Process"] == "web-7"
    finally:
        del os.environ["GUICHET_PROCESS_NAME"]


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_ready_against_redis(client, settings):
    settings.CACHES = {
        "default": {**production.CACHES["default"], "KEY_PREFIX": f"health-{uuid.uuid4().hex[:8]}"}
    }
    settings.CHANNEL_LAYERS = production.CHANNEL_LAYERS
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    assert response.json()["failed"] == []
