"""Conditions on a batch of keys that keep one SQL text whatever the batch's size."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement


def in_batch(
    connection: Connection,
    column: ColumnElement[Any],
    values: Collection[Any],
    *,
    name: str | None = None,
) -> ColumnElement[bool]:
    """`column` is one of `values`.

    On PostgreSQL `= ANY(:name)` with the values bound as one array: the SQL text is
    the same for every batch, so psycopg prepares the statement after a few uses and
    neither it nor the server parses and plans hundreds of parameters each time.
    Elsewhere `IN (...)` with the values written into the SQL as literals (each
    rendered by the column's type, so quoted as the type requires): SQLite before 3.32
    allows only 999 bound parameters in a statement, fewer than a batch may hold.
    """
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(name, list(values), type_=ARRAY(column.type)))
    return column.in_(
        bindparam(name, list(values), type_=column.type, expanding=True, literal_execute=True)
    )
