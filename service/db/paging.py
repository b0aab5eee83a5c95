"""The count of all a query's rows, for the total beside a page of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func
from sqlmodel import Session


def count_rows(session: Session, query: Any) -> int:
    """How many rows `query` (a SELECT, SQLAlchemy's or SQLModel's, whose generic
    parameters differ) has without limit or offset: the same FROM, joins and WHERE,
    counted by the database."""
    counting: Select[Any] = query.with_only_columns(func.count(), maintain_column_froms=True)
    counting = counting.order_by(None)
    return int(session.connection().execute(counting.limit(None).offset(None)).scalar_one())
