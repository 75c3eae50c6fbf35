"""``one_index_check``: a batch (an IMAP fetch of e-mails) checks the knowledge base's state
once; outside a batch every search checks it, so a change is seen at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import engine as E
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
