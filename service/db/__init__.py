"""Persistence: SQLModel tables, engine, repositories, unit of work, migrations."""
