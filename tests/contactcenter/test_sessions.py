"""Sliding session expiry (contactcenter.middleware.SlidingSessionMiddleware): the idle timeout
moves with each request, but the session row is written at most once per interval."""

import time

from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactcenter.middleware import SESSION_REFRESHED_KEY


def session_writes(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]


def test_session_is_written_once_per_interval_not_on_every_request(client_as, citizen, settings):
    settings.SESSION_REFRESH_INTERVAL = 60
    client = client_as(citizen)
    client.get("/espace/")  # first request: the refresh mark is stored
    key = client.session.session_key
    first_expiry = Session.objects.get(session_key=key).expire_date
    assert session_writes(client, "/espace/") == []
    assert session_writes(client, "/espace/") == []
    assert Session.objects.get(session_key=key).expire_date == first_expiry


def test_session_expiry_moves_once_the_interval_has_passed(
    client_as, citizen, settings, monkeypatch
):
    settings.SESSION_REFRESH_INTERVAL = 60
    client = client_as(citizen)
    client.get("/espace/")
    key = client.session.session_key
    first = Session.objects.get(session_key=key)
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert len(session_writes(client, "/espace/")) == 1
    refreshed = Session.objects.get(session_key=key)
    assert refreshed.expire_date > first.expire_date
    assert refreshed.get_decoded()[SESSION_REFRESHED_KEY] == int(later)


def test_anonymous_visit_creates_no_session(client, db):
    response = client.get("/")
    assert response.status_code in (200, 302)
    assert Session.objects.count() == 0


def test_cached_sessions_are_read_from_the_cache_and_kept_in_the_database(
    client_as, citizen, settings
):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    client = client_as(citizen)
    client.get("/espace/")
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()  # written through
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/espace/").status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"]]
