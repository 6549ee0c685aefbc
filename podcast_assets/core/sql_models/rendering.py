"""Jinja rendering of models and tests as dbt writes them, and the SQL parse check.

In a template: `ref()`, `source()`, `config()`, `var()`, `is_incremental()`, `this`, and this project's
`partition_date` / `partition_start` / `partition_end` in `partition` models. Rendering records what a template
reads (its dependencies); `config()` is read from the template's syntax tree, before any rendering, so a model's
materialization is known before it is rendered for real.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import jinja2.sandbox
import sqlglot
from jinja2 import nodes
from sqlglot import exp

from podcast_assets.core.sql_models.nodes import (
    PLACEHOLDER_DAY,
    ModelKey,
    PartitionWindow,
    SourceTable,
    SqlModel,
    SqlModelError,
    date_literal,
    partition_rows,
    relation,
    timestamp_literal,
)

_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)
_MISSING = object()
_HEADER_SETTING = re.compile(r"^--\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")


def parse_header(text: str, keys: frozenset[str]) -> tuple[dict[str, tuple[str, int]], str]:
    """`-- key: value` settings (with their lines) and the prose of the file's leading comment block:
    the shorthand for `{{ config(key=value) }}` and for the description."""
    settings: dict[str, tuple[str, int]] = {}
    prose: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _HEADER_SETTING.match(stripped)
        if match and match.group(1).lower() in keys:
            settings[match.group(1).lower()] = (match.group(2), number)
        else:
            prose.append(stripped.removeprefix("--").strip())
    return settings, " ".join(p for p in prose if p)


class Resolver:
    """Turns ref()/source() arguments into models and source tables (errors name what is known)."""

    def __init__(
        self,
        models: Mapping[ModelKey, SqlModel],
        sources: Mapping[tuple[str, str], SourceTable],
        disabled: Sequence[ModelKey] = (),
    ):
        self.models = models
        self.sources = sources
        self.disabled = set(disabled)

    def model_key(self, parts: Sequence[Any]) -> ModelKey:
        parts = [str(p) for p in parts]
        if len(parts) == 2:
            key = (parts[0], parts[1])
        elif len(parts) == 1 and "." in parts[0]:
            schema, _, name = parts[0].partition(".")
            key = (schema, name)
        elif len(parts) == 1:
            matches = [k for k in self.models if k[1] == parts[0]]
            if len(matches) > 1:
                options = ", ".join(f"ref('{s}', '{n}')" for s, n in sorted(matches))
                raise SqlModelError(f"ref({parts[0]!r}) is ambiguous: use one of {options}")
            key = matches[0] if matches else next((k for k in self.disabled if k[1] == parts[0]), ("?", parts[0]))
        else:
            raise SqlModelError(f"ref() takes 'name', 'schema.name' or 'schema', 'name'; got {parts}")
        if key in self.disabled:
            raise SqlModelError(f"ref({', '.join(repr(p) for p in parts)}): model {key[0]}.{key[1]} is disabled")
        if key not in self.models:
            known = ", ".join(sorted(f"{s}.{n}" for s, n in self.models))
            raise SqlModelError(f"ref({', '.join(repr(p) for p in parts)}): unknown model (known: {known})")
        return key

    def source(self, source_name: Any, table_name: Any) -> SourceTable:
        table = self.sources.get((str(source_name), str(table_name)))
        if table is None:
            known = ", ".join(sorted(f"{s}.{t}" for s, t in self.sources)) or "none: declare sources in a yml file"
            raise SqlModelError(f"source({source_name!r}, {table_name!r}): unknown source (known: {known})")
        return table


class Relation:
    """`{{ this }}`: renders as the quoted relation; `.schema`, `.name`, `.identifier` as in dbt."""

    def __init__(self, schema: str, name: str) -> None:
        self.schema = schema
        self.name = name
        self.identifier = name
        self.database = None

    def __str__(self) -> str:
        return relation(self.schema, self.name).sql("duckdb")


@dataclass
class Rendered:
    sql: str
    model_deps: set[ModelKey] = field(default_factory=set)
    source_deps: set[SourceTable] = field(default_factory=set)
    ref_lines: dict[ModelKey, int] = field(default_factory=dict)


def render(
    template: str,
    path: Path,
    resolver: Resolver,
    *,
    window: PartitionWindow | None = None,
    this: SqlModel | None = None,
    incremental: bool = False,
    filter_partition_of: ModelKey | None = None,
    vars: Mapping[str, Any] | None = None,
    lenient: bool = False,
) -> Rendered:
    """Render a model or test. `filter_partition_of` makes ref() to that model yield only the window's rows.
    `lenient` never fails on an unknown ref/source/var and defines the partition variables: it only collects
    the dependencies of a model that does not compile, for the lineage graph."""
    rendered = Rendered(sql="")
    try:
        compiled = _ENVIRONMENT.from_string(template)
    except jinja2.TemplateSyntaxError as error:
        raise SqlModelError(f"Jinja syntax error: {error.message}", path, error.lineno) from error
    if lenient and window is None:
        window = PartitionWindow.for_day(PLACEHOLDER_DAY)

    def ref(*parts: Any, **options: Any) -> str:
        if options:
            raise SqlModelError(f"ref() takes no options here (got {sorted(options)})")
        try:
            key = resolver.model_key(parts)
        except SqlModelError:
            if not lenient:
                raise
            return relation("_unknown", "_unknown").sql("duckdb")
        rendered.model_deps.add(key)
        rendered.ref_lines.setdefault(key, _current_line(compiled))
        if key == filter_partition_of and window is not None:
            return partition_rows(key[0], key[1], window.day).sql("duckdb")
        return relation(*key).sql("duckdb")

    def source(source_name: Any, table_name: Any) -> str:
        try:
            table = resolver.source(source_name, table_name)
        except SqlModelError:
            if not lenient:
                raise
            return relation("_unknown", "_unknown").sql("duckdb")
        rendered.source_deps.add(table)
        return table.relation.sql("duckdb")

    def var(name: Any, default: Any = _MISSING) -> Any:
        values = vars or {}
        if str(name) in values:
            return values[str(name)]
        if default is not _MISSING:
            return default
        if lenient:
            return "NULL"
        raise SqlModelError(
            f"var({name!r}) is not set and has no default: set it under vars: in dbt_project.yml, "
            "or pass it (--vars, PODCAST_BRIEF_SQL_VARS)"
        )

    context: dict[str, Any] = {
        "ref": ref,
        "source": source,
        "var": var,
        "config": lambda *args, **kwargs: "",  # read from the syntax tree (template_config)
        "is_incremental": lambda: incremental,
    }
    if this is not None:
        context["this"] = Relation(this.schema, this.name)
    if window is not None:
        context |= {
            "partition_date": date_literal(window.day),
            "partition_start": timestamp_literal(window.start),
            "partition_end": timestamp_literal(window.end),
        }
    try:
        rendered.sql = compiled.render(context)
    except jinja2.UndefinedError as error:
        hint = "" if window else " (partition variables exist only in models materialized as partition)"
        raise SqlModelError(f"{error.message}{hint}", path, _error_line(error)) from error
    except SqlModelError as error:
        raise SqlModelError(error.message, path, _error_line(error)) from error
    except Exception as error:  # any other failure inside a template: still name the file and line
        raise SqlModelError(f"template error: {error}", path, _error_line(error)) from error
    return rendered


def _current_line(compiled: jinja2.Template) -> int:
    """The template line being rendered (for a ref() call)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == "<template>":
            return compiled.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back
    return 0


def _error_line(error: BaseException) -> int | None:
    """The template line an exception came from (Jinja maps its frames to '<template>')."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<template>"]
    return lines[-1] if lines and lines[-1] else None


def template_config(template: str, path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The keyword arguments of every `{{ config(...) }}` in a template, and the line of each.
    Read from the syntax tree, so they are known before rendering; values must be literals."""
    try:
        tree = _ENVIRONMENT.parse(template)
    except jinja2.TemplateSyntaxError as error:
        raise SqlModelError(f"Jinja syntax error: {error.message}", path, error.lineno) from error
    settings: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name == "config"):
            continue
        if call.args or call.dyn_args or call.dyn_kwargs:
            raise SqlModelError(
                "config() takes keyword arguments, e.g. config(materialized='table')", path, call.lineno
            )
        for keyword in call.kwargs:
            try:
                settings[keyword.key] = keyword.value.as_const()
            except nodes.Impossible as error:
                raise SqlModelError(
                    f"config({keyword.key}=...) must be a literal (a string, number, list or true/false)",
                    path,
                    call.lineno,
                ) from error
            lines[keyword.key] = call.lineno
    return settings, lines


# ---------------------------------------------------------------- the SQL parse check


def check_query(sql: str, path: Path, template: str) -> None:
    """Exactly one SELECT-like query, checked by sqlglot (DuckDB dialect) and by DuckDB's own parser.

    sqlglot gives the line and column of an error; DuckDB's parser settles what sqlglot does not know yet
    (newer DuckDB syntax) and catches what sqlglot accepts too leniently. Nothing is executed. Lines are
    mapped back from the rendered SQL to the template.
    """
    try:
        parsed = sqlglot.parse(sql, read="duckdb")
        # A comment after the final `;` comes back as an empty Semicolon statement.
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except sqlglot.errors.ParseError as error:
        duckdb_error = _duckdb_parse_error(sql)
        if duckdb_error is None:
            return
        # DuckDB's words (what a DuckDB user knows), sqlglot's position when DuckDB gives none.
        detail = error.errors[0] if error.errors else {}
        message, line, column = duckdb_error
        if line is None:
            line, column = detail.get("line"), detail.get("col")
        raise _syntax_error(message, sql, template, path, line, column) from error
    except sqlglot.errors.SqlglotError as error:
        raise SqlModelError(f"SQL error: {error}", path) from error
    if len(statements) != 1:
        raise SqlModelError(f"expected exactly one SELECT statement, found {len(statements)}", path)
    if not isinstance(statements[0], exp.Query):
        kind = type(statements[0]).__name__.upper()
        raise SqlModelError(f"a model is one SELECT (or WITH ... SELECT) query, found {kind}", path)
    duckdb_error = _duckdb_parse_error(sql)
    if duckdb_error is not None:
        message, line, column = duckdb_error
        raise _syntax_error(message, sql, template, path, line, column)


def _syntax_error(
    message: str, sql: str, template: str, path: Path, line: int | None, column: int | None
) -> SqlModelError:
    text = _line_text(sql, line)
    template_line = map_line(template, sql, line) if isinstance(line, int) else None
    same_line = template_line is not None and _line_text(template, template_line) == text
    headline = f"SQL {message}" if message.lower().startswith("syntax error") else f"SQL syntax error: {message}"
    return SqlModelError(f"{headline}\n    {text}", path, template_line, column if same_line else None)


_PARSER = threading.local()


def _parser_connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per thread for parse checks (opening one costs ~20 ms; nothing is stored in it)."""
    if getattr(_PARSER, "connection", None) is None:
        _PARSER.connection = duckdb.connect(":memory:")
    return _PARSER.connection


def _duckdb_parse_error(sql: str) -> tuple[str, int | None, int | None] | None:
    """DuckDB's parser verdict on a SELECT (json_serialize_sql parses without binding): None if it is fine."""
    row = _parser_connection().execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    verdict = json.loads(row[0]) if row else {}
    if not verdict.get("error"):
        return None
    position = verdict.get("position")
    if position is None or not str(position).isdigit():
        return str(verdict.get("error_message")), None, None
    before = sql[: min(int(position), len(sql.rstrip()))]  # "at end of input": the last line, not after it
    return str(verdict.get("error_message")), before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def map_line(template: str, sql: str, line: int) -> int:
    """The template line a rendered line came from (rendering may drop lines: `{% if %}`, config())."""
    matcher = difflib.SequenceMatcher(a=sql.splitlines(), b=template.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= line - 1 < i2:
            if tag == "equal":
                return j1 + (line - 1 - i1) + 1
            return min(j1 + (line - 1 - i1), max(j2 - 1, j1)) + 1
    return line


def _line_text(sql: str, line: Any) -> str:
    lines = sql.splitlines()
    return lines[line - 1].strip() if isinstance(line, int) and 0 < line <= len(lines) else ""


def query_body(sql: str) -> str:
    """The SQL up to its last token: drops a trailing `;` and comments so it can be wrapped."""
    tokens = list(sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql))
    while tokens and tokens[-1].token_type == sqlglot.TokenType.SEMICOLON:
        tokens.pop()
    return sql[: tokens[-1].end + 1] if tokens else sql
