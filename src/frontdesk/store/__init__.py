"""Storage: SQLAlchemy models, repositories, the space-scoping helper and migrations."""
