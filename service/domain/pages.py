"""A page of a longer list, and how long the whole list is.

`Page` is a list, so that whoever only wants the items reads it as one; the JSON API
sends `total` as X-Total-Count beside the items."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Page(list[T]):
    """The items of one page; `total` counts the items of every page."""

    def __init__(self, items: Iterable[T] = (), *, total: int) -> None:
        super().__init__(items)
        self.total = total

    def map(self, view: Callable[[T], U]) -> Page[U]:
        """The same page with each item turned into `view(item)`."""
        return Page((view(item) for item in self), total=self.total)


def sliced(items: list[T], *, limit: int, offset: int) -> Page[T]:
    """A page cut from a list read whole."""
    return Page(items[offset : offset + limit], total=len(items))
