"""The connection pool's settings (contactcenter/db_pool.py): sizes from the environment, no pool
in the ``celery`` command, persistent connections refused alongside it, and a pool timeout told
apart from other database errors. The pool at work on PostgreSQL: tests/topology/test_db_pool.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.db import OperationalError
from psycopg_pool import PoolTimeout

from contactcenter.db_pool import (
    DatabasePoolMiddleware,
    celery_command,
    is_pool_timeout,
    pool_options,
)

UVICORN = ["/srv/.venv/bin/uvicorn", "contactcenter.asgi:application"]


def test_defaults_and_sizes_from_the_environment():
    assert pool_options({}, UVICORN) == {
        "min_size": 2,
        "max_size": 10,
        "timeout": 10.0,
        "name": "guichet",
    }
    options = pool_options(
        {"DB_POOL_MIN_SIZE": "1", "DB_POOL_MAX_SIZE": "4", "DB_POOL_TIMEOUT": "2.5"}, UVICORN
    )
    assert options is not None
    assert (options["min_size"], options["max_size"], options["timeout"]) == (1, 4, 2.5)


@pytest.mark.parametrize(
    "argv",
    [
        ["/srv/.venv/bin/celery", "-A", "contactcenter", "worker"],
        ["/srv/.venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "x", "beat"],
    ],
)
def test_celery_takes_no_pool_unless_forced(argv):
    assert celery_command(argv)
    assert pool_options({}, argv) is None
    assert pool_options({"DB_POOL": "1"}, argv) is not None


def test_manage_py_and_the_voice_server_take_the_pool():
    assert not celery_command(["manage.py", "voice_server"])
    assert pool_options({}, ["manage.py", "voice_server"]) is not None
    assert pool_options({"DB_POOL": "0"}, ["manage.py", "voice_server"]) is None


@pytest.mark.parametrize(
    "environ",
    [
        {"DB_CONN_MAX_AGE": "60"},
        {"DB_POOL": "maybe"},
        {"DB_POOL_MIN_SIZE": "5", "DB_POOL_MAX_SIZE": "4"},
        {"DB_POOL_MAX_SIZE": "0", "DB_POOL_MIN_SIZE": "0"},
        {"DB_POOL_TIMEOUT": "0"},
        {"DB_POOL_MAX_SIZE": "ten"},
    ],
)
def test_wrong_settings_stop_the_start(environ):
    with pytest.raises(ImproperlyConfigured):
        pool_options(environ, UVICORN)


def test_persistent_connections_stay_possible_without_the_pool():
    assert pool_options({"DB_POOL": "0", "DB_CONN_MAX_AGE": "600"}, UVICORN) is None


def test_a_pool_timeout_is_told_apart_from_other_database_errors():
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc  # what Django's wrapper does
    except OperationalError as wrapped:
        assert is_pool_timeout(wrapped)
    assert not is_pool_timeout(OperationalError("sorry, too many clients already"))
    assert not is_pool_timeout(None)


def test_no_middleware_without_a_pool(settings):
    """The embedded default (SQLite) and DB_POOL=0 leave requests as they were."""
    if settings.DATABASES["default"].get("OPTIONS", {}).get("pool"):
        pytest.skip("this database has a pool")
    with pytest.raises(MiddlewareNotUsed):
        DatabasePoolMiddleware(lambda request: None)


@pytest.mark.parametrize(
    ("language", "expected"), [("fr", "Service surchargé"), ("en", "Service overloaded")]
)
def test_the_503_page_and_its_api_answer(rf, language, expected):
    from contactcenter.db_pool import pool_exhausted_response

    request = rf.get("/faq/", HTTP_ACCEPT_LANGUAGE=language)
    response = pool_exhausted_response(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert expected in body and "503" in body

    api = pool_exhausted_response(rf.get("/api/chatbot/messages", HTTP_ACCEPT_LANGUAGE="en"))
    assert api.status_code == 503
    assert api["Content-Type"] == "application/json"
