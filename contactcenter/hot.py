"""Hot statements: the few SQL statements run on every assignment or every console page.

Django's PostgreSQL cursors bind parameters on the client and never prepare, so each query is
planned again on every request; and building then compiling a queryset costs more Python time
than the query itself (a synthesis sheet's case read: 1.7 ms to build, 1.4 ms to compile,
1.3 ms to run, 0.2 ms once prepared). The statements here are plain SQL written once, run
through ``execute``: prepared on the server once per connection on PostgreSQL, a plain Django
cursor elsewhere (SQLite, the embedded default). Their values come back through the model
fields' own database converters (``converters``), as the ORM would return them.

Every PostgreSQL connection is set to ``plan_cache_mode = force_generic_plan``
(``use_generic_plans``, on ``connection_created``). Only prepared statements are concerned, and
only hot statements are prepared (Django's own queries are bound on the client). Under the
default ``auto`` mode, PostgreSQL compares the cost of a generic plan with the custom plans of
the first five executions. The routing claim's generic plan cannot know the length of its topic
array, so its estimated cost is higher. PostgreSQL then plans the claim again on every
execution, about 1 ms each time, and the plan it gets is the same. Each hot statement's generic
plan is explained by its benchmark (bench/console_synthesis.py, bench/routing_assign.py).

Behind a pooler in transaction mode, prepared statements need PgBouncer >= 1.21 with
``max_prepared_statements``. Set the plan cache mode on the database role as well
(``ALTER ROLE ... SET plan_cache_mode = force_generic_plan``): a session ``SET`` reaches only
the server connection it ran on.
"""

from __future__ import annotations

import functools
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


def column_of(field, alias: str) -> str:
    """``alias."column"`` of a model field."""
    return f"{alias}.{connection.ops.quote_name(field.column)}"


def column(model, name: str, alias: str) -> str:
    """``alias."column"`` of a model field (by field name)."""
    return column_of(model._meta.get_field(name), alias)


def placeholders(count: int) -> str:
    """``(%s, %s, ...)`` for an IN list of ``count`` values (``count`` >= 1)."""
    return "(" + ", ".join(["%s"] * count) + ")"


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


class Columns:
    """Some fields of one model, read by a hot statement and built back into an instance with
    only those fields loaded (as ``.only()`` would). The fields are kept in the model's order,
    which ``Model.from_db`` expects."""

    def __init__(self, model, names, alias: str):
        wanted = set(names)
        self.model = model
        self.alias = alias
        self.fields = tuple(
            f for f in model._meta.concrete_fields if f.name in wanted or f.attname in wanted
        )
        self.attnames = tuple(f.attname for f in self.fields)
        # Where the primary key is in a row of these columns (built rows: one lookup, not one
        # per row). A Columns without the primary key cannot build instances.
        self._pk = (
            self.attnames.index(model._meta.pk.attname)
            if model._meta.pk.attname in self.attnames
            else None
        )
        missing = wanted - {f.name for f in self.fields} - set(self.attnames)
        if missing:
            raise ValueError(f"{model.__name__} has no field {sorted(missing)}")

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self) -> str:
        return ", ".join(column_of(field, self.alias) for field in self.fields)

    def build(self, values):
        """The instance, or None for the NULL row of an outer join (no primary key)."""
        if self._pk is None:
            raise ValueError(f"{self.model.__name__} columns without the primary key")
        if values[self._pk] is None:
            return None
        return self.model.from_db(connection.alias, self.attnames, values)


def split(row, parts) -> list:
    """Cut a row into consecutive slices of the widths of ``parts`` (``Columns`` or ints);
    whatever is left comes last."""
    out, start = [], 0
    for part in parts:
        width = part if isinstance(part, int) else len(part)
        out.append(row[start : start + width])
        start += width
    out.append(row[start:])
    return out


@functools.cache
def _field_converters(vendor: str, field) -> tuple:
    col = field.get_col(field.model._meta.db_table)
    return tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection)), col


def converters(fields) -> list[tuple[int, tuple, object]]:
    """For a statement returning the columns of ``fields`` in order (model fields; None for a
    computed column such as a count), the (position, converters, column) of those whose
    database value needs converting (JSON text, SQLite's datetimes and booleans...), for
    ``convert``."""
    out = []
    for position, field in enumerate(fields):
        if field is None:
            continue
        funcs, col = _field_converters(connection.vendor, field)
        if funcs:
            out.append((position, funcs, col))
    return out


def convert(rows, plan) -> list[list]:
    """The rows with each value through its field's database converters (``converters``)."""
    if not plan:
        return [list(row) for row in rows]
    converted = []
    for row in rows:
        values = list(row)
        for position, funcs, col in plan:
            value = values[position]
            for func in funcs:
                value = func(value, col, connection)
            values[position] = value
        converted.append(values)
    return converted


@functools.cache
def _row_statement(vendor: str, model, name: str, lock: bool):
    columns = Columns(model, [f.name for f in model._meta.concrete_fields], "r")
    suffix = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    sql = (
        f"SELECT {columns.sql()} FROM {table(model)} r "  # noqa: S608 (table and column names only)
        f"WHERE {column(model, name, 'r')} = %s{suffix}"
    )
    return sql, columns, converters(columns.fields)


def row(model, name: str, value, *, lock: bool = False):
    """The instance of ``model`` whose unique field ``name`` equals ``value`` (None if there is
    none), locked until the end of the transaction with ``lock`` (where the database has row
    locks): ``select_for_update().filter(name=value).first()`` as a hot statement."""
    field = model._meta.get_field(name)
    if not (field.unique or field.primary_key):
        raise ValueError(f"{model.__name__}.{name} is not unique")
    sql, columns, plan = _row_statement(connection.vendor, model, name, lock)
    found = fetchall(sql, [value])
    return columns.build(convert(found, plan)[0]) if found else None
