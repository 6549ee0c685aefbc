"""The warehouse: a DuckDB file under the home folder (the embedded default), or, at scale, a small DuckDB catalog
plus daily tables as Parquet files per partition on shared/object storage (see `lake.py`). Polars in and out."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources as package_files
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import sqlglot

from podcast_assets.core.processes import process_command_line
from podcast_assets.resources.lake import LAKE_TABLES, ParquetLake, catalog_ddl
from podcast_assets.settings import home_dir

LAKE_URL_ENV = "PODCAST_BRIEF_LAKE_URL"

_LOCK_RETRY_S = 60.0
_LOCK_FIRST_BACKOFF_S = 0.2
_LOCK_MAX_BACKOFF_S = 5.0
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class WarehouseLocked(duckdb.IOException):
    """Another process holds the DuckDB file's write lock past the wait: says which process."""

    def __init__(self, db_path: Path, duckdb_message: str, waited_s: float) -> None:
        match = _LOCK_PID.search(duckdb_message)
        self.pid = int(match.group(1)) if match else None
        self.command_line = process_command_line(self.pid) if self.pid else None
        if self.pid:
            command = (
                f"command line: {self.command_line}" if self.command_line else "command line not visible from here"
            )
            holder = f"process {self.pid} ({command})"
        else:
            holder = "another process"
        super().__init__(
            f"{db_path.name} is locked by {holder}; waited {waited_s:.0f} s. DuckDB allows one process to open the "
            f"file for writing: close that session (an open DuckDB shell, a notebook) or let it finish, then re-run. "
            f"DuckDB said: {duckdb_message}"
        )


@functools.cache
def _schema_sql(lake: bool) -> str:
    schema = package_files.files("podcast_assets").joinpath("schema.sql").read_text()
    return catalog_ddl(schema) if lake else schema


# (file, inode, lake URL) whose schema this process already applied: the DDL runs once per file, not per query.
_SCHEMA_APPLIED: set[tuple[str, int, str | None]] = set()


class WarehouseResource(dg.ConfigurableResource):
    """DuckDB file `<PODCAST_BRIEF_HOME>/warehouse.duckdb` unless `path` is set.

    DuckDB allows one writing process per file, so `connect` waits (up to `lock_timeout_s`, a minute, with
    backoff) for another process's lock instead of failing the step, then fails naming the process that holds it.

    `lake_url` (or PODCAST_BRIEF_LAKE_URL, read when used): an fsspec URL (shared folder, s3://, gs://, ...) that
    holds the daily tables as one Parquet file per table and day, so machines write days without the file lock.
    """

    path: str | None = None
    lake_url: str | None = None
    lock_timeout_s: float = _LOCK_RETRY_S
    # DuckDB's own cap (its default is 80% of the machine): above it, work and a transaction's not yet committed
    # rows spill to `<warehouse>.tmp/`. Without it, replacing a day of 100,000 rendered briefs in one transaction
    # held all of them in memory (2.3 GB for 50,000; 1.4 GB with a 1 GB cap).
    memory_limit: str | None = "2GB"

    def lake(self) -> ParquetLake | None:
        url = self.lake_url or os.environ.get(LAKE_URL_ENV)
        return ParquetLake(url) if url else None

    def db_path(self) -> Path:
        return Path(self.path).expanduser().resolve() if self.path else home_dir() / "warehouse.duckdb"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection; while another process holds the file's lock, retries with backoff (up to
        `lock_timeout_s`), then raises `WarehouseLocked` naming the holder's pid and command line."""
        db_path = self.db_path()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        backoff = _LOCK_FIRST_BACKOFF_S
        while True:
            try:
                connection = duckdb.connect(str(db_path))
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower():
                    raise
                waited = time.monotonic() - started
                if waited >= self.lock_timeout_s:
                    raise WarehouseLocked(db_path, str(error), waited) from error
                time.sleep(min(backoff, max(0.0, self.lock_timeout_s - waited)))
                backoff = min(backoff * 2, _LOCK_MAX_BACKOFF_S)
        try:
            lake = self.lake()
            if self.memory_limit:
                connection.execute("SET memory_limit = ?", [self.memory_limit])
            applied = (str(db_path), db_path.stat().st_ino, lake.url if lake else None)
            if applied not in _SCHEMA_APPLIED:
                connection.execute(_schema_sql(lake is not None))
                _SCHEMA_APPLIED.add(applied)
            if lake:
                lake.attach(connection)
            yield connection
        finally:
            connection.close()

    def query(self, sql: str, params: list | dict | None = None) -> pl.DataFrame:
        with self.connect() as connection:
            return connection.execute(sql, params or []).pl()

    def execute(self, sql: str, params: list | dict | None = None) -> None:
        with self.connect() as connection:
            connection.execute(sql, params or [])

    def create_table(self, ddl: str) -> None:
        """CREATE TABLE IF NOT EXISTS for a table whose shape is known only at run time (embedding width)."""
        self.execute(catalog_ddl(ddl) if self.lake() else ddl)

    def replace_partition(self, table: str, partition_date: dt.date, frame: pl.DataFrame) -> int:
        """Delete the day's rows of `table` and insert `frame`, in one transaction. Returns rows written."""
        lake = self.lake()
        if lake and table in LAKE_TABLES:
            lake.write_partition(table, partition_date, frame)
            return frame.height
        self.replace_rows([(table, "partition_date = ?", [partition_date], frame)])
        return frame.height

    def replace_partition_from_files(self, partition_date: dt.date, files: dict[str, list[Path]]) -> None:
        """`replace_partition` for several tables in one transaction, each from Parquet files (a day too big to
        hold in memory: DuckDB streams them). In the lake, each table's files become its one file of the day."""
        lake = self.lake()
        if lake:
            for table, paths in files.items():
                lake.write_partition(table, partition_date, pl.read_parquet(paths) if paths else self._empty(table))
            return
        self.replace_rows([(table, "partition_date = ?", [partition_date], paths) for table, paths in files.items()])

    def _empty(self, table: str) -> pl.DataFrame:
        quoted = sqlglot.exp.to_identifier(table, quoted=True).sql("duckdb")
        return self.query(f"SELECT * FROM {quoted} LIMIT 0")

    def replace_rows(self, replacements: list[tuple[str, str, list, pl.DataFrame | list[Path]]]) -> None:
        """For each (table, where, params, rows): delete the rows matching `where` and insert `rows` (a frame, or
        Parquet files) by column name, all in one transaction, so a kill leaves every table's old rows or every
        table's new ones."""
        with self.connect() as connection:
            connection.execute("BEGIN")
            try:
                for table, where, params, frame in replacements:
                    quoted = sqlglot.exp.to_identifier(table, quoted=True).sql("duckdb")
                    connection.execute(f"DELETE FROM {quoted} WHERE {where}", params)
                    if isinstance(frame, list):
                        if frame:
                            connection.execute(
                                f"INSERT INTO {quoted} BY NAME SELECT * FROM read_parquet(?)", [[str(p) for p in frame]]
                            )
                    elif frame.height:
                        connection.register("incoming_frame", frame.to_arrow())
                        connection.execute(f"INSERT INTO {quoted} BY NAME SELECT * FROM incoming_frame")
                        connection.unregister("incoming_frame")
                connection.execute("COMMIT")
            except Exception:
                connection.execute("ROLLBACK")
                raise

    def table_schema(self, table: str) -> dg.TableSchema:
        frame = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
        return dg.TableSchema(columns=[dg.TableColumn(name, data_type) for name, data_type in frame.iter_rows()])
