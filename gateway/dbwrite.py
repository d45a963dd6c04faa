"""Plain inserts and locked reads for the upload path, without compiling a query per call.

``Model.objects.create`` builds and compiles an ``INSERT`` every time: on the upload path (a DSC
row, an audit event, an outbox row per upload) that compilation was about a fifth of the
request's CPU (``bench/upload.py --breakdown``). The statement text depends only on the model
and the database vendor, so it is built once here; the values still go through each field's own
``get_db_prep_save`` (datetimes, JSON, binary), exactly as the ORM prepares them, and are bound
as parameters. Only for models without save signals or custom ``save`` (tests/test_dbwrite.py
checks those it writes): nothing else of ``Model.save`` is skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


@functools.cache
def _insert_statement(model: type[Model], vendor: str) -> tuple[str, tuple[Field, ...]]:
    del vendor  # part of the cache key: quoting and RETURNING differ per database
    meta = model._meta  # noqa: SLF001 - Django's public model metadata API
    fields = tuple(field for field in meta.concrete_fields if not field.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    statement = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks}) RETURNING {quote(meta.pk.column)}"  # noqa: S608 - names from the model, values bound
    return statement, fields


# One SQL statement and its parameters.
Statement = tuple[str, list[Any]]


def _values(instance: Model, fields: tuple[Field, ...]) -> list[Any]:
    return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]


def _saved(instance: M, primary_key: Any) -> M:
    instance.pk = primary_key
    instance._state.adding = False  # noqa: SLF001 - what Model.save sets after an insert
    instance._state.db = connection.alias  # noqa: SLF001
    return instance


def insert(instance: M, *, along: Sequence[Statement | None] = ()) -> M:
    """INSERT ``instance`` (a new, unsaved row with an auto primary key) and set its key.

    ``along``: statements that belong with the insert and whose order among themselves does not
    matter (the caller already holds the locks they need). On PostgreSQL they run in the same
    statement as data-modifying CTEs (one round trip); elsewhere one after another.
    """
    statement, fields = _insert_statement(type(instance), connection.vendor)
    values = _values(instance, fields)
    others = [item for item in along if item is not None]
    if others and connection.vendor == "postgresql":
        ctes = [f"inserted AS ({statement})"] + [f"along_{n} AS ({sql})" for n, (sql, _) in enumerate(others)]
        statement = "WITH " + ", ".join(ctes) + " SELECT * FROM inserted"  # noqa: S608 - statements built here
        values = values + [value for _, params in others for value in params]
        others = []
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        (primary_key,) = cursor.fetchone()
        for sql, params in others:
            cursor.execute(sql, params)
    return _saved(instance, primary_key)


def insert_after(instance: M, first: Statement) -> M | None:
    """Run ``first`` (an UPDATE that locks a row), then INSERT ``instance`` only if it changed a
    row; None if it changed none (nothing inserted).

    The insert starts after ``first`` holds its lock, so the new row's id is drawn under it. On
    PostgreSQL both are one statement: the INSERT selects from the UPDATE's RETURNING, which
    orders them (CTEs otherwise run in no set order); the values carry explicit casts because a
    SELECT list does not take its types from the target columns.
    """
    sql, params = first
    statement, fields = _insert_statement(type(instance), connection.vendor)
    values = _values(instance, fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            meta = type(instance)._meta  # noqa: SLF001 - Django's public model metadata API
            columns = ", ".join(quote(field.column) for field in fields)
            casts = ", ".join(f"%s::{field.db_type(connection)}" for field in fields)
            cursor.execute(
                f"WITH first AS ({sql} RETURNING 1) INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
                f"SELECT {casts} FROM first RETURNING {quote(meta.pk.column)}",
                [*params, *values],
            )
            row = cursor.fetchone()
            return None if row is None else _saved(instance, row[0])
        cursor.execute(sql, params)
        if cursor.rowcount == 0:
            return None
        cursor.execute(statement, values)
        (primary_key,) = cursor.fetchone()
    return _saved(instance, primary_key)


def rows_statement(model: type[Model], rows: list[dict[str, Any]]) -> Statement | None:
    """INSERT several rows of ``model`` (same keys each, no primary key) in one statement; None
    for no rows."""
    if not rows:
        return None
    meta = model._meta  # noqa: SLF001 - Django's public model metadata API
    fields = [meta.get_field(name) for name in rows[0]]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    values = [field.get_db_prep_save(row[field.name], connection) for row in rows for field in fields]
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {marks}", values  # noqa: S608 - names from the model


def for_update() -> str:
    """The row-lock clause of a SELECT: PostgreSQL locks the row; SQLite has no row locks (its
    IMMEDIATE transactions already hold the database's write lock)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def execute(statement: str, params: list[Any]) -> int:
    """Run one statement; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def insert_many(model: type[M], instances: Iterable[M], *, chunk: int = 5000) -> int:
    """INSERT many new rows of ``model`` (no save hooks, auto primary key); the number inserted.

    On PostgreSQL the rows stream through ``COPY ... FROM STDIN`` (one statement, no per-row
    parsing or planning: a peer's first import is 100,000 rows); elsewhere ``bulk_create`` in
    batches. The values go through each field's ``get_db_prep_save``, as the ORM prepares them,
    so a row reads back the same either way (tests/test_dbwrite.py). The primary keys are not
    set on ``instances``: callers that need them read them back.
    """
    if connection.vendor != "postgresql":
        rows = list(instances)
        model.objects.bulk_create(rows, batch_size=chunk)  # type: ignore[attr-defined]
        return len(rows)
    _, fields = _insert_statement(model, connection.vendor)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"  # noqa: SLF001 - names from the model
        ) as copy,
    ):
        # The connection itself, not django.db.connection's proxy: each field's preparation reads
        # it, and 2.4 million lookups through the proxy cost seconds on a first import (cProfile).
        database = connections[DEFAULT_DB_ALIAS]
        for instance in instances:
            copy.write_row([field.get_db_prep_save(field.pre_save(instance, True), database) for field in fields])
            count += 1
    return count
