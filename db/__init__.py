"""Persistence: SQLAlchemy models, migrations, the unit of work and repositories."""
