"""Read-only copies of catalog tables in the warehouse, so SQL models and analytical joins (DuckDB) keep reading
`feeds`, `subscribers`, `brief_deliveries` and `delivery_attempts`. Written by the daily run; nothing writes them
otherwise. A copy is replaced whole in one DuckDB transaction."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from podcast_assets.catalog import tables
from podcast_assets.catalog.resource import CatalogResource
from podcast_assets.resources.warehouse import WarehouseResource

MIRRORED = ("feeds", "subscribers", "brief_deliveries", "delivery_attempts")


def mirror_to_warehouse(catalog: CatalogResource, warehouse: WarehouseResource, names: tuple[str, ...]) -> None:
    snapshots = {name: catalog.rows(sa.select(tables.metadata.tables[name])) for name in names}
    replacements = []
    for name, rows in snapshots.items():
        columns = warehouse.query(f'SELECT * FROM "{name}" LIMIT 0').columns
        frame = pl.DataFrame([{c: row.get(c) for c in columns if c in row} for row in rows])
        replacements.append((name, "true", [], frame))
    warehouse.replace_rows(replacements)  # every mirror at once: a kill leaves the old copies or the new ones
