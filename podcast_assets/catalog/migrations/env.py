"""Alembic environment: migrations run on the connection `CatalogResource` hands over (config.attributes)."""

from alembic import context

from podcast_assets.catalog.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
