"""Building a model on DuckDB: `view`, `table`, `incremental` (dbt's: the first run builds the table, later runs
add the rows the `is_incremental()` branch selects, replacing those with the same `unique_key`) and `partition`
(this project's: one day of a daily-partitioned table replaced at a time). Each build is one transaction."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
from sqlglot import exp

from podcast_assets.core.sql_models.nodes import (
    PARTITION_COLUMN,
    ModelKey,
    PartitionWindow,
    SqlModel,
    SqlModelError,
    SqlProject,
    partition_filter,
    quoted,
    relation,
)
from podcast_assets.core.sql_models.rendering import Resolver, map_line, query_body, render

_STAGE_TABLE = "sql_model_stage"
_DUCKDB_LINE = re.compile(r"LINE (\d+):")


@dataclass(frozen=True)
class ModelRun:
    key: ModelKey
    row_count: int  # rows of the relation (of the day, for a partition model)
    columns: list[tuple[str, str]]  # (name, DuckDB type)
    compiled_sql: str
    rows_added: int | None = None  # incremental and partition models: rows written by this run
    incremental_run: bool | None = None  # incremental models: whether is_incremental() was true
    created_upstream: list[ModelKey] = field(default_factory=list)  # missing upstream models built on the way


def compile_model(
    project: SqlProject, key: ModelKey, window: PartitionWindow | None = None, incremental: bool = False
) -> str:
    """The model's SELECT with ref()/source()/var()/partition variables filled in."""
    model = project.models[key]
    if model.error is not None:
        raise model.error
    if model.partitioned and window is None:
        raise SqlModelError("a partitioned model needs a partition (a day) to run", model.path)
    rendered = render(
        model.template,
        model.path,
        Resolver(project.models, project.sources),
        window=window if model.partitioned else None,
        this=model,
        incremental=incremental,
        vars=project.vars,
    )
    return query_body(rendered.sql)


def replace_relation_sql(model: SqlModel, body: str) -> str:
    """DDL for a view or table model (partition and incremental models are written in steps)."""
    kind = "VIEW" if model.materialized == "view" else "TABLE"
    # The body is the analyst's own query; only our identifiers are spliced in, quoted by sqlglot.
    return f"CREATE OR REPLACE {kind} {model.relation_sql} AS\n{body}\n"


def materialize_model(
    connection: duckdb.DuckDBPyConnection,
    project: SqlProject,
    key: ModelKey,
    window: PartitionWindow | None = None,
    full_refresh: bool = False,
) -> ModelRun:
    """Build one model in one transaction. Raises SqlModelError (with the file, and line when DuckDB gives one)."""
    model = project.models[key]
    if model.error is not None:
        raise model.error
    _check_schema_name(connection, model)
    connection.execute("BEGIN")
    body = ""
    try:
        created = _ensure_upstream(connection, project, model)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(model.schema)}")
        _drop_if_other_kind(connection, model)
        rows_added: int | None = None
        incremental_run: bool | None = None
        if model.partitioned:
            body = compile_model(project, key, window)  # raises without a window
            assert window is not None
            row_count = rows_added = _replace_partition(connection, model, body, window.day)
        elif model.materialized == "incremental":
            incremental_run = not full_refresh and _relation_type(connection, *model.key) == "BASE TABLE"
            body = compile_model(project, key, incremental=incremental_run)
            rows_added = _incremental(connection, model, body, incremental_run)
            row_count = _count(connection, model)
        else:
            body = compile_model(project, key)
            connection.execute(replace_relation_sql(model, body))
            row_count = _count(connection, model)
        columns = relation_columns(connection, model.schema, model.name)
        connection.execute("COMMIT")
    except duckdb.Error as error:
        connection.execute("ROLLBACK")
        raise _located(error, model, body) from error
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return ModelRun(
        key=key,
        row_count=row_count,
        columns=columns,
        compiled_sql=body,
        rows_added=rows_added,
        incremental_run=incremental_run,
        created_upstream=created,
    )


def _located(error: duckdb.Error, model: SqlModel, body: str) -> SqlModelError:
    """DuckDB's error on the model's file; its `LINE n` (of `CREATE ... AS\\n<body>`) mapped to the template."""
    message = str(error)
    match = _DUCKDB_LINE.search(message)
    line = None
    if match and body and int(match.group(1)) > 1:
        line = map_line(model.template, body, int(match.group(1)) - 1)
    return SqlModelError(message, model.path, line)


def _check_schema_name(connection: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    # DuckDB cannot tell schema "x" from a database file named x.duckdb ("Ambiguous reference").
    database = connection.execute("SELECT current_database()").fetchone()[0]
    if str(database).lower() == model.schema.lower():
        raise SqlModelError(f"schema {model.schema!r} has the database file's name; rename the folder", model.path)


def _ensure_upstream(connection: duckdb.DuckDBPyConnection, project: SqlProject, model: SqlModel) -> list[ModelKey]:
    """Build missing unpartitioned upstream models (views, tables, first runs of incremental models) on the way,
    so a model can run before its upstream's first refresh. A partition model with no day yet is an error."""
    created: list[ModelKey] = []
    for dep_key in sorted(model.model_deps):
        dep = project.models.get(dep_key)
        if dep is None or _relation_type(connection, dep.schema, dep.name) is not None:
            continue
        line = model.ref_lines.get(dep_key)
        if dep.error is not None:
            raise SqlModelError(
                f"reads {dep.label}, which does not compile ({project.format_error(dep.error)})", model.path, line
            )
        if dep.partitioned:
            raise SqlModelError(
                f"reads {dep.label} (partition), which has no day materialized yet: run a day of it first",
                model.path,
                line,
            )
        created += _ensure_upstream(connection, project, dep)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(dep.schema)}")
        connection.execute(replace_relation_sql(dep, compile_model(project, dep.key)))
        created.append(dep.key)
    return created


def _relation_type(connection: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    row = connection.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return row[0] if row else None


def _drop_if_other_kind(connection: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    """DuckDB will not replace a view with a table (or back): drop it when the materialization changed."""
    existing = _relation_type(connection, model.schema, model.name)
    wanted = "VIEW" if model.materialized == "view" else "BASE TABLE"
    if existing is not None and existing != wanted:
        kind = "VIEW" if existing == "VIEW" else "TABLE"
        connection.execute(f"DROP {kind} {model.relation_sql}")


def _stage(connection: duckdb.DuckDBPyConnection, body: str) -> dict[str, str]:
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {quoted(_STAGE_TABLE)} AS\n{body}\n")
    return dict(relation_columns(connection, "main", _STAGE_TABLE, catalog="temp"))


def _stage_count(connection: duckdb.DuckDBPyConnection) -> int:
    return int(connection.execute(f"SELECT count(*) FROM {quoted(_STAGE_TABLE)}").fetchone()[0])


def _replace_partition(connection: duckdb.DuckDBPyConnection, model: SqlModel, body: str, day: dt.date) -> int:
    """Stage the day's result, check it only holds that day, then delete the day's rows and insert."""
    stage_columns = _stage(connection, body)
    if PARTITION_COLUMN not in stage_columns:
        raise SqlModelError(f"a partition model must select a {PARTITION_COLUMN} column", model.path)
    day_filter = partition_filter(day)
    outside = connection.execute(
        exp.select(exp.Count(this=exp.Star()))
        .from_(exp.to_table(_STAGE_TABLE, quoted=True))
        .where(exp.not_(exp.func("coalesce", day_filter, exp.false())))
        .sql("duckdb")
    ).fetchone()[0]
    if outside:
        raise SqlModelError(
            f"{outside} row(s) have a {PARTITION_COLUMN} other than {day.isoformat()}; "
            f"filter on {PARTITION_COLUMN} = {{{{ partition_date }}}}",
            model.path,
        )
    _create_like_stage(connection, model)
    _add_new_columns(connection, model, stage_columns)
    connection.execute(exp.delete(relation(model.schema, model.name), where=day_filter).sql("duckdb"))
    return _insert_stage(connection, model)


def _incremental(connection: duckdb.DuckDBPyConnection, model: SqlModel, body: str, incremental_run: bool) -> int:
    """First run (or full refresh): the whole query becomes the table. Later runs: the query's rows are added;
    with a unique_key, rows of the table with the same key are replaced (dbt's delete+insert)."""
    if not incremental_run:
        connection.execute(f"CREATE OR REPLACE TABLE {model.relation_sql} AS\n{body}\n")
        return _count(connection, model)
    stage_columns = _stage(connection, body)
    missing = [key for key in model.unique_key if key not in stage_columns]
    if missing:
        raise SqlModelError(f"unique_key column(s) {missing} are not selected by the query", model.path)
    _add_new_columns(connection, model, stage_columns)
    if model.unique_key:
        same_key = exp.and_(
            *[
                exp.NullSafeEQ(
                    this=exp.column(key, table=model.name, db=model.schema, quoted=True),
                    expression=exp.column(key, table=_STAGE_TABLE, quoted=True),
                )
                for key in model.unique_key
            ]
        )
        replaced = exp.Exists(this=exp.select("1").from_(exp.to_table(_STAGE_TABLE, quoted=True)).where(same_key))
        connection.execute(exp.delete(relation(model.schema, model.name), where=replaced).sql("duckdb"))
    return _insert_stage(connection, model)


def _create_like_stage(connection: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    stage = quoted(_STAGE_TABLE)
    connection.execute(f"CREATE TABLE IF NOT EXISTS {model.relation_sql} AS SELECT * FROM {stage} LIMIT 0")


def _insert_stage(connection: duckdb.DuckDBPyConnection, model: SqlModel) -> int:
    stage = quoted(_STAGE_TABLE)
    connection.execute(f"INSERT INTO {model.relation_sql} BY NAME SELECT * FROM {stage}")
    added = _stage_count(connection)
    connection.execute(f"DROP TABLE {stage}")
    return added


def _add_new_columns(connection: duckdb.DuckDBPyConnection, model: SqlModel, stage_columns: Mapping[str, str]) -> None:
    """A model that gained a column keeps its earlier rows: the column is added, NULL for them."""
    existing = dict(relation_columns(connection, model.schema, model.name))
    for name, data_type in stage_columns.items():
        if name not in existing:
            column_type = exp.DataType.build(data_type, dialect="duckdb").sql("duckdb")
            connection.execute(f"ALTER TABLE {model.relation_sql} ADD COLUMN {quoted(name)} {column_type}")


def _count(connection: duckdb.DuckDBPyConnection, model: SqlModel) -> int:
    return int(connection.execute(f"SELECT count(*) FROM {model.relation_sql}").fetchone()[0])


def relation_columns(
    connection: duckdb.DuckDBPyConnection, schema: str, name: str, catalog: str | None = None
) -> list[tuple[str, str]]:
    """(column, type) of a view or table, in order."""
    rows = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = coalesce(?, current_database()) AND table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [catalog, schema, name],
    ).fetchall()
    return [(str(column), str(data_type)) for column, data_type in rows]


def describe_columns(project: SqlProject, key: ModelKey, columns: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Columns with their yml descriptions, for a schema display."""
    descriptions = project.models[key].column_descriptions
    return [{"name": n, "type": t, "description": descriptions.get(n, "")} for n, t in columns]
