"""The catalog database: feeds, subscribers, sign-ups, feedback and the delivery ledger, shared by the web app,
the CLI and the daily run. SQLite (WAL) under the home folder by default, PostgreSQL when
PODCAST_BRIEF_CATALOG_URL is set. The daily run's analytical tables stay in the warehouse (DuckDB / the lake)."""

from podcast_assets.catalog.resource import CATALOG_URL_ENV, CatalogResource

__all__ = ["CATALOG_URL_ENV", "CatalogResource"]
