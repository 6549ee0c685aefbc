"""The project's YAML as dbt writes it: `dbt_project.yml` (vars) and property files (`models.yml`,
`schema.yml`, any `*.yml` under models/ or tests/) with `models:`, `sources:` and `data_tests:` lists.

Every mapping and list keeps the line it starts on, so an error names `file:line`. A mistake in one entry is
recorded against that entry (the model or test it configures fails with it), never raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from podcast_assets.core.sql_models.nodes import DEFAULT_SOURCE_SCHEMA, SourceTable, SqlModelError

PROJECT_FILE = "dbt_project.yml"
ROOT_PROPERTY_FILES = ("models.yml", "schema.yml")
_PROPERTY_SUFFIXES = (".yml", ".yaml")
# dbt_project.yml keys that mean nothing here but may be present in a dbt project: accepted and ignored.
_IGNORED_PROJECT_KEYS = {"name", "version", "config-version", "profile", "require-dbt-version", "clean-targets"}
_TOP_LEVEL_KEYS = {"version", "models", "sources", "data_tests", "tests"}
_MODEL_KEYS = {"name", "description", "config", "columns", "data_tests", "tests", "meta", "docs"}
_COLUMN_KEYS = {"name", "description", "data_tests", "tests", "meta", "data_type", "quote"}
_SOURCE_KEYS = {"name", "schema", "description", "meta", "tables", "loader"}
_TABLE_KEYS = {"name", "identifier", "description", "meta", "columns", "loader", "data_tests", "tests"}
_SINGULAR_TEST_KEYS = {"name", "description", "config", "meta"}


class YamlMap(dict):
    """A mapping that knows its line in the file."""

    line: int | None = None


class YamlSeq(list):
    """A list that knows its line, and the line of each item."""

    line: int | None = None
    item_lines: list[int] = []


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> YamlMap:
    loader.flatten_mapping(node)
    value = YamlMap(loader.construct_pairs(node, deep=True))
    value.line = node.start_mark.line + 1
    return value


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> YamlSeq:
    value = YamlSeq(loader.construct_sequence(node, deep=True))
    value.line = node.start_mark.line + 1
    value.item_lines = [item.start_mark.line + 1 for item in node.value]
    return value


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def line_of(value: Any, default: int | None = None) -> int | None:
    return getattr(value, "line", None) or default


def items_with_lines(value: YamlSeq | list, default: int | None) -> Iterable[tuple[Any, int | None]]:
    lines = getattr(value, "item_lines", []) or []
    for index, item in enumerate(value):
        yield item, (lines[index] if index < len(lines) else default)


@dataclass
class TestSpec:
    """One entry of a `data_tests:` list, as written."""

    spec: Any
    path: Path
    line: int | None
    column: str | None = None  # set for a column's tests


@dataclass
class ModelEntry:
    """One `models:` entry of a property file."""

    name: str
    path: Path
    line: int | None
    description: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    column_descriptions: dict[str, str] = field(default_factory=dict)
    tests: list[TestSpec] = field(default_factory=list)
    error: SqlModelError | None = None


@dataclass
class SingularTestEntry:
    """A `data_tests:` entry at the top of a property file: settings of a tests/<name>.sql file."""

    name: str
    path: Path
    line: int | None
    description: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Properties:
    sources: dict[tuple[str, str], SourceTable] = field(default_factory=dict)
    models: list[ModelEntry] = field(default_factory=list)
    singular_tests: dict[str, SingularTestEntry] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    problems: list[SqlModelError] = field(default_factory=list)


def read_properties(root: Path) -> Properties:
    """dbt_project.yml and every property file of the project; problems are collected, not raised."""
    properties = Properties()
    project_file = root / PROJECT_FILE
    if project_file.exists():
        _read_project_file(project_file, properties)
    for path in property_files(root):
        data = _load(path, properties.problems)
        if data is None:
            continue
        unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
        if unknown:
            properties.problems.append(
                SqlModelError(
                    f"{unknown} not supported here (supported: models, sources, data_tests)", path, line_of(data)
                )
            )
        _read_sources(path, data.get("sources"), properties)
        _read_models(path, data.get("models"), properties)
        for key in ("data_tests", "tests"):
            _read_singular_tests(path, data.get(key), properties)
    return properties


def property_files(root: Path) -> list[Path]:
    found = [root / name for name in ROOT_PROPERTY_FILES if (root / name).is_file()]
    for folder in ("models", "tests"):
        if (root / folder).is_dir():
            found += sorted(p for p in (root / folder).rglob("*") if p.suffix in _PROPERTY_SUFFIXES and p.is_file())
    return found


def parse_vars(text: str, where: str) -> dict[str, Any]:
    """`--vars` / PODCAST_BRIEF_SQL_VARS: a YAML (or JSON) mapping, as `dbt run --vars` takes."""
    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as error:
        raise SqlModelError(f"{where}: vars must be a YAML mapping: {error}") from error
    if not isinstance(value, Mapping):
        raise SqlModelError(f"{where}: vars must be a mapping like {{name: value}}, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _load(path: Path, problems: list[SqlModelError]) -> YamlMap | None:
    try:
        data = yaml.load(path.read_text(), Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        what = ", ".join(str(p) for p in (getattr(error, "context", None), getattr(error, "problem", None)) if p)
        problems.append(SqlModelError(f"invalid YAML: {what or error}", path, mark.line + 1 if mark else None))
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(SqlModelError(f"cannot read: {error}", path))
        return None
    if data is None:
        return YamlMap()
    if not isinstance(data, Mapping):
        problems.append(SqlModelError(f"the file must be a mapping, got {type(data).__name__}", path, 1))
        return None
    return data


def _read_project_file(path: Path, properties: Properties) -> None:
    data = _load(path, properties.problems)
    if data is None:
        return
    for key in data:
        if key == "vars":
            continue
        if key == "models":
            properties.problems.append(
                SqlModelError(
                    "folder-wide model configs (models:) are not supported here: use {{ config(...) }} in the model "
                    "or config: in a yml file",
                    path,
                    line_of(data["models"], line_of(data)),
                )
            )
        elif key not in _IGNORED_PROJECT_KEYS:
            properties.problems.append(SqlModelError(f"unsupported key {key!r}", path, line_of(data)))
    project_vars = data.get("vars") or {}
    if not isinstance(project_vars, Mapping):
        properties.problems.append(SqlModelError("vars: must be a mapping", path, line_of(data)))
        return
    properties.vars = {str(k): v for k, v in project_vars.items()}


def _entries(path: Path, value: Any, what: str, problems: list[SqlModelError]) -> list[tuple[Mapping, int | None]]:
    """A dbt list of `- name: ...` entries (mappings), each with its line."""
    if value is None:
        return []
    if not isinstance(value, list):
        example = f"{what}:\n  - name: ..."
        problems.append(
            SqlModelError(f"{what}: must be a list of entries as in dbt ({example!r})", path, line_of(value))
        )
        return []
    entries = []
    for item, line in items_with_lines(value, line_of(value)):
        if not isinstance(item, Mapping) or not item.get("name"):
            problems.append(SqlModelError(f"each {what} entry needs a name:", path, line))
            continue
        entries.append((item, line))
    return entries


def _unknown_keys(entry: Mapping, allowed: set[str], what: str, path: Path, line: int | None) -> SqlModelError | None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        return SqlModelError(f"unknown key(s) {unknown} in {what} (allowed: {sorted(allowed)})", path, line)
    return None


def _read_sources(path: Path, value: Any, properties: Properties) -> None:
    for source, line in _entries(path, value, "sources", properties.problems):
        source_name = str(source["name"])
        what = f"source {source_name!r}"
        error = _unknown_keys(source, _SOURCE_KEYS, what, path, line)
        if error:
            properties.problems.append(error)
        schema = str(source.get("schema") or DEFAULT_SOURCE_SCHEMA)
        for table, table_line in _entries(path, source.get("tables"), f"{what} tables", properties.problems):
            table_name = str(table["name"])
            error = _unknown_keys(table, _TABLE_KEYS, f"{what} table {table_name!r}", path, table_line)
            meta = table.get("meta") or {}
            dagster_meta = (meta.get("dagster") if isinstance(meta, Mapping) else None) or {}
            if error is None and not isinstance(dagster_meta, Mapping):
                error = SqlModelError("meta.dagster must be a mapping", path, table_line)
            if error is None:
                error = _unknown_keys(dagster_meta, {"asset_key", "partitioned"}, "meta.dagster", path, table_line)
            columns = table.get("columns") or []
            if error is None and (_tests_of(table) or any(isinstance(c, Mapping) and _tests_of(c) for c in columns)):
                error = SqlModelError(
                    "tests on sources are not run here: test the models that read them", path, table_line
                )
            if (source_name, table_name) in properties.sources:
                error = SqlModelError(f"source table {source_name}.{table_name} is declared twice", path, table_line)
            if error:
                properties.problems.append(error)
                continue
            properties.sources[(source_name, table_name)] = SourceTable(
                source_name=source_name,
                table_name=table_name,
                schema=schema,
                asset_key=_asset_key_parts(dagster_meta.get("asset_key") or table_name),
                partitioned=bool(dagster_meta.get("partitioned", False)),
                identifier=str(table["identifier"]) if table.get("identifier") else None,
            )


def _asset_key_parts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split("/"))
    return tuple(str(part) for part in value)


def _read_models(path: Path, value: Any, properties: Properties) -> None:
    for raw, line in _entries(path, value, "models", properties.problems):
        entry = ModelEntry(name=str(raw["name"]), path=path, line=line)
        properties.models.append(entry)
        entry.error = _unknown_keys(raw, _MODEL_KEYS, f"model {entry.name!r}", path, line)
        if raw.get("description") is not None:
            entry.description = str(raw["description"])
        config = raw.get("config") or {}
        if not isinstance(config, Mapping):
            entry.error = entry.error or SqlModelError("config: must be a mapping", path, line_of(config, line))
        else:
            entry.config = dict(config)
        entry.tests += _test_specs(path, _tests_of(raw), line, None, entry)
        columns = raw.get("columns") or []
        problems: list[SqlModelError] = []
        for column, column_line in _entries(path, columns, f"model {entry.name!r} columns", problems):
            name = str(column["name"])
            error = _unknown_keys(column, _COLUMN_KEYS, f"column {name!r}", path, column_line)
            entry.error = entry.error or error
            if column.get("description"):
                entry.column_descriptions[name] = str(column["description"])
            entry.tests += _test_specs(path, _tests_of(column), column_line, name, entry)
        entry.error = entry.error or (problems[0] if problems else None)


def _tests_of(entry: Mapping) -> Any:
    return entry.get("data_tests") if entry.get("data_tests") is not None else entry.get("tests")


def _test_specs(path: Path, value: Any, line: int | None, column: str | None, entry: ModelEntry) -> list[TestSpec]:
    if value is None:
        return []
    if not isinstance(value, list):
        entry.error = entry.error or SqlModelError("data_tests: must be a list", path, line_of(value, line))
        return []
    return [TestSpec(spec, path, item_line, column) for spec, item_line in items_with_lines(value, line_of(value))]


def _read_singular_tests(path: Path, value: Any, properties: Properties) -> None:
    for raw, line in _entries(path, value, "data_tests", properties.problems):
        name = str(raw["name"])
        error = _unknown_keys(raw, _SINGULAR_TEST_KEYS, f"data test {name!r}", path, line)
        config = raw.get("config") or {}
        if error is None and not isinstance(config, Mapping):
            error = SqlModelError("config: must be a mapping", path, line)
        if error is None and name in properties.singular_tests:
            error = SqlModelError(f"data test {name!r} is configured twice", path, line)
        if error:
            properties.problems.append(error)
            continue
        description = str(raw["description"]) if raw.get("description") else None
        properties.singular_tests[name] = SingularTestEntry(name, path, line, description, dict(config))
