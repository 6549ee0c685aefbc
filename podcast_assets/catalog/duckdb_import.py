"""Homes made before the catalog kept feeds, subscribers and deliveries in warehouse.duckdb: copied over once."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import sqlalchemy as sa

from podcast_assets.catalog import tables

_MARKER = "duckdb_import"
_TABLES = (tables.feeds, tables.subscribers, tables.brief_deliveries, tables.delivery_attempts)


def _open_read_only(path: Path, timeout_s: float = 60.0) -> duckdb.DuckDBPyConnection:
    """DuckDB refuses readers while another process writes the file: wait for it, as the warehouse does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _legacy_rows(path: Path) -> dict[str, list[dict]]:
    connection = _open_read_only(path)
    try:
        listed = connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
        present = {name for (name,) in listed}
        found = {}
        for table in _TABLES:
            if table.name not in present:
                continue
            cursor = connection.execute(f'SELECT * FROM "{table.name}"')
            columns = [c[0] for c in cursor.description]
            wanted = set(table.columns.keys())
            found[table.name] = [
                # None left out: the catalog's defaults apply (e.g. `paused`, which older homes lack)
                {k: v for k, v in zip(columns, row, strict=True) if k in wanted and v is not None}
                for row in cursor.fetchall()
            ]
        return found
    finally:
        connection.close()


def import_duckdb_home_once(engine: sa.Engine, warehouse_path: Path) -> int:
    """Copy the legacy tables' rows (keeping rows the catalog already has), then mark the catalog so it never
    happens again (the DuckDB tables become mirrors written from the catalog). Returns rows copied."""
    with engine.begin() as connection:
        marker = connection.execute(
            sa.select(tables.catalog_meta.c.value).where(tables.catalog_meta.c.key == _MARKER)
        ).first()
        if marker:
            return 0
        copied = 0
        if warehouse_path.exists():
            for name, rows in _legacy_rows(warehouse_path).items():
                table = tables.metadata.tables[name]
                keys = [c.name for c in table.primary_key.columns]
                for row in rows:
                    if name == "subscribers":  # operator-added: confirmed when added
                        row["confirmed_at"] = row.get("created_at")
                    exists = connection.execute(
                        sa.select(sa.literal(1)).where(*(table.c[k] == row[k] for k in keys))
                    ).first()
                    if not exists:
                        connection.execute(table.insert().values(**row))
                        copied += 1
        connection.execute(
            tables.catalog_meta.insert().values(key=_MARKER, value=f"{copied} rows from {warehouse_path}")
        )
    return copied
