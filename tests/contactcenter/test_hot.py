"""Hot statements (contactcenter.hot)."""

import pytest
from django.db import connection

from contactcenter import hot
from contactcenter.models import Case


def test_literals_accept_code_constants_only():
    assert hot.literals([Case.Status.NEW, "in_progress"]) == "('new', 'in_progress')"
    assert hot.literal(Case.Status.NEW) == "'new'"
    for bad in (["x' OR '1'='1"], ["Nouveau"], ["a b"], []):
        with pytest.raises(ValueError):
            hot.literals(bad)


@pytest.mark.django_db
def test_postgresql_connections_run_prepared_statements_on_generic_plans():
    """Every new PostgreSQL connection is set to ``force_generic_plan`` (a prepared claim was
    planned again on every execution under ``auto``); a statement prepared through ``hot``
    then has a generic plan from its first execution."""
    if connection.vendor != "postgresql":
        pytest.skip("plan cache modes are PostgreSQL's")
    from django.db import connections

    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")
            assert cursor.fetchone()[0] == "force_generic_plan"
    finally:
        fresh.close()
    sql = "SELECT COUNT(*) FROM contactcenter_case WHERE status = %s"
    assert hot.fetchone(sql, ["new"]) == (0,)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'SELECT COUNT(*) FROM contactcenter_case WHERE status = $1'"
        )
        assert cursor.fetchone() == (1, 0)
