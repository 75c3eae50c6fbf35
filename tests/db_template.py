"""The migrated template of the PostgreSQL test databases (``bin/test``, docs/testing.md).

Each pytest-xdist worker creates a test database of its own; from an empty database that means
running every migration, once per worker and per phase. On PostgreSQL ``bin/test`` instead runs
them once per run, from zero, into a template database, in the background while pytest starts
and collects the tests::

    python -m tests.db_template create STATUS   # drops any old one, migrates a new one
    python -m tests.db_template drop STATUS     # at the end of the run

``STATUS`` is a file, empty until the template is ready; then ``ok <name>``, ``none`` (not
PostgreSQL: nothing to do) or ``failed <name>``. ``bin/test`` gives its path to pytest in
``TEST_DB_TEMPLATE``. ``use_template`` (called by ``tests/conftest.py`` before pytest-django
creates the test databases) waits for it and sets Django's
``DATABASES["default"]["TEST"]["TEMPLATE"]``: each worker's database is created by
``CREATE DATABASE ... TEMPLATE``, a copy of the migrated schema and of the migrations' data, and
Django's ``migrate`` on it finds every migration applied.

The template is created and dropped by Django's own test-database code (``create_test_db``: the
same ``migrate`` as a worker's, on an empty database; ``destroy_test_db``). Its name is the test
database's plus ``_template``: runs on different databases (``DATABASE_URL``, ``TEST_DB_NAME``)
have different templates.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ENV = "TEST_DB_TEMPLATE"
WAIT_SECONDS = 600


def template_name() -> str | None:
    """The template's name for the configured database, None unless it is PostgreSQL."""
    from django.db import connection
    from django.db.backends.base.creation import TEST_DATABASE_PREFIX

    if connection.vendor != "postgresql":
        return None
    conf = connection.settings_dict
    test_name = conf["TEST"].get("NAME") or TEST_DATABASE_PREFIX + conf["NAME"]
    return f"{test_name}_template"


def use_template() -> None:
    """Test databases copied from the template when ``bin/test`` migrates one (PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    name = ready_template()
    if name is not None:
        connection.settings_dict["TEST"]["TEMPLATE"] = name


def ready_template() -> str | None:
    """The migrated template's name once ``bin/test`` has made it (waiting for it), or None
    without one (not PostgreSQL, or pytest run directly). The browser tests' server creates
    its PostgreSQL database from it too (tests/e2e/conftest.py)."""
    path = os.environ.get(ENV)
    if not path:
        return None
    deadline = time.monotonic() + WAIT_SECONDS
    while not (status := Path(path).read_text()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"No template database after {WAIT_SECONDS} s ({path})")
        time.sleep(0.2)
    kind, _, name = status.partition(" ")
    if kind == "failed":
        raise RuntimeError("Migrating the template database failed: see bin/test's output")
    return name if kind == "ok" else None


def _write_status(path: str, status: str) -> None:
    """All at once: a waiting worker never reads half of it."""
    partial = Path(f"{path}.partial")
    partial.write_text(status)
    partial.replace(path)


def _create(name: str) -> None:
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    # CREATE DATABASE ... TEMPLATE refuses a template that has sessions open (no pool here).
    connection.close()


def create(status_path: str) -> None:
    """A new template, migrated from zero (an old one of the same name is dropped first)."""
    name = template_name()
    if name is None:
        _write_status(status_path, "none")
        return
    try:
        _create(name)
    except BaseException:  # Django's test-database code ends with sys.exit() on some errors
        _write_status(status_path, f"failed {name}")
        raise
    _write_status(status_path, f"ok {name}")


def drop(status_path: str) -> None:
    """Drop the template ``create`` made (ready, or left half-migrated by a failure)."""
    from django.db import connection

    kind, _, name = Path(status_path).read_text().partition(" ")
    if kind not in {"ok", "failed"}:
        return
    original = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = name
    connection.creation.destroy_test_db(original, verbosity=0)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"create", "drop"}:
        print("usage: python -m tests.db_template create|drop STATUS_FILE", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings_test")
    # One connection, closed when done: a pool would keep sessions open on the template.
    os.environ["DB_POOL"] = "0"
    import django

    django.setup()
    if argv[0] == "create":
        create(argv[1])
    else:
        drop(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
