"""`CatalogResource`: one SQLAlchemy engine per URL and process, migrated to the latest Alembic revision (and an
existing DuckDB home imported once) on first use."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from podcast_assets.settings import home_dir

CATALOG_URL_ENV = "PODCAST_BRIEF_CATALOG_URL"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_BUSY_TIMEOUT_MS = 60_000
_READY: dict[str, sa.Engine] = {}
_READY_LOCK = threading.Lock()


def _sqlite_engine(url: str) -> sa.Engine:
    # WAL: readers never wait for the writer. busy_timeout: a writer waits for another instead of failing.
    # BEGIN IMMEDIATE: take the write lock when a transaction starts, so two writers queue on busy_timeout
    # instead of one failing with "database is locked" when it upgrades a read lock (SQLite's deadlock rule).
    # Pooled (SQLAlchemy's QueuePool for a SQLite file): opening a connection and setting its pragmas took more
    # than a millisecond, twice per email at 100,000 emails a day.
    engine = sa.create_engine(url, connect_args={"isolation_level": None, "timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _forget_inherited_connections() -> None:
    """In a forked child (Celery's prefork pool, multiprocessing): the parent's pooled connections are the
    parent's; the child opens its own (SQLAlchemy's documented rule for pools across fork)."""
    for engine in _READY.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _migrate(engine: sa.Engine) -> None:
    """Upgrade to head. Concurrent first uses queue: SQLite on its write lock (BEGIN IMMEDIATE), PostgreSQL on an
    advisory lock; the second finds the catalog at head and does nothing."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(8058)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class CatalogResource(dg.ConfigurableResource):
    """`url`: a SQLAlchemy URL (e.g. `postgresql+psycopg2://user:pw@host/db`); falls back to
    PODCAST_BRIEF_CATALOG_URL, then to SQLite `<PODCAST_BRIEF_HOME>/catalog.sqlite`. Read when used."""

    url: str | None = None

    def resolved_url(self) -> str:
        return self.url or os.environ.get(CATALOG_URL_ENV) or f"sqlite:///{home_dir() / 'catalog.sqlite'}"

    def engine(self) -> sa.Engine:
        url = self.resolved_url()
        with _READY_LOCK:
            if url not in _READY:
                engine = _sqlite_engine(url) if url.startswith("sqlite") else sa.create_engine(url, pool_pre_ping=True)
                _migrate(engine)
                from podcast_assets.catalog.duckdb_import import import_duckdb_home_once

                import_duckdb_home_once(engine, self._legacy_warehouse(engine))
                _READY[url] = engine
            return _READY[url]

    def _legacy_warehouse(self, engine: sa.Engine) -> Path:
        """The DuckDB file an older home kept these tables in: beside a SQLite catalog, else in the home folder."""
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database:
            return Path(database).parent / "warehouse.duckdb"
        return home_dir() / "warehouse.duckdb"

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine().begin() as connection:
            yield connection

    def rows(self, statement: sa.Executable, params: dict | None = None) -> list[dict]:
        with self.begin() as connection:
            return [dict(row._mapping) for row in connection.execute(statement, params or {})]
