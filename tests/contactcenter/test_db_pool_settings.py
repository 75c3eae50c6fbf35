"""The connection pool's settings (contactcenter/db_pool.py): sizes from the environment, no pool
in the ``celery`` command nor in one-shot management commands (``check --deploy`` with an
unreachable database logs no pool warning), persistent connections refused alongside it, and a
pool timeout told apart from other database errors. The pool at work on PostgreSQL:
tests/topology/test_db_pool.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.db import OperationalError
from psycopg_pool import PoolTimeout

from contactcenter.db_pool import (
    DatabasePoolMiddleware,
    celery_command,
    is_pool_timeout,
    management_command,
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


@pytest.mark.parametrize(
    "argv", [["manage.py", "voice_server"], ["./manage.py", "runserver", "0.0.0.0:8000"]]
)
def test_the_servers_of_manage_py_take_the_pool(argv):
    assert not celery_command(argv)
    assert pool_options({}, argv) is not None
    assert pool_options({"DB_POOL": "0"}, argv) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py", "check", "--deploy"],
        ["/srv/manage.py", "migrate", "--noinput"],
        ["/srv/.venv/bin/django-admin", "compilemessages"],
        ["/srv/.venv/lib/python3.11/site-packages/django/__main__.py", "collectstatic"],
        ["manage.py"],
    ],
)
def test_one_shot_commands_take_no_pool_unless_forced(argv):
    assert management_command(argv) == (argv[1] if len(argv) > 1 else "")
    assert pool_options({}, argv) is None
    assert pool_options({"DB_POOL": "1"}, argv) is not None


def test_check_deploy_with_an_unreachable_database_logs_no_pool_warning():
    """CI's ``check --deploy`` (.ci/run): production settings, a database nobody listens to. The
    schema check reads the topics, which fails at once without a pool; with one, psycopg_pool
    retried in background threads for DB_POOL_TIMEOUT seconds, logging each failure."""
    root = Path(__file__).resolve().parents[2]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DB_", "DJANGO_", "DATABASE_", "REDIS_"))
    }
    env.update(
        GUICHET_ENV="production",
        SECRET_KEY="test-" + "k7Qz9xW2pL4vN8mR3tY6uB1cE5hJ0aSd" * 2,
        ALLOWED_HOSTS="guichet.example.fr",
        TRUSTED_PROXIES="10.0.0.5",
        MAIL_AUTHSERV_ID="mx.guichet.example.fr",
        DATABASE_URL="postgres://guichet@127.0.0.1:1/guichet",
        REDIS_URL="redis://127.0.0.1:1/0",
        DB_POOL_TIMEOUT="3",
        GUICHET_SMS_QUIET_START="0",
        GUICHET_SMS_QUIET_END="0",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "psycopg.pool" not in result.stderr, result.stderr[-3000:]
    assert "error connecting" not in result.stderr, result.stderr[-3000:]
    assert "no issues" in result.stdout


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
