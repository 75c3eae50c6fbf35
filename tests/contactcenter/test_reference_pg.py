"""Case references under concurrency: parallel openings on PostgreSQL, each in its own
connection, get distinct consecutive numbers, also when the year's counter row is created by
the race itself (``next_reference``: the UPDATE takes the row lock)."""

import pytest

from contactcenter.models import Case, Channel, ReferenceCounter
from contactcenter.services import open_case
from tests.concurrency import POSTGRES_ONLY, race

pytestmark = POSTGRES_ONLY


@pytest.mark.django_db(transaction=True)
def test_parallel_openings_get_distinct_consecutive_references(citizen, topic_a):
    def opening(i):
        return lambda: (
            open_case(
                citizen=citizen,
                topic=topic_a,
                kind=Case.Kind.QUESTION,
                channel=Channel.EMAIL,
                subject=f"Demande {i}",
                route=False,
            )[0].reference
        )

    assert not ReferenceCounter.objects.exists()  # the first round also creates the year's row
    references: list[str] = []
    for round_ in range(2):
        results = race([opening(i) for i in range(6)])
        assert all(isinstance(r, str) for r in results), results
        references += results
    numbers = sorted(int(r.split("-")[1]) for r in references)
    assert numbers == list(range(1, 13))
    assert Case.objects.count() == 12
