"""Plain inserts and locked reads for the upload path, without compiling a query per call.

``Model.objects.create`` builds and compiles an ``INSERT`` every time: on the upload path (a DSC
row, an audit event, an outbox row per upload) that compilation was about a fifth of the
request's CPU (``bench/upload.py --breakdown``). The statement text depends only on the model
and the database vendor, so it is built once here; the values still go through each field's own
``get_db_prep_save`` (datetimes, JSON, binary), exactly as the ORM prepares them, and are bound
as parameters. Only for models without save signals or custom ``save`` (checked by the tests of
the callers): nothing else of ``Model.save`` is skipped.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.db import connection
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


def insert(instance: M) -> M:
    """INSERT ``instance`` (a new, unsaved row with an auto primary key) and set its key."""
    statement, fields = _insert_statement(type(instance), connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        (primary_key,) = cursor.fetchone()
    instance.pk = primary_key
    instance._state.adding = False  # noqa: SLF001 - what Model.save sets after an insert
    instance._state.db = connection.alias  # noqa: SLF001
    return instance


def insert_rows(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """INSERT several rows of ``model`` (same keys each, no primary key) in one statement."""
    if not rows:
        return
    meta = model._meta  # noqa: SLF001 - Django's public model metadata API
    fields = [meta.get_field(name) for name in rows[0]]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    values = [field.get_db_prep_save(row[field.name], connection) for row in rows for field in fields]
    execute(f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {marks}", values)  # noqa: S608 - names from the model


def for_update() -> str:
    """The row-lock clause of a SELECT: PostgreSQL locks the row; SQLite has no row locks (its
    IMMEDIATE transactions already hold the database's write lock)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def execute(statement: str, params: list[Any]) -> int:
    """Run one statement; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount
