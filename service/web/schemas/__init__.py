"""Marshmallow schemas: the HTTP contract."""
