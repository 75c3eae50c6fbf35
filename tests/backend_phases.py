"""One run per CI phase for the tests that do not depend on the database backend.

CI runs the unit tests twice: on SQLite, then on PostgreSQL + Redis. A test marked
``backend_independent`` computes the same thing on both (a parser, a model, a real peer), so when
``TEST_BACKEND_INDEPENDENT_ONCE=1`` (set by ``.ci/run``) it runs in one phase only:
``@pytest.mark.backend_independent`` in the SQLite phase, ``@pytest.mark.backend_independent(
"postgresql")`` in the PostgreSQL one (real peers and the production stack). Without the
variable every test runs, whatever the database: ``bin/test`` alone runs them all.
See docs/testing.md."""

from __future__ import annotations

import os

import pytest

ONCE = "TEST_BACKEND_INDEPENDENT_ONCE"
PHASES = ("sqlite", "postgresql")


def pytest_collection_modifyitems(config, items):
    if os.environ.get(ONCE) != "1":
        return
    from django.conf import settings

    here = "postgresql" if settings.USING_POSTGRES else "sqlite"
    for item in items:
        mark = item.get_closest_marker("backend_independent")
        if mark is None:
            continue
        phase = mark.args[0] if mark.args else "sqlite"
        if phase not in PHASES:
            raise pytest.UsageError(
                f"{item.nodeid}: backend_independent({phase!r}), not in {PHASES}"
            )
        if phase != here:
            item.add_marker(
                pytest.mark.skip(reason=f"backend-independent, run in the {phase} phase")
            )
