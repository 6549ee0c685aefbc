"""SQL models: a dbt-like folder of SELECT files that become DuckDB views and tables.

Layout: `<root>/models/<schema>/<name>.sql` (the folder is the schema, the file the relation),
optional `<root>/models.yml` (descriptions, columns, tests, settings, sources) and custom tests in
`<root>/tests/*.sql`. Everything here is plain Python (no Dagster): loading and validating a project,
rendering its Jinja, ordering it, and running models and tests on a DuckDB connection.
"""

from __future__ import annotations

import datetime as dt
import graphlib
import json
import re
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import jinja2.sandbox
import sqlglot
import yaml
from sqlglot import exp

ModelKey = tuple[str, str]  # (schema, name)

MATERIALIZATIONS = ("view", "table", "partition")
GENERIC_TESTS = ("not_null", "unique", "accepted_values", "relationships")
PARTITION_COLUMN = "partition_date"
DEFAULT_SOURCE_SCHEMA = "main"
# Schemas owned by DuckDB or by the Python assets: a model folder with one of these names would clobber them.
RESERVED_SCHEMAS = frozenset({"main", "temp", "information_schema", "pg_catalog"})
# Any date works for load-time rendering: it only has to produce parseable SQL.
PLACEHOLDER_DAY = dt.date(2026, 1, 1)
FAILING_ROWS_SAMPLE = 5

_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_SETTING = re.compile(r"^--\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")
_MODEL_HEADER_KEYS = frozenset({"materialized", "description", "lookback_days"})
_TEST_HEADER_KEYS = frozenset({"model", "severity", "blocking", "description"})
_STAGE_TABLE = "sql_model_stage"


class SqlModelError(ValueError):
    """A problem in the SQL project; the message starts with the file (and line) at fault."""


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


@dataclass(frozen=True)
class DataTest:
    """A test of one model: SQL that returns the failing rows (none = pass)."""

    name: str
    model: ModelKey
    kind: str  # one of GENERIC_TESTS, or "sql" for a custom test file
    columns: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()  # accepted_values
    to: str | None = None  # relationships: a ref()/source() expression
    field_name: str | None = None  # relationships: the column of `to`
    severity: str = "error"  # "error" or "warn": how a failure shows
    blocking: bool = False  # a failure stops downstream models of the same run
    description: str = ""
    path: Path | None = None  # the custom test file, or models.yml
    template: str | None = None  # custom test SQL (Jinja)
    model_deps: frozenset[ModelKey] = frozenset()  # other models the test reads
    source_deps: frozenset[SourceTable] = frozenset()


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
    model_deps: frozenset[ModelKey] = frozenset()
    source_deps: frozenset[SourceTable] = frozenset()
    tests: list[DataTest] = field(default_factory=list)

    @property
    def key(self) -> ModelKey:
        return (self.schema, self.name)

    @property
    def partitioned(self) -> bool:
        return self.materialized == "partition"

    @property
    def relation_sql(self) -> str:
        return _relation(self.schema, self.name).sql("duckdb")


@dataclass
class SqlProject:
    root: Path
    models: dict[ModelKey, SqlModel]  # in dependency order
    sources: dict[tuple[str, str], SourceTable]

    def ordered(self, partitioned: bool | None = None) -> list[SqlModel]:
        """Models in dependency order, optionally only the (un)partitioned ones."""
        return [m for m in self.models.values() if partitioned is None or m.partitioned == partitioned]

    def tests(self) -> list[DataTest]:
        return [test for model in self.models.values() for test in model.tests]

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class ModelRun:
    key: ModelKey
    row_count: int
    columns: list[tuple[str, str]]  # (name, DuckDB type)
    compiled_sql: str
    created_views: list[ModelKey] = field(default_factory=list)  # missing upstream views created on the way


@dataclass(frozen=True)
class TestRun:
    test: DataTest
    passed: bool
    failing_rows: int
    sample: list[dict[str, Any]]
    sql: str
    error: str | None = None


# ---------------------------------------------------------------- SQL building (sqlglot, never f-strings)


def _relation(schema: str, name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True))


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def date_literal(day: dt.date) -> str:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE")).sql("duckdb")


def timestamp_literal(moment: dt.datetime) -> str:
    text = moment.replace(tzinfo=None).isoformat(sep=" ")
    return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMP")).sql("duckdb")


def _partition_filter(day: dt.date) -> exp.Expression:
    day_expr = exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))
    return exp.EQ(this=exp.column(PARTITION_COLUMN, quoted=True), expression=day_expr)


def _partition_rows(schema: str, name: str, day: dt.date) -> exp.Subquery:
    """The rows of one day of a partitioned relation, as an unaliased subquery."""
    return exp.select("*").from_(_relation(schema, name)).where(_partition_filter(day)).subquery()


# ---------------------------------------------------------------- loading


def load_project(root: str | Path) -> SqlProject:
    """Read, render, parse and order every model and test under `root`. Raises SqlModelError."""
    root = Path(root).expanduser().resolve()
    if not (root / "models").is_dir():
        raise SqlModelError(f"{root}: no models/ folder (expected models/<schema>/<name>.sql)")
    config_path = root / "models.yml"
    config = _read_yaml(config_path)
    sources = _load_sources(config_path, config.get("sources") or {})
    models = _discover_models(root / "models")
    _apply_model_config(config_path, config.get("models") or {}, models)
    resolver = _Resolver(models, sources)
    for model in models.values():
        _analyse_model(model, resolver)
    ordered = _topological_order(root, models)
    _check_partition_groups(root, ordered)
    for test in _load_custom_tests(root, config_path, config.get("tests") or {}, ordered, resolver):
        ordered[test.model].tests.append(test)
    for model in ordered.values():
        _check_unique_test_names(model)
    return SqlProject(root=root, models=ordered, sources=sources)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SqlModelError(f"{where}: invalid YAML: {error}") from error
    _require_mapping(data, path, "the file")
    _reject_unknown_keys(data, {"sources", "models", "tests"}, path, "top level")
    return data


def _require_mapping(value: Any, path: Path, what: str) -> None:
    if not isinstance(value, Mapping):
        raise SqlModelError(f"{path}: {what} must be a mapping, got {type(value).__name__}")


def _reject_unknown_keys(data: Mapping[str, Any], allowed: set[str], path: Path, where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SqlModelError(f"{path}: unknown key(s) {unknown} in {where} (allowed: {sorted(allowed)})")


def _load_sources(path: Path, config: Mapping[str, Any]) -> dict[tuple[str, str], SourceTable]:
    _require_mapping(config, path, "sources")
    sources: dict[tuple[str, str], SourceTable] = {}
    for source_name, source in config.items():
        where = f"source {source_name!r}"
        _require_mapping(source, path, where)
        _reject_unknown_keys(source, {"schema", "tables", "description"}, path, where)
        schema = str(source.get("schema") or DEFAULT_SOURCE_SCHEMA)
        tables = source.get("tables") or {}
        _require_mapping(tables, path, f"{where} tables")
        for table_name, table in tables.items():
            table = table or {}
            _require_mapping(table, path, f"{where} table {table_name!r}")
            _reject_unknown_keys(table, {"asset", "partitioned", "description"}, path, f"{where} table {table_name!r}")
            sources[(str(source_name), str(table_name))] = SourceTable(
                source_name=str(source_name),
                table_name=str(table_name),
                schema=schema,
                asset_key=_asset_key_parts(table.get("asset") or table_name),
                partitioned=bool(table.get("partitioned", False)),
            )
    return sources


def _asset_key_parts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split("/"))
    return tuple(str(part) for part in value)


def _discover_models(models_dir: Path) -> dict[ModelKey, SqlModel]:
    models: dict[ModelKey, SqlModel] = {}
    for path in sorted(models_dir.rglob("*.sql")):
        parts = path.relative_to(models_dir).parts
        if len(parts) != 2:
            raise SqlModelError(f"{path}: models must live at models/<schema>/<name>.sql")
        schema, name = parts[0], path.stem
        for label, value in (("schema folder", schema), ("model name", name)):
            if not _NAME_PATTERN.match(value):
                raise SqlModelError(f"{path}: {label} {value!r} must be letters, digits and underscores")
        if schema.lower() in RESERVED_SCHEMAS:
            raise SqlModelError(f"{path}: schema {schema!r} is reserved (it holds the Python assets' tables)")
        template = _read_text(path)
        header, prose = _parse_header(template, path, _MODEL_HEADER_KEYS)
        model = SqlModel(schema=schema, name=name, path=path, template=template, description=prose)
        _apply_settings(model, header, path)
        models[model.key] = model
    if not models:
        raise SqlModelError(f"{models_dir}: no models found (expected models/<schema>/<name>.sql)")
    return models


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SqlModelError(f"{path}: cannot read: {error}") from error


def _parse_header(text: str, path: Path, keys: frozenset[str]) -> tuple[dict[str, str], str]:
    """`-- key: value` settings and the prose of the leading comment block."""
    settings: dict[str, str] = {}
    prose: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _HEADER_SETTING.match(stripped)
        if match and match.group(1).lower() in keys:
            settings[match.group(1).lower()] = match.group(2)
        else:
            prose.append(stripped.removeprefix("--").strip())
    return settings, " ".join(p for p in prose if p)


def _apply_settings(model: SqlModel, settings: Mapping[str, Any], path: Path) -> None:
    if "materialized" in settings:
        materialized = str(settings["materialized"]).strip().lower()
        if materialized not in MATERIALIZATIONS:
            raise SqlModelError(f"{path}: materialized must be one of {list(MATERIALIZATIONS)}, got {materialized!r}")
        model.materialized = materialized
    if "description" in settings and settings["description"]:
        model.description = str(settings["description"])
    if "lookback_days" in settings:
        try:
            model.lookback_days = int(settings["lookback_days"])
        except (TypeError, ValueError) as error:
            raise SqlModelError(f"{path}: lookback_days must be an integer") from error
        if model.lookback_days < 0:
            raise SqlModelError(f"{path}: lookback_days must be >= 0")


def _apply_model_config(path: Path, config: Mapping[str, Any], models: dict[ModelKey, SqlModel]) -> None:
    _require_mapping(config, path, "models")
    for raw_key, entry in config.items():
        key = _model_key_from_text(str(raw_key))
        if key not in models:
            raise SqlModelError(f"{path}: models entry {raw_key!r} has no file models/{key[0]}/{key[1]}.sql")
        model = models[key]
        entry = entry or {}
        where = f"model {raw_key!r}"
        _require_mapping(entry, path, where)
        _reject_unknown_keys(entry, {"description", "materialized", "lookback_days", "columns", "tests"}, path, where)
        header, _ = _parse_header(model.template, model.path, _MODEL_HEADER_KEYS)
        for setting in ("materialized", "lookback_days"):
            if setting in entry and setting in header and str(entry[setting]).strip() != header[setting].strip():
                raise SqlModelError(
                    f"{model.path}: header says {setting}: {header[setting]} but {path} says {entry[setting]}"
                )
        _apply_settings(model, entry, path)
        model.tests.extend(_model_level_tests(path, model, entry.get("tests") or []))
        columns = entry.get("columns") or {}
        _require_mapping(columns, path, f"{where} columns")
        for column, column_entry in columns.items():
            column_entry = column_entry or {}
            if isinstance(column_entry, str):
                column_entry = {"description": column_entry}
            _require_mapping(column_entry, path, f"{where} column {column!r}")
            _reject_unknown_keys(column_entry, {"description", "tests"}, path, f"{where} column {column!r}")
            if column_entry.get("description"):
                model.column_descriptions[str(column)] = str(column_entry["description"])
            for spec in column_entry.get("tests") or []:
                model.tests.append(_generic_test(path, model, spec, (str(column),)))


def _model_key_from_text(text: str) -> ModelKey:
    parts = text.replace("/", ".").split(".")
    if len(parts) != 2:
        raise SqlModelError(f"model {text!r}: name it <schema>.<name>, e.g. marts.daily_feed_health")
    return (parts[0], parts[1])


def _model_level_tests(path: Path, model: SqlModel, specs: Iterable[Any]) -> list[DataTest]:
    tests = []
    for spec in specs:
        kind, args = _split_test_spec(path, model, spec)
        columns = args.get("columns") or ([args["column"]] if "column" in args else [])
        if isinstance(columns, str):
            columns = [columns]
        if not columns:
            raise SqlModelError(f"{path}: model-level test {kind!r} of {model.schema}.{model.name} needs columns:")
        tests.append(_generic_test(path, model, spec, tuple(str(c) for c in columns)))
    return tests


def _split_test_spec(path: Path, model: SqlModel, spec: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        kind, args = spec, {}
    elif isinstance(spec, Mapping) and len(spec) == 1:
        kind, args = next(iter(spec.items()))
        args = dict(args or {})
    else:
        raise SqlModelError(f"{path}: test of {model.schema}.{model.name} must be a name or {{name: {{args}}}}")
    if kind not in GENERIC_TESTS:
        raise SqlModelError(
            f"{path}: unknown test {kind!r} on {model.schema}.{model.name} (known: {list(GENERIC_TESTS)}; "
            "custom tests go in tests/*.sql)"
        )
    return str(kind), args


def _generic_test(path: Path, model: SqlModel, spec: Any, columns: tuple[str, ...]) -> DataTest:
    kind, args = _split_test_spec(path, model, spec)
    allowed = {"severity", "blocking", "name", "description", "columns", "column"}
    allowed |= {"values"} if kind == "accepted_values" else set()
    allowed |= {"to", "field"} if kind == "relationships" else set()
    _reject_unknown_keys(args, allowed, path, f"test {kind!r} of {model.schema}.{model.name}")
    values: tuple[Any, ...] = ()
    if kind == "accepted_values":
        if not isinstance(args.get("values"), list) or not args["values"]:
            raise SqlModelError(f"{path}: accepted_values on {model.schema}.{model.name} needs a values: list")
        values = tuple(args["values"])
    if kind == "relationships" and not args.get("to"):
        raise SqlModelError(f"{path}: relationships on {model.schema}.{model.name} needs to: ref('...') or source(...)")
    severity, blocking = _severity(path, args)
    default_name = "_".join([kind, *columns])
    return DataTest(
        name=_check_name(path, str(args.get("name") or default_name)),
        model=model.key,
        kind=kind,
        columns=columns,
        values=values,
        to=str(args["to"]) if kind == "relationships" else None,
        field_name=str(args.get("field") or columns[0]) if kind == "relationships" else None,
        severity=severity,
        blocking=blocking,
        description=str(args.get("description") or _describe_generic(kind, columns, values, args)),
        path=path,
    )


def _severity(path: Path, args: Mapping[str, Any]) -> tuple[str, bool]:
    severity = str(args.get("severity", "error")).strip().lower()
    if severity not in ("error", "warn"):
        raise SqlModelError(f"{path}: severity must be 'error' or 'warn', got {severity!r}")
    blocking_value = args.get("blocking", False)
    blocking = blocking_value if isinstance(blocking_value, bool) else str(blocking_value).lower() == "true"
    # An explicit `severity: error` means "stop the line", as in dbt.
    return severity, blocking or ("severity" in args and severity == "error")


def _describe_generic(kind: str, columns: tuple[str, ...], values: tuple[Any, ...], args: Mapping[str, Any]) -> str:
    cols = ", ".join(columns)
    if kind == "not_null":
        return f"{cols} is never null"
    if kind == "unique":
        return f"({cols}) is unique"
    if kind == "accepted_values":
        return f"{cols} is one of {list(values)}"
    return f"every {cols} exists in {args.get('to')}.{args.get('field') or columns[0]}"


def _check_name(path: Path, name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not cleaned or not _NAME_PATTERN.match(cleaned):
        raise SqlModelError(f"{path}: test name {name!r} must be letters, digits and underscores")
    return cleaned


def _check_unique_test_names(model: SqlModel) -> None:
    seen: dict[str, DataTest] = {}
    for test in model.tests:
        if test.name in seen:
            raise SqlModelError(
                f"{test.path}: two tests named {test.name!r} on {model.schema}.{model.name}; give one a name:"
            )
        seen[test.name] = test


# ---------------------------------------------------------------- rendering


class _Resolver:
    """Turns ref()/source() into quoted relations and records what a template read."""

    def __init__(self, models: Mapping[ModelKey, SqlModel], sources: Mapping[tuple[str, str], SourceTable]):
        self.models = models
        self.sources = sources

    def model_key(self, parts: Sequence[str]) -> ModelKey:
        if len(parts) == 2:
            key = (str(parts[0]), str(parts[1]))
        elif len(parts) == 1 and "." in str(parts[0]):
            key = _model_key_from_text(str(parts[0]))
        elif len(parts) == 1:
            matches = [k for k in self.models if k[1] == parts[0]]
            if len(matches) > 1:
                options = ", ".join(f"ref('{s}', '{n}')" for s, n in matches)
                raise SqlModelError(f"ref({parts[0]!r}) is ambiguous: use one of {options}")
            key = matches[0] if matches else ("?", str(parts[0]))
        else:
            raise SqlModelError(f"ref() takes 'name', 'schema.name' or 'schema', 'name'; got {list(parts)}")
        if key not in self.models:
            known = ", ".join(sorted(f"{s}.{n}" for s, n in self.models))
            raise SqlModelError(f"ref({', '.join(repr(p) for p in parts)}): unknown model (known: {known})")
        return key

    def source(self, source_name: str, table_name: str) -> SourceTable:
        source = self.sources.get((str(source_name), str(table_name)))
        if source is None:
            known = ", ".join(sorted(f"{s}.{t}" for s, t in self.sources)) or "none: declare sources in models.yml"
            raise SqlModelError(f"source({source_name!r}, {table_name!r}): unknown source (known: {known})")
        return source


@dataclass
class _Rendered:
    sql: str
    model_deps: set[ModelKey]
    source_deps: set[SourceTable]


_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


def _render(
    template: str,
    path: Path,
    resolver: _Resolver,
    window: PartitionWindow | None,
    this: SqlModel | None = None,
    filter_partition_of: ModelKey | None = None,
) -> _Rendered:
    """Render Jinja; `filter_partition_of` makes ref() to that model yield only the window's rows."""
    model_deps: set[ModelKey] = set()
    source_deps: set[SourceTable] = set()

    def ref(*parts: str) -> str:
        key = resolver.model_key(parts)
        model_deps.add(key)
        if key == filter_partition_of and window is not None:
            return _partition_rows(key[0], key[1], window.day).sql("duckdb")
        return _relation(*key).sql("duckdb")

    def source(source_name: str, table_name: str) -> str:
        table = resolver.source(source_name, table_name)
        source_deps.add(table)
        return _relation(table.schema, table.table_name).sql("duckdb")

    context: dict[str, Any] = {"ref": ref, "source": source}
    if this is not None:
        context["this"] = this.relation_sql
    if window is not None:
        context |= {
            "partition_date": date_literal(window.day),
            "partition_start": timestamp_literal(window.start),
            "partition_end": timestamp_literal(window.end),
        }
    try:
        sql = _ENVIRONMENT.from_string(template).render(context)
    except jinja2.TemplateSyntaxError as error:
        raise SqlModelError(f"{path}:{error.lineno}: Jinja syntax error: {error.message}") from error
    except jinja2.UndefinedError as error:
        hint = "" if window else " (partition variables exist only in models materialized as partition)"
        raise SqlModelError(f"{path}:{_template_line(error)}: {error.message}{hint}") from error
    except SqlModelError as error:
        raise SqlModelError(f"{path}:{_template_line(error)}: {error}") from error
    except Exception as error:  # any other failure inside a template: still name the file
        raise SqlModelError(f"{path}:{_template_line(error)}: template error: {error}") from error
    return _Rendered(sql=sql, model_deps=model_deps, source_deps=source_deps)


def _template_line(error: BaseException) -> int | str:
    """The template line an exception came from (Jinja maps its frames to '<template>')."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<template>"]
    return lines[-1] if lines else "?"


def _parse_query(sql: str, path: Path) -> None:
    """Exactly one SELECT-like query, checked by sqlglot (DuckDB dialect) and by DuckDB's own parser.

    sqlglot gives the line and column of an error; DuckDB's parser settles what sqlglot does not know yet
    (newer DuckDB syntax) and catches what sqlglot accepts too leniently. Nothing is executed.
    """
    try:
        parsed = sqlglot.parse(sql, read="duckdb")
        # A comment after the final `;` comes back as an empty Semicolon statement.
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except sqlglot.errors.ParseError as error:
        if _duckdb_parse_error(sql) is None:
            return
        detail = error.errors[0] if error.errors else {}
        line, column = detail.get("line", "?"), detail.get("col", "?")
        description = detail.get("description") or str(error)
        raise SqlModelError(
            f"{path}:{line}:{column}: SQL syntax error: {description}\n    {_line_text(sql, line)}"
        ) from error
    except sqlglot.errors.SqlglotError as error:
        raise SqlModelError(f"{path}: SQL error: {error}") from error
    if len(statements) != 1:
        raise SqlModelError(f"{path}: expected exactly one SELECT statement, found {len(statements)}")
    if not isinstance(statements[0], exp.Query):
        kind = type(statements[0]).__name__.upper()
        raise SqlModelError(f"{path}: a model is one SELECT (or WITH ... SELECT) query, found {kind}")
    duckdb_error = _duckdb_parse_error(sql)
    if duckdb_error is not None:
        message, line, column = duckdb_error
        raise SqlModelError(f"{path}:{line}:{column}: SQL syntax error: {message}\n    {_line_text(sql, line)}")


def _duckdb_parse_error(sql: str) -> tuple[str, int | str, int | str] | None:
    """DuckDB's parser verdict on a SELECT (json_serialize_sql parses without binding): None if it is fine."""
    with duckdb.connect(":memory:") as connection:
        row = connection.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    verdict = json.loads(row[0]) if row else {}
    if not verdict.get("error"):
        return None
    position = verdict.get("position")
    if position is None or not str(position).isdigit():
        return str(verdict.get("error_message")), "?", "?"
    before = sql[: int(position)]
    line = before.count("\n") + 1
    return str(verdict.get("error_message")), line, len(before) - (before.rfind("\n") + 1) + 1


def _line_text(sql: str, line: Any) -> str:
    lines = sql.splitlines()
    return lines[line - 1].strip() if isinstance(line, int) and 0 < line <= len(lines) else ""


def _query_body(sql: str) -> str:
    """The SQL up to its last token: drops a trailing `;` and comments so it can be wrapped."""
    tokens = list(sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql))
    while tokens and tokens[-1].token_type == sqlglot.TokenType.SEMICOLON:
        tokens.pop()
    return sql[: tokens[-1].end + 1] if tokens else sql


def _analyse_model(model: SqlModel, resolver: _Resolver) -> None:
    window = PartitionWindow.for_day(PLACEHOLDER_DAY) if model.partitioned else None
    rendered = _render(model.template, model.path, resolver, window, this=model)
    _parse_query(rendered.sql, model.path)
    if model.key in rendered.model_deps:
        raise SqlModelError(f"{model.path}: a model cannot ref() itself (use {{{{ this }}}})")
    model.model_deps = frozenset(rendered.model_deps)
    model.source_deps = frozenset(rendered.source_deps)
    model.tests = [_with_relationship_deps(test, model, resolver) for test in model.tests]


def _with_relationship_deps(test: DataTest, model: SqlModel, resolver: _Resolver) -> DataTest:
    """A relationships test reads its parent relation: record it (and fail early if it is unknown)."""
    if test.kind != "relationships":
        return test
    to = _render("{{ " + (test.to or "") + " }}", test.path or model.path, resolver, None)
    return replace(test, model_deps=frozenset(to.model_deps - {model.key}), source_deps=frozenset(to.source_deps))


def _topological_order(root: Path, models: dict[ModelKey, SqlModel]) -> dict[ModelKey, SqlModel]:
    sorter = graphlib.TopologicalSorter({key: model.model_deps for key, model in models.items()})
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as error:
        cycle = list(reversed(error.args[1]))  # graphlib lists it dependency-first
        chain = " -> ".join(str(models[key].path.relative_to(root)) for key in cycle)
        raise SqlModelError(f"{models[cycle[0]].path}: dependency cycle (each reads the next): {chain}") from error
    return {key: models[key] for key in order}


def _check_partition_groups(root: Path, models: Mapping[ModelKey, SqlModel]) -> None:
    """Partitioned and unpartitioned models run as two steps: they may not depend on each other both ways."""
    up = [(m, d) for m in models.values() if not m.partitioned for d in m.model_deps if models[d].partitioned]
    down = [(m, d) for m in models.values() if m.partitioned for d in m.model_deps if not models[d].partitioned]
    if up and down:
        (a, a_dep), (b, b_dep) = up[0], down[0]
        raise SqlModelError(
            f"{a.path}: unpartitioned model reads partitioned {a_dep[0]}.{a_dep[1]} while partitioned "
            f"{b.path.relative_to(root)} reads unpartitioned {b_dep[0]}.{b_dep[1]}: the two groups would "
            "depend on each other; change one model's materialization"
        )


def _load_custom_tests(
    root: Path,
    config_path: Path,
    config: Mapping[str, Any],
    models: Mapping[ModelKey, SqlModel],
    resolver: _Resolver,
) -> list[DataTest]:
    _require_mapping(config, config_path, "tests")
    tests_dir = root / "tests"
    paths = sorted(tests_dir.glob("*.sql")) if tests_dir.is_dir() else []
    names = {path.stem for path in paths}
    for name in config:
        if name not in names:
            raise SqlModelError(f"{config_path}: tests entry {name!r} has no file tests/{name}.sql")
    return [_custom_test(path, config.get(path.stem) or {}, config_path, models, resolver) for path in paths]


def _custom_test(
    path: Path,
    config: Mapping[str, Any],
    config_path: Path,
    models: Mapping[ModelKey, SqlModel],
    resolver: _Resolver,
) -> DataTest:
    template = _read_text(path)
    header, prose = _parse_header(template, path, _TEST_HEADER_KEYS)
    _require_mapping(config, config_path, f"tests entry {path.stem!r}")
    _reject_unknown_keys(config, set(_TEST_HEADER_KEYS), config_path, f"tests entry {path.stem!r}")
    settings = {**header, **config}
    # A first render (for any day) finds the models it reads, and so the one it tests.
    probe = _render(template, path, resolver, PartitionWindow.for_day(PLACEHOLDER_DAY))
    if "model" in settings:
        try:
            target = resolver.model_key([str(settings["model"])])
        except SqlModelError as error:
            raise SqlModelError(f"{path}: model: {error}") from error
    elif len(probe.model_deps) == 1:
        target = next(iter(probe.model_deps))
    else:
        found = sorted(f"{s}.{n}" for s, n in probe.model_deps) or "none"
        raise SqlModelError(
            f"{path}: cannot tell which model this test checks (it refs {found}); add '-- model: <schema>.<name>'"
        )
    window = PartitionWindow.for_day(PLACEHOLDER_DAY) if models[target].partitioned else None
    rendered = _render(template, path, resolver, window, filter_partition_of=target)
    _parse_query(rendered.sql, path)
    severity, blocking = _severity(path, settings)
    return DataTest(
        name=_check_name(path, path.stem),
        model=target,
        kind="sql",
        severity=severity,
        blocking=blocking,
        description=str(settings.get("description") or prose or f"custom SQL test {path.name}"),
        path=path,
        template=template,
        model_deps=frozenset(rendered.model_deps - {target}),
        source_deps=frozenset(rendered.source_deps),
    )


# ---------------------------------------------------------------- compiling


def compile_model(project: SqlProject, key: ModelKey, window: PartitionWindow | None = None) -> str:
    """The model's SELECT with ref()/source()/partition variables filled in."""
    model = project.models[key]
    if model.partitioned and window is None:
        raise SqlModelError(f"{model.path}: a partitioned model needs a partition to run")
    rendered = _render(
        model.template,
        model.path,
        _Resolver(project.models, project.sources),
        window if model.partitioned else None,
        this=model,
    )
    return _query_body(rendered.sql)


def compile_test(project: SqlProject, test: DataTest, window: PartitionWindow | None = None) -> str:
    """SQL returning the test's failing rows; for a partitioned model, only the window's rows are tested."""
    model = project.models[test.model]
    window = window if model.partitioned else None
    if model.partitioned and window is None:
        raise SqlModelError(f"{test.path}: tests of partitioned {model.schema}.{model.name} need a partition")
    resolver = _Resolver(project.models, project.sources)
    if test.kind == "sql":
        path = test.path or model.path
        rendered = _render(test.template or "", path, resolver, window, filter_partition_of=model.key)
        return _query_body(rendered.sql)
    rows: exp.Expression = (
        _partition_rows(model.schema, model.name, window.day).as_("model_rows")
        if window is not None
        else _relation(model.schema, model.name)
    )
    return _generic_test_query(test, rows, resolver).sql("duckdb", pretty=True)


def _generic_test_query(test: DataTest, rows: exp.Expression, resolver: _Resolver) -> exp.Query:
    columns = [exp.column(c, quoted=True) for c in test.columns]
    if test.kind == "not_null":
        return exp.select("*").from_(rows).where(exp.or_(*[c.is_(exp.null()) for c in columns]))
    if test.kind == "unique":
        n_rows = exp.alias_(exp.Count(this=exp.Star()), "n_rows")
        return (
            exp.select(*columns, n_rows)
            .from_(rows)
            .group_by(*columns)
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        )
    if test.kind == "accepted_values":
        column = columns[0]
        unexpected = exp.not_(column.copy().isin(*[exp.convert(v) for v in test.values]))
        return (
            exp.select(column, exp.alias_(exp.Count(this=exp.Star()), "n_rows"))
            .from_(rows)
            .where(exp.and_(exp.not_(column.copy().is_(exp.null())), unexpected))
            .group_by(column.copy())
        )
    # relationships: child values with no parent row
    parent_sql = _render("{{ " + (test.to or "") + " }}", test.path or Path("models.yml"), resolver, None).sql
    parent = exp.alias_(sqlglot.parse_one(parent_sql, into=exp.Table, read="duckdb"), "parent", table=True)
    child = rows.copy().as_("child") if isinstance(rows, exp.Table) else rows.this.subquery("child")
    child_column = exp.column(test.columns[0], table="child", quoted=True)
    parent_column = exp.column(test.field_name or test.columns[0], table="parent", quoted=True)
    return (
        exp.select(child_column)
        .from_(child)
        .join(parent, on=exp.EQ(this=child_column.copy(), expression=parent_column.copy()), join_type="left")
        .where(exp.and_(exp.not_(child_column.copy().is_(exp.null())), parent_column.copy().is_(exp.null())))
    )


def replace_relation_sql(model: SqlModel, body: str) -> str:
    """DDL for a view or table model (partitioned models go through `_replace_partition`)."""
    kind = "VIEW" if model.materialized == "view" else "TABLE"
    # The body is the analyst's own query; only our identifiers are spliced in, quoted by sqlglot.
    return f"CREATE OR REPLACE {kind} {model.relation_sql} AS\n{body}\n"


# ---------------------------------------------------------------- running on DuckDB


def materialize_model(
    connection: duckdb.DuckDBPyConnection,
    project: SqlProject,
    key: ModelKey,
    window: PartitionWindow | None = None,
) -> ModelRun:
    """Build one model in one transaction: view/table replaced, or the window's day replaced."""
    model = project.models[key]
    body = compile_model(project, key, window)
    _check_schema_name(connection, model)
    connection.execute("BEGIN")
    try:
        created_views = _ensure_upstream(connection, project, model)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(model.schema)}")
        _drop_if_other_kind(connection, model)
        if model.partitioned:
            assert window is not None
            row_count = _replace_partition(connection, model, body, window.day)
        else:
            connection.execute(replace_relation_sql(model, body))
            row_count = _scalar(connection, f"SELECT count(*) FROM {model.relation_sql}")
        columns = relation_columns(connection, model.schema, model.name)
        connection.execute("COMMIT")
    except duckdb.Error as error:
        connection.execute("ROLLBACK")
        raise SqlModelError(f"{model.path}: {error}") from error
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return ModelRun(key=key, row_count=row_count, columns=columns, compiled_sql=body, created_views=created_views)


def _check_schema_name(connection: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    # DuckDB cannot tell schema "x" from a database file named x.duckdb ("Ambiguous reference").
    database = _scalar_value(connection, "SELECT current_database()")
    if str(database).lower() == model.schema.lower():
        raise SqlModelError(f"{model.path}: schema {model.schema!r} has the database file's name; rename the folder")


def _ensure_upstream(connection: duckdb.DuckDBPyConnection, project: SqlProject, model: SqlModel) -> list[ModelKey]:
    """Create missing upstream views (they hold no data); a missing upstream table is an error."""
    created: list[ModelKey] = []
    for dep_key in model.model_deps:
        dep = project.models[dep_key]
        if _relation_type(connection, dep.schema, dep.name) is not None:
            continue
        if dep.materialized != "view":
            raise SqlModelError(
                f"{model.path}: reads {dep.schema}.{dep.name} ({dep.materialized}), which has not been "
                "materialized yet: materialize it first"
            )
        created += _ensure_upstream(connection, project, dep)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(dep.schema)}")
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


def _replace_partition(connection: duckdb.DuckDBPyConnection, model: SqlModel, body: str, day: dt.date) -> int:
    """Stage the day's result, check it only holds that day, then delete the day's rows and insert."""
    stage = _quoted(_STAGE_TABLE)
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {stage} AS\n{body}\n")
    stage_columns = dict(relation_columns(connection, "main", _STAGE_TABLE, catalog="temp"))
    if PARTITION_COLUMN not in stage_columns:
        raise SqlModelError(f"{model.path}: a partition model must select a {PARTITION_COLUMN} column")
    day_filter = _partition_filter(day)
    outside = _scalar(
        connection,
        exp.select(exp.Count(this=exp.Star()))
        .from_(exp.to_table(_STAGE_TABLE, quoted=True))
        .where(exp.not_(exp.func("coalesce", day_filter, exp.false())))
        .sql("duckdb"),
    )
    if outside:
        raise SqlModelError(
            f"{model.path}: {outside} row(s) have a {PARTITION_COLUMN} other than {day.isoformat()}; "
            f"filter on {PARTITION_COLUMN} = {{{{ partition_date }}}}"
        )
    target = model.relation_sql
    connection.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {stage} LIMIT 0")
    _add_new_columns(connection, model, stage_columns)
    delete = exp.delete(_relation(model.schema, model.name), where=day_filter).sql("duckdb")
    connection.execute(delete)
    connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {stage}")
    row_count = _scalar(connection, f"SELECT count(*) FROM {stage}")
    connection.execute(f"DROP TABLE {stage}")
    return row_count


def _add_new_columns(connection: duckdb.DuckDBPyConnection, model: SqlModel, stage_columns: Mapping[str, str]) -> None:
    """A model that gained a column keeps its earlier days: the column is added, NULL for them."""
    existing = dict(relation_columns(connection, model.schema, model.name))
    for name, data_type in stage_columns.items():
        if name not in existing:
            column_type = exp.DataType.build(data_type, dialect="duckdb").sql("duckdb")
            connection.execute(f"ALTER TABLE {model.relation_sql} ADD COLUMN {_quoted(name)} {column_type}")


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


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(_scalar_value(connection, sql) or 0)


def _scalar_value(connection: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = connection.execute(sql).fetchone()
    return row[0] if row else None


def run_test(
    connection: duckdb.DuckDBPyConnection,
    project: SqlProject,
    test: DataTest,
    window: PartitionWindow | None = None,
) -> TestRun:
    """Count the failing rows and keep a few; a test whose SQL fails is a failed test with the error."""
    sql = compile_test(project, test, window)
    # Wrapped as text, not re-generated by sqlglot, so the test runs exactly as written.
    failures = f"FROM (\n{sql}\n) AS failures"
    try:
        count = _scalar(connection, f"SELECT count(*) {failures}")
        result = connection.execute(f"SELECT * {failures} LIMIT ?", [FAILING_ROWS_SAMPLE])
        names = [d[0] for d in result.description or []]
        sample = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    except duckdb.Error as error:
        return TestRun(test=test, passed=False, failing_rows=0, sample=[], sql=sql, error=str(error))
    return TestRun(test=test, passed=count == 0, failing_rows=count, sample=sample, sql=sql)


def downstream_of(project: SqlProject, keys: Iterable[ModelKey]) -> set[ModelKey]:
    """Every model that reads (directly or not) one of `keys`, excluding those keys."""
    start = set(keys)
    reached: set[ModelKey] = set()
    for model in project.models.values():  # dependency order: parents before children
        if model.model_deps & (start | reached):
            reached.add(model.key)
    return reached - start


def describe_columns(project: SqlProject, key: ModelKey, columns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Columns with their models.yml descriptions, for a schema display."""
    descriptions = project.models[key].column_descriptions
    return [{"name": n, "type": t, "description": descriptions.get(n, "")} for n, t in columns]
