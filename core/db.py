"""Database helpers that the ORM has no cheap form for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def update_rows(model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of each instance in ``rows`` (matched by primary key) in one statement:
    ``WITH v(pk, ...) AS (VALUES (...), ...) UPDATE table SET col = v.col ... FROM v WHERE table.pk = v.pk``.

    Django's ``bulk_update`` builds a ``CASE WHEN pk = ... THEN ...`` per field and row, which costs more to build
    than it saves; one row per ``VALUES`` tuple is cheap for the ORM and the database alike. PostgreSQL and SQLite
    (3.33 or newer) both take ``UPDATE ... FROM`` with a common table expression. Values are prepared by each field,
    as ``save()`` would; on PostgreSQL each is cast to its column's type (a ``VALUES`` list has no types of its own).
    Returns the number of rows updated."""
    if not rows:
        return 0
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    columns: list[Any] = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"

    def slot(field: Any) -> str:
        return f"CAST(%s AS {field.db_type(connection)})" if postgres else "%s"

    every = [pk, *columns]
    row_sql = "(" + ", ".join(slot(f) for f in every) + ")"
    params: list[Any] = []
    for row in rows:
        params.append(pk.get_db_prep_value(row.pk, connection))
        params.extend(f.get_db_prep_save(getattr(row, f.attname), connection) for f in columns)
    names = ["v_pk", *(f"v_{f.column}" for f in columns)]
    table = quote(meta.db_table)
    sets = ", ".join(f"{quote(f.column)} = v.{quote(n)}" for f, n in zip(columns, names[1:], strict=True))
    # Identifiers come from the model's meta, quoted; every value is a parameter.
    head = f"WITH v ({', '.join(quote(n) for n in names)}) AS (VALUES {', '.join([row_sql] * len(rows))}) "
    sql = head + f"UPDATE {table} SET {sets} FROM v WHERE {table}.{quote(pk.column)} = v.{quote('v_pk')}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
