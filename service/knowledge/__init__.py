"""The curated drug catalog and interaction rules shipped with medtrack, and the
importers for licensed external datasets. See data/README.md for the format."""

from service.knowledge.loader import KnowledgeBaseError, load, load_from

__all__ = ["KnowledgeBaseError", "load", "load_from"]
