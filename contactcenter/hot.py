"""Hot statements: the few SQL statements run on every assignment (the routing engine's agent
lock and claim).

Django's PostgreSQL cursors bind parameters on the client and never prepare, so each query is
planned again on every execution. The statements here are plain SQL written once, run through
``execute``: prepared on the server once per connection on PostgreSQL, a plain Django cursor
elsewhere (SQLite, the embedded default).

Every PostgreSQL connection is set to ``plan_cache_mode = force_generic_plan``
(``use_generic_plans``, on ``connection_created``). Only prepared statements are concerned, and
only hot statements are prepared (Django's own queries are bound on the client). Under the
default ``auto`` mode, PostgreSQL compares the cost of a generic plan with the custom plans of
the first five executions. The routing claim's generic plan cannot know the length of its topic
array, so its estimated cost is higher. PostgreSQL then plans the claim again on every
execution, about 1 ms each time, and the plan it gets is the same. The claim's generic plan is
explained by its benchmark (bench/routing_assign.py).

Behind a pooler in transaction mode, prepared statements need PgBouncer >= 1.21 with
``max_prepared_statements``. Set the plan cache mode on the database role as well
(``ALTER ROLE ... SET plan_cache_mode = force_generic_plan``): a session ``SET`` reaches only
the server connection it ran on.
"""

from __future__ import annotations

import re
import time

from django.db import connection


def use_generic_plans(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: prepared statements of a new PostgreSQL connection get
    their generic plan from the first execution on (see the module's docstring)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")


def execute(sql: str, params: list, fetch):
    """Run a hot statement and return ``fetch(cursor)``.

    On PostgreSQL the statement is prepared on the server, once per connection (psycopg's
    ``prepare=True`` with server-side binding). Errors are Django's database errors, as from
    ``connection.cursor()``."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return fetch(cursor)
    import psycopg

    connection.ensure_connection()
    logged = connection.queries_logged
    started = time.monotonic() if logged else 0.0
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        try:
            cursor.execute(sql, [_plain(value) for value in params], prepare=True)
            return fetch(cursor)
        finally:
            if logged:
                _log(sql, params, started)


def fetchone(sql: str, params: list):
    """The first row of a hot statement."""
    return execute(sql, params, lambda cursor: cursor.fetchone())


def fetchall(sql: str, params: list) -> list[tuple]:
    """Every row of a hot statement."""
    return execute(sql, params, lambda cursor: cursor.fetchall())


def _plain(value):
    """Choices members as the plain strings they stand for (server-side binding types them)."""
    return str(value) if isinstance(value, str) else value


def _log(sql: str, params: list, started: float) -> None:
    """Hot statements on PostgreSQL bypass Django's cursor: log them as it would (``DEBUG``,
    ``assertNumQueries``, the debug toolbar), so that they are counted like any query."""
    connection.queries_log.append(
        {"sql": f"{sql} -- {params!r}", "time": f"{time.monotonic() - started:.3f}"}
    )


_SAFE_LITERAL = re.compile(r"^[a-z0-9_]+$")


def table(model) -> str:
    """The quoted table name of a model."""
    return connection.ops.quote_name(model._meta.db_table)


def literals(values) -> str:
    """``('a', 'b')``: an IN list of code constants (choice values) written into a statement's
    text, so that the planner sees them even in a generic plan. Never for user input: anything
    but lower-case letters, digits and underscores is refused."""
    values = [str(value) for value in values]
    if not values or not all(_SAFE_LITERAL.match(value) for value in values):
        raise ValueError(f"not code constants: {values!r}")
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def literal(value) -> str:
    """``'value'``: one code constant written into a statement's text (see ``literals``)."""
    return literals([value])[1:-1]
