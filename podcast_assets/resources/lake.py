"""The warehouse at scale: daily tables as Parquet files per partition on shared or object storage (fsspec).

Many machines write different days (or different tables of one day) at once without sharing a database lock:
each `replace_partition` is one file, `<lake>/<table>/partition_date=<day>.parquet`, written under a temporary
name and moved into place. DuckDB reads them through views (`read_parquet` over the table's files), so every query,
asset and SQL model keeps reading `episodes`, `insights`, ... as before. The small, transactional tables (feeds,
subscribers, deliveries, run costs) stay in the DuckDB catalog file, which holds only those and the views.
"""

from __future__ import annotations

import datetime as dt
import uuid

import duckdb
import fsspec
import polars as pl
import sqlglot
from sqlglot import exp

# Written only through `replace_partition` (delete the day, insert the day): safe to keep as one file per day.
LAKE_TABLES = frozenset(
    {
        "episodes",
        "transcripts",
        "transcript_status",
        "insights",
        "insight_embeddings",
        "insight_clusters",
        "cluster_summaries",
        "briefs",
        "brief_documents",
        "shown_passages",
    }
)
# Where the lake tables' column types live in the catalog (empty tables), to seed files and views.
SHAPE_SCHEMA = "lake_shape"
_SEED_FILE = "_shape.parquet"


def catalog_ddl(schema_sql: str) -> str:
    """schema.sql with the lake tables' DDL moved to the `lake_shape` schema (their data lives in Parquet)."""
    statements = [f"CREATE SCHEMA IF NOT EXISTS {SHAPE_SCHEMA}"]
    for statement in sqlglot.parse(schema_sql, read="duckdb"):
        if statement is None:
            continue
        table = statement.find(exp.Table)
        if table is not None and table.name in LAKE_TABLES and isinstance(statement, (exp.Create, exp.Alter)):
            table.set("db", exp.to_identifier(SHAPE_SCHEMA))
        statements.append(statement.sql("duckdb"))
    return ";\n".join(statements) + ";"


class ParquetLake:
    """Partition files of the lake tables under one fsspec URL (a local folder, s3://..., gs://..., memory://...)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.is_local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def _duckdb_path(self, path: str) -> str:
        """How DuckDB names a path: plain for local files, protocol:// for fsspec filesystems it is given."""
        if self.is_local:
            return path
        protocol = self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
        return f"{protocol}://{path}"

    def table_dir(self, table: str) -> str:
        return f"{self.root}/{table}"

    def partition_path(self, table: str, day: dt.date) -> str:
        return f"{self.table_dir(table)}/partition_date={day.isoformat()}.parquet"

    def files(self, table: str) -> list[str]:
        return sorted(self.fs.glob(f"{self.table_dir(table)}/*.parquet"))

    def write_partition(self, table: str, day: dt.date, frame: pl.DataFrame) -> None:
        """Replace the day's file atomically (write aside, then move). An empty frame still writes its schema."""
        self._write_file(self.partition_path(table, day), frame)

    def _write_file(self, final: str, frame: pl.DataFrame) -> None:
        """Write aside (a name the views' `*.parquet` glob never matches), then move into place: readers see the
        old file or the new one, never a half-written one, and a process killed mid-write leaves only the aside."""
        folder = final.rsplit("/", 1)[0]
        self.fs.makedirs(folder, exist_ok=True)
        staging = f"{folder}/.{uuid.uuid4().hex}.tmp"
        try:
            with self.fs.open(staging, "wb") as handle:
                frame.write_parquet(handle)
            self.fs.mv(staging, final)
        finally:
            if self.fs.exists(staging):
                self.fs.rm(staging)

    def attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Give DuckDB the filesystem, seed empty tables from their shapes, and create missing views."""
        if not self.is_local:
            connection.register_filesystem(self.fs)
        views = {
            row[0]
            for row in connection.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal"
            ).fetchall()
        }
        shapes = {
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [SHAPE_SCHEMA]
            ).fetchall()
        }
        for table in sorted(LAKE_TABLES - views):
            if not self.files(table):
                if table not in shapes:
                    continue  # created by its asset on first write (e.g. embeddings, whose width is the model's)
                shape = connection.execute(f'SELECT * FROM {SHAPE_SCHEMA}."{table}" LIMIT 0').pl()
                self._write_file(f"{self.table_dir(table)}/{_SEED_FILE}", shape)
            pattern = self._duckdb_path(f"{self.table_dir(table)}/*.parquet")
            view = exp.to_identifier(table, quoted=True).sql("duckdb")
            connection.execute(
                f"CREATE VIEW IF NOT EXISTS main.{view} AS SELECT * FROM read_parquet("
                f"{exp.Literal.string(pattern).sql('duckdb')}, union_by_name = true)"
            )
