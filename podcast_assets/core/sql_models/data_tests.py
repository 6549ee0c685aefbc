"""dbt's data tests: generic tests from yml (`unique`, `not_null`, `accepted_values`, `relationships`) and
singular tests (`tests/*.sql`), compiled to a query returning the failing rows, and run on DuckDB."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from podcast_assets.core.sql_models.nodes import (
    GENERIC_TESTS,
    PLACEHOLDER_DAY,
    SEVERITIES,
    DataTest,
    ModelKey,
    PartitionWindow,
    SqlModel,
    SqlModelError,
    SqlProject,
    partition_filter,
    relation,
)
from podcast_assets.core.sql_models.rendering import (
    Resolver,
    check_query,
    parse_header,
    query_body,
    render,
    template_config,
)
from podcast_assets.core.sql_models.yaml_files import SingularTestEntry, TestSpec

FAILING_ROWS_SAMPLE = 5
_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Settings of any test, under `config:` (dbt) or beside the arguments (older dbt).
_TEST_CONFIG_KEYS = {"severity", "where", "enabled", "blocking", "tags", "meta"}
_TEST_ARGUMENTS = {
    "not_null": {"column_name", "columns"},
    "unique": {"column_name", "columns"},
    "accepted_values": {"column_name", "values", "quote"},
    "relationships": {"column_name", "to", "field"},
}
_SINGULAR_HEADER_KEYS = frozenset({"model", "severity", "blocking", "description", "where"})


@dataclass(frozen=True)
class TestRun:
    test: DataTest
    passed: bool
    failing_rows: int
    sample: list[dict[str, Any]]
    sql: str
    error: str | None = None


# ---------------------------------------------------------------- generic tests (yml)


def generic_test(spec: TestSpec, model: SqlModel) -> DataTest | None:
    """A test from a `data_tests:` entry; a mistake in it gives a broken test (a check that fails with the
    error). None for `enabled: false`."""
    kind, args, error = _split_spec(spec.spec)
    columns: tuple[str, ...] = (spec.column,) if spec.column else ()
    column_expression = None
    if error is None:
        columns, column_expression, error = _test_columns(kind, args, columns)
    settings = {**{k: args.pop(k) for k in list(args) if k in _TEST_CONFIG_KEYS}, **args.pop("config", {})}
    name = str(args.pop("name", "") or "_".join([kind or "test", *columns]) or kind)
    test = DataTest(
        name=_check_name(name),
        model=model.key,
        kind=kind or "invalid",
        columns=columns,
        column_expression=column_expression,
        path=spec.path,
        line=spec.line,
        description=str(args.pop("description", "") or ""),
    )
    if error is None:
        error = _unknown(set(args), _TEST_ARGUMENTS[kind], f"test {kind!r}") or _unknown(
            set(settings), _TEST_CONFIG_KEYS, f"config of test {kind!r}"
        )
    if error is None and settings.get("enabled") is False:
        return None
    if error is None:
        try:
            test = _configured(test, kind, args, settings)
        except SqlModelError as problem:
            error = problem
    if error is not None:
        return test.broken(error)
    return test


def _split_spec(spec: Any) -> tuple[str, dict[str, Any], SqlModelError | None]:
    if isinstance(spec, str):
        kind, args = spec, {}
    elif isinstance(spec, Mapping) and len(spec) == 1:
        kind, args = next(iter(spec.items()))
        if args is not None and not isinstance(args, Mapping):
            return str(kind), {}, SqlModelError(f"test {kind!r}: its arguments must be a mapping")
        args = dict(args or {})
    else:
        return "", {}, SqlModelError("a test is a name (- not_null) or {name: {arguments}} (- unique: {...})")
    for nested in ("config", "arguments"):
        if not isinstance(args.get(nested, {}) or {}, Mapping):
            return str(kind), {}, SqlModelError(f"test {kind!r}: {nested}: must be a mapping")
    args["config"] = dict(args.get("config") or {})
    args |= dict(args.pop("arguments", None) or {})  # dbt 1.10+: arguments beside config
    if kind not in GENERIC_TESTS:
        return (
            str(kind),
            args,
            SqlModelError(
                f"unknown test {kind!r} (known: {list(GENERIC_TESTS)}; custom tests are SQL files in tests/)"
            ),
        )
    return str(kind), args, None


def _test_columns(
    kind: str, args: dict[str, Any], columns: tuple[str, ...]
) -> tuple[tuple[str, ...], str | None, SqlModelError | None]:
    """A column's test tests that column; a model-level one names `column_name:` (a column or an expression)
    or, for not_null/unique, `columns: [a, b]` (every one non-null / the combination unique)."""
    if columns:
        return columns, None, None
    if "columns" in args and kind in ("not_null", "unique"):
        listed = args.pop("columns")
        listed = [listed] if isinstance(listed, str) else list(listed or [])
        return tuple(str(c) for c in listed), None, None if listed else SqlModelError(f"{kind}: columns is empty")
    column_name = args.pop("column_name", None)
    if not column_name:
        return (), None, SqlModelError(f"model-level test {kind!r} needs column_name: (or columns: [..])")
    if _NAME_PATTERN.match(str(column_name)):
        return (str(column_name),), None, None
    try:
        sqlglot.parse_one(str(column_name), read="duckdb")
    except sqlglot.errors.ParseError as error:
        return (), None, SqlModelError(f"column_name {column_name!r} is not a column or SQL expression: {error}")
    return (), str(column_name), None


def _configured(test: DataTest, kind: str, args: Mapping[str, Any], settings: Mapping[str, Any]) -> DataTest:
    values: tuple[Any, ...] = ()
    if kind == "accepted_values":
        if not isinstance(args.get("values"), list) or not args["values"]:
            raise SqlModelError("accepted_values needs a values: list")
        if args.get("quote", True) is not True:
            raise SqlModelError("accepted_values: quote: false is not supported (values are compared as literals)")
        values = tuple(args["values"])
    if kind == "relationships" and not args.get("to"):
        raise SqlModelError("relationships needs to: ref('...') or source('...', '...')")
    severity, blocking = test_severity(settings)
    where = settings.get("where")
    if where is not None:
        _parse_condition(str(where))
    subject = test.column_expression or ", ".join(test.columns)
    return replace(
        test,
        values=values,
        to=str(args["to"]) if kind == "relationships" else None,
        field_name=str(args.get("field") or (test.columns or ("",))[0]) if kind == "relationships" else None,
        severity=severity,
        blocking=blocking,
        where=str(where) if where is not None else None,
        description=test.description or _describe(kind, subject, values, args),
    )


def test_severity(settings: Mapping[str, Any]) -> tuple[str, bool]:
    """(severity, blocking). A failing test is a failed check; `severity: warn` shows it as a warning;
    an explicit `severity: error` (or `blocking: true`) also stops the model's downstream, like `dbt build`."""
    severity = str(settings.get("severity", "error")).strip().lower()
    if severity not in SEVERITIES:
        raise SqlModelError(f"severity must be 'error' or 'warn', got {settings.get('severity')!r}")
    blocking_value = settings.get("blocking", False)
    blocking = blocking_value if isinstance(blocking_value, bool) else str(blocking_value).lower() == "true"
    return severity, severity == "error" and (blocking or "severity" in settings)


def _parse_condition(where: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(where, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise SqlModelError(f"where: {where!r} is not a SQL condition: {error}") from error


def _describe(kind: str, subject: str, values: tuple[Any, ...], args: Mapping[str, Any]) -> str:
    if kind == "not_null":
        return f"{subject} is never null"
    if kind == "unique":
        return f"({subject}) is unique"
    if kind == "accepted_values":
        return f"{subject} is one of {list(values)}"
    return f"every {subject} exists in {args.get('to')}.{args.get('field') or subject}"


def _unknown(keys: set[str], allowed: set[str], what: str) -> SqlModelError | None:
    unknown = sorted(keys - allowed)
    if unknown:
        return SqlModelError(f"unknown key(s) {unknown} in {what} (allowed: {sorted(allowed)})")
    return None


def _check_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "test"
    return cleaned if _NAME_PATTERN.match(cleaned) else f"test_{cleaned}"


def with_relationship_deps(test: DataTest, model: SqlModel, resolver: Resolver) -> DataTest:
    """A relationships test reads its parent relation: record it (a broken test when it is unknown)."""
    if test.kind != "relationships" or test.error is not None:
        return test
    try:
        to = render("{{ " + (test.to or "") + " }}", test.path or model.path, resolver)
    except SqlModelError as error:
        return test.broken(SqlModelError(f"relationships to: {error.message}"))
    return replace(test, model_deps=frozenset(to.model_deps - {model.key}), source_deps=frozenset(to.source_deps))


def unique_test_names(model: SqlModel) -> None:
    """Two tests of one model with one name: the second is broken (check names must be unique)."""
    seen: set[str] = set()
    for index, test in enumerate(model.tests):
        if test.name in seen:
            suffix = 2
            while f"{test.name}_{suffix}" in seen:
                suffix += 1
            problem = SqlModelError(f"two tests named {test.name!r} on {model.label}; give one a name:")
            model.tests[index] = replace(test, name=f"{test.name}_{suffix}").broken(problem)
        seen.add(model.tests[index].name)


# ---------------------------------------------------------------- singular tests (tests/*.sql)


def singular_tests(
    root: Path,
    models: Mapping[ModelKey, SqlModel],
    resolver: Resolver,
    entries: Mapping[str, SingularTestEntry],
    vars: Mapping[str, Any],
) -> tuple[list[DataTest], list[SqlModelError]]:
    """Each tests/**/*.sql belongs to the one model it ref()s (or `-- model:` / config(model=...)).
    A test that cannot be tied to a model is a project problem; any other mistake gives a broken test."""
    tests_dir = root / "tests"
    paths = sorted(tests_dir.rglob("*.sql")) if tests_dir.is_dir() else []
    problems = [
        SqlModelError(f"data_tests entry {name!r} has no file tests/{name}.sql", entry.path, entry.line)
        for name, entry in entries.items()
        if name not in {p.stem for p in paths}
    ]
    tests = []
    for path in paths:
        try:
            tests.append(_singular_test(path, entries.get(path.stem), models, resolver, vars))
        except SqlModelError as error:
            problems.append(error.at(path))
    return tests, problems


def _singular_test(
    path: Path,
    entry: SingularTestEntry | None,
    models: Mapping[ModelKey, SqlModel],
    resolver: Resolver,
    vars: Mapping[str, Any],
) -> DataTest:
    try:
        template = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SqlModelError(f"cannot read: {error}", path) from error
    header, prose = parse_header(template, _SINGULAR_HEADER_KEYS)
    in_file, _ = template_config(template, path)
    settings = {**(entry.config if entry else {}), **{k: v for k, (v, _) in header.items()}, **in_file}
    description = (entry.description if entry else None) or settings.pop("description", None) or prose
    # A first render (for any day, tolerating mistakes) finds the models it reads, and so the one it tests.
    probe = render(template, path, resolver, vars=vars, lenient=True)
    if "model" in settings:
        target = resolver.model_key([str(settings.pop("model"))])
    elif len(probe.model_deps) == 1:
        target = next(iter(probe.model_deps))
    else:
        found = ", ".join(sorted(f"{s}.{n}" for s, n in probe.model_deps)) or "none"
        raise SqlModelError(
            f"cannot tell which model this test checks (it refs {found}); add '-- model: <schema>.<name>'", path
        )
    test = DataTest(
        name=_check_name(path.stem),
        model=target,
        kind="singular",
        path=path,
        line=1,
        template=template,
        description=str(description or f"SQL test {path.name}"),
    )
    try:
        unknown = _unknown(set(settings), _TEST_CONFIG_KEYS | {"blocking"}, "config of a singular test")
        if unknown:
            raise unknown
        severity, blocking = test_severity(settings)
        where = settings.get("where")
        if where is not None:
            _parse_condition(str(where))
        window = PartitionWindow.for_day(PLACEHOLDER_DAY) if models[target].partitioned else None
        rendered = render(template, path, resolver, window=window, filter_partition_of=target, vars=vars)
        check_query(rendered.sql, path, template)
    except SqlModelError as error:
        return test.broken(error)
    return replace(
        test,
        severity=severity,
        blocking=blocking,
        where=str(where) if where is not None else None,
        model_deps=frozenset(rendered.model_deps - {target}),
        source_deps=frozenset(rendered.source_deps),
    )


# ---------------------------------------------------------------- compiling and running


def compile_test(project: SqlProject, test: DataTest, window: PartitionWindow | None = None) -> str:
    """SQL returning the test's failing rows; for a partitioned model, only the window's rows are tested."""
    model = project.models[test.model]
    window = window if model.partitioned else None
    if model.partitioned and window is None:
        raise SqlModelError(f"tests of partitioned {model.label} need a partition", test.path)
    resolver = Resolver(project.models, project.sources)
    if test.kind == "singular":
        path = test.path or model.path
        rendered = render(
            test.template or "", path, resolver, window=window, filter_partition_of=model.key, vars=project.vars
        )
        body = query_body(rendered.sql)
        if test.where is None:
            return body
        # Wrapped as text so the test runs as written; the condition was parsed at load.
        return f"SELECT * FROM (\n{body}\n) AS dbt_subquery WHERE {test.where}"
    return _generic_test_query(test, _rows(model, window, test.where), resolver).sql("duckdb", pretty=True)


def _rows(model: SqlModel, window: PartitionWindow | None, where: str | None) -> exp.Expression:
    """The model's rows under test: the window's day of a partitioned model, filtered by `where`."""
    conditions = [partition_filter(window.day)] if window is not None else []
    if where is not None:
        conditions.append(_parse_condition(where))
    if not conditions:
        return relation(model.schema, model.name)
    return exp.select("*").from_(relation(model.schema, model.name)).where(exp.and_(*conditions)).subquery()


def _generic_test_query(test: DataTest, rows: exp.Expression, resolver: Resolver) -> exp.Query:
    subject: list[exp.Expression] = (
        [sqlglot.parse_one(test.column_expression, read="duckdb")]
        if test.column_expression
        else [exp.column(c, quoted=True) for c in test.columns]
    )
    model_rows = rows.copy().as_("model_rows")
    n_rows = exp.alias_(exp.Count(this=exp.Star()), "n_rows")
    if test.kind == "not_null":
        return exp.select("*").from_(model_rows).where(exp.or_(*[c.copy().is_(exp.null()) for c in subject]))
    if test.kind == "unique":
        named = [exp.alias_(c.copy(), "unique_field") if test.column_expression else c.copy() for c in subject]
        return (
            exp.select(*named, n_rows)
            .from_(model_rows)
            .where(exp.and_(*[exp.not_(c.copy().is_(exp.null())) for c in subject]))
            .group_by(*[c.copy() for c in subject])
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        )
    value = subject[0]
    if test.kind == "accepted_values":
        unexpected = exp.not_(value.copy().isin(*[exp.convert(v) for v in test.values]))
        return (
            exp.select(exp.alias_(value.copy(), "value_field"), n_rows)
            .from_(model_rows)
            .where(exp.and_(exp.not_(value.copy().is_(exp.null())), unexpected))
            .group_by(value.copy())
        )
    # relationships: child values with no parent row
    parent_sql = render("{{ " + (test.to or "") + " }}", test.path or Path("models.yml"), resolver).sql
    parent = exp.alias_(sqlglot.parse_one(parent_sql, into=exp.Table, read="duckdb"), "parent", table=True)
    child_value = exp.alias_(value.copy(), "child_value")
    children = exp.select(child_value).from_(model_rows).subquery("child")
    child_column = exp.column("child_value", table="child", quoted=True)
    parent_column = exp.column(test.field_name or test.columns[0], table="parent", quoted=True)
    return (
        exp.select(exp.alias_(child_column.copy(), "from_field"))
        .from_(children)
        .join(parent, on=exp.EQ(this=child_column.copy(), expression=parent_column.copy()), join_type="left")
        .where(exp.and_(exp.not_(child_column.copy().is_(exp.null())), parent_column.copy().is_(exp.null())))
    )


def run_test(
    connection: duckdb.DuckDBPyConnection,
    project: SqlProject,
    test: DataTest,
    window: PartitionWindow | None = None,
) -> TestRun:
    """Count the failing rows and keep a few; a test that cannot compile or whose SQL fails is a failed test
    with the error."""
    if test.error is not None:
        return TestRun(
            test=test, passed=False, failing_rows=0, sample=[], sql="", error=project.format_error(test.error)
        )
    try:
        sql = compile_test(project, test, window)
    except SqlModelError as error:
        return TestRun(test=test, passed=False, failing_rows=0, sample=[], sql="", error=project.format_error(error))
    # Wrapped as text, not re-generated by sqlglot, so the test runs exactly as written.
    failures = f"FROM (\n{sql}\n) AS failures"
    try:
        count = int(connection.execute(f"SELECT count(*) {failures}").fetchone()[0])
        result = connection.execute(f"SELECT * {failures} LIMIT ?", [FAILING_ROWS_SAMPLE])
        names = [d[0] for d in result.description or []]
        sample = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    except duckdb.Error as error:
        return TestRun(test=test, passed=False, failing_rows=0, sample=[], sql=sql, error=str(error))
    return TestRun(test=test, passed=count == 0, failing_rows=count, sample=sample, sql=sql)
