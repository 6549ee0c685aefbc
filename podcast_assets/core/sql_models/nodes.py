"""What a SQL project is made of: models, sources, tests, and the errors found in them."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

ModelKey = tuple[str, str]  # (schema, name)

# `partition` is this project's own: a daily-partitioned table written one day at a time (see README).
MATERIALIZATIONS = ("view", "table", "incremental", "partition")
GENERIC_TESTS = ("not_null", "unique", "accepted_values", "relationships")
SEVERITIES = ("error", "warn")
PARTITION_COLUMN = "partition_date"
DEFAULT_SOURCE_SCHEMA = "main"
# Schemas owned by DuckDB or by the Python assets: a model folder with one of these names would clobber them.
RESERVED_SCHEMAS = frozenset({"main", "temp", "information_schema", "pg_catalog"})
# Any date works for load-time rendering: it only has to produce parseable SQL.
PLACEHOLDER_DAY = dt.date(2026, 1, 1)


class SqlModelError(ValueError):
    """A problem in the SQL project, located in a file (and line when known): `file:line[:col]: message`."""

    def __init__(
        self, message: str, path: Path | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def at(self, path: Path | None = None, line: int | None = None) -> SqlModelError:
        """This error, with a file and line where it had none."""
        if self.path is not None and (self.line is not None or line is None):
            return self
        return SqlModelError(self.message, self.path or path, self.line or line, self.column)

    def location(self, base: Path | None = None) -> str:
        if self.path is None:
            return ""
        shown = str(self.path)
        if base is not None:
            try:
                shown = os.path.relpath(self.path, base) if self.path.is_relative_to(base) else str(self.path)
            except ValueError:
                shown = str(self.path)
        parts = [shown] + [str(n) for n in (self.line, self.column) if n is not None]
        return ":".join(parts)

    def format(self, base: Path | None = None) -> str:
        """`file:line: message`, the file relative to `base` when it lies under it."""
        where = self.location(base)
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self.format()

    def sort_key(self) -> tuple[str, int, int]:
        return (str(self.path or ""), self.line or 0, self.column or 0)


@dataclass(frozen=True)
class PartitionWindow:
    """The partition a partitioned model is run for: its day and its [start, end) in naive UTC."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def for_day(cls, day: dt.date) -> PartitionWindow:
        start = dt.datetime.combine(day, dt.time())
        return cls(day=day, start=start, end=start + dt.timedelta(days=1))


@dataclass(frozen=True)
class SourceTable:
    """A table written by the Python assets, reachable as `source('<source>', '<table>')`."""

    source_name: str
    table_name: str
    schema: str
    asset_key: tuple[str, ...]
    partitioned: bool = False
    identifier: str | None = None  # the table's name in the warehouse, when it differs from `table_name`

    @property
    def relation(self) -> exp.Table:
        return relation(self.schema, self.identifier or self.table_name)


@dataclass(frozen=True)
class DataTest:
    """A test of one model: SQL that returns the failing rows (none = pass)."""

    name: str
    model: ModelKey
    kind: str  # one of GENERIC_TESTS, or "singular" for a file in tests/
    columns: tuple[str, ...] = ()
    column_expression: str | None = None  # model-level `column_name:` that is an expression, not a column
    values: tuple[Any, ...] = ()  # accepted_values
    to: str | None = None  # relationships: a ref()/source() expression
    field_name: str | None = None  # relationships: the column of `to`
    severity: str = "error"  # "error" or "warn": how a failure shows
    blocking: bool = False  # a failure stops the model's downstream in the same run
    where: str | None = None  # only the model's rows matching this SQL condition are tested
    description: str = ""
    path: Path | None = None  # the singular test's file, or the yml file
    line: int | None = None
    template: str | None = None  # singular test SQL (Jinja)
    model_deps: frozenset[ModelKey] = frozenset()  # other models the test reads
    source_deps: frozenset[SourceTable] = frozenset()
    error: SqlModelError | None = None  # a test that cannot run: its check fails with this

    def broken(self, error: SqlModelError) -> DataTest:
        return replace(self, error=error.at(self.path, self.line))


@dataclass
class SqlModel:
    schema: str
    name: str
    path: Path
    template: str
    materialized: str = "view"
    description: str = ""
    column_descriptions: dict[str, str] = field(default_factory=dict)
    lookback_days: int = 0
    unique_key: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    model_deps: frozenset[ModelKey] = frozenset()
    source_deps: frozenset[SourceTable] = frozenset()
    ref_lines: dict[ModelKey, int] = field(default_factory=dict)  # where each ref() is, for cycle errors
    tests: list[DataTest] = field(default_factory=list)
    error: SqlModelError | None = None  # a model that does not compile: its asset fails with this

    @property
    def key(self) -> ModelKey:
        return (self.schema, self.name)

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def partitioned(self) -> bool:
        return self.materialized == "partition"

    @property
    def broken(self) -> bool:
        return self.error is not None

    @property
    def relation_sql(self) -> str:
        return relation(self.schema, self.name).sql("duckdb")

    def fail(self, error: SqlModelError) -> None:
        """Record the first error found in this model (later ones usually follow from it)."""
        if self.error is None:
            self.error = error.at(self.path)


@dataclass
class SqlProject:
    root: Path
    models: dict[ModelKey, SqlModel]  # in dependency order (a model in a cycle comes after the rest)
    sources: dict[tuple[str, str], SourceTable]
    vars: dict[str, Any] = field(default_factory=dict)
    problems: list[SqlModelError] = field(default_factory=list)  # errors outside any one model

    def ordered(self, partitioned: bool | None = None) -> list[SqlModel]:
        """Models in dependency order, optionally only the (un)partitioned ones."""
        return [m for m in self.models.values() if partitioned is None or m.partitioned == partitioned]

    def tests(self) -> list[DataTest]:
        return [test for model in self.models.values() for test in model.tests]

    def errors(self) -> list[SqlModelError]:
        """Every error of the project (files, models, tests), in file and line order."""
        found = list(self.problems)
        found += [m.error for m in self.models.values() if m.error is not None]
        found += [t.error for t in self.tests() if t.error is not None]
        unique = {(e.sort_key(), e.message): e for e in found}
        return [unique[key] for key in sorted(unique)]

    def relative(self, path: Path) -> str:
        """A path as shown in the UI: from the project's folder, e.g. `dbt_like_sql/models/marts/x.sql`."""
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def format_error(self, error: SqlModelError) -> str:
        return error.format(self.root.parent)


# ---------------------------------------------------------------- SQL building (sqlglot, never f-strings)


def relation(schema: str, name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True))


def quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def date_literal(day: dt.date) -> str:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE")).sql("duckdb")


def timestamp_literal(moment: dt.datetime) -> str:
    text = moment.replace(tzinfo=None).isoformat(sep=" ")
    return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMP")).sql("duckdb")


def partition_filter(day: dt.date) -> exp.Expression:
    day_expr = exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))
    return exp.EQ(this=exp.column(PARTITION_COLUMN, quoted=True), expression=day_expr)


def partition_rows(schema: str, name: str, day: dt.date) -> exp.Subquery:
    """The rows of one day of a partitioned relation, as an unaliased subquery."""
    return exp.select("*").from_(relation(schema, name)).where(partition_filter(day)).subquery()
