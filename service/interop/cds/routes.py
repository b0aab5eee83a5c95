"""Every module of the CDS Hooks service that adds routes, imported once when mounted."""

from __future__ import annotations


def load() -> None:
    from service.interop.cds import discovery, feedback, service  # noqa: F401
