"""``one_index_check``: a batch (an IMAP fetch of e-mails) checks the knowledge base's state
once; outside a batch every search checks it, so a change is seen at once."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import engine as E
from knowledge import warm_up
from knowledge.services import one_index_check

pytestmark = pytest.mark.django_db


def queries(work) -> int:
    with CaptureQueriesContext(connection) as ctx:
        work()
    return len(ctx.captured_queries)


def test_the_index_is_checked_once_per_block_and_at_every_search_outside():
    E.reset_engine()
    E.get_engine()  # built
    assert queries(E.get_engine) == 6  # the signature's six aggregates
    with one_index_check():
        first = queries(E.get_engine)
        assert first == 6
        assert queries(E.get_engine) == 0
        pinned = E.get_engine()
        with one_index_check():  # a nested block checks again
            assert queries(E.get_engine) == 6
        assert E.get_engine() is pinned
    assert queries(E.get_engine) == 6


def wait_for_the_warm_up() -> None:
    deadline = time.monotonic() + 120
    while warm_up.warming_up():
        assert time.monotonic() < deadline, "the warm-up did not end"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)  # the warm-up thread reads through its own connection
def test_the_warm_up_builds_the_engine_before_the_first_question():
    E.reset_engine()
    warm_up.warm_up_in_background()
    wait_for_the_warm_up()
    assert queries(E.get_engine) == 6  # the signature only: already built


@pytest.mark.django_db(transaction=True)
def test_a_failed_warm_up_ends_and_leaves_the_build_to_the_first_question(monkeypatch, caplog):
    E.reset_engine()

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(E, "build_engine", broken)
    warm_up.warm_up_in_background()
    wait_for_the_warm_up()
    assert "warm-up failed" in caplog.text
    monkeypatch.undo()
    assert queries(E.get_engine) > 6  # built now
