"""Hot statements (contactcenter.hot)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactcenter import hot
from contactcenter.models import Case, User


def test_literals_accept_code_constants_only():
    assert hot.literals([Case.Status.NEW, "in_progress"]) == "('new', 'in_progress')"
    assert hot.literal(Case.Status.NEW) == "'new'"
    for bad in (["x' OR '1'='1"], ["Nouveau"], ["a b"], []):
        with pytest.raises(ValueError):
            hot.literals(bad)


def test_row_reads_a_model_instance_with_converted_values(citizen, case_a):
    found = hot.row(Case, "reference", case_a.reference)
    assert found == case_a and found._state.adding is False
    # Datetimes aware, booleans as booleans (SQLite stores 0/1), foreign keys as ids.
    assert found.created_at == Case.objects.get(pk=case_a.pk).created_at
    assert found.fragile is False and found.citizen_id == citizen.pk
    assert hot.row(Case, "reference", "AUCUNE") is None
    with pytest.raises(ValueError):
        hot.row(Case, "subject", "x")  # not unique


@pytest.mark.django_db(transaction=True)
def test_row_locks_inside_a_transaction_and_is_counted_as_a_query(citizen, case_a):
    from django.db import transaction

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        hot.row(Case, "id", case_a.pk, lock=True)
    sqls = [q["sql"] for q in queries if "contactcenter_case" in q["sql"]]
    assert len(sqls) == 1
    assert ("FOR UPDATE" in sqls[0]) == connection.features.has_select_for_update


def test_columns_build_none_for_the_empty_side_of_an_outer_join():
    columns = hot.Columns(User, ("id", "email"), "u")
    assert columns.build([None, None]) is None
    with pytest.raises(ValueError):
        hot.Columns(User, ("id", "nope"), "u")
