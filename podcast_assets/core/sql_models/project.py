"""Loading a project: find the model files, apply their settings (yml `config:`, the header comment,
`{{ config() }}`), render and parse each model, order them, and attach the tests.

Loading never raises for a mistake in the project: each one is recorded where it belongs (a model that does not
compile, a test that cannot run, or a project problem such as invalid YAML), with its file and line, so the
models that are fine still load and run. `SqlProject.errors()` lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podcast_assets.core.sql_models.data_tests import (
    generic_test,
    singular_tests,
    unique_test_names,
    with_relationship_deps,
)
from podcast_assets.core.sql_models.graph import order_models
from podcast_assets.core.sql_models.nodes import (
    MATERIALIZATIONS,
    PLACEHOLDER_DAY,
    RESERVED_SCHEMAS,
    ModelKey,
    PartitionWindow,
    SqlModel,
    SqlModelError,
    SqlProject,
)
from podcast_assets.core.sql_models.rendering import Resolver, check_query, parse_header, render, template_config
from podcast_assets.core.sql_models.yaml_files import ModelEntry, read_properties

_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Dagster asset tag keys (a model's tags become asset tags, so `tag:x` selects them in Dagster too).
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")
CONFIG_KEYS = frozenset({"materialized", "unique_key", "tags", "lookback_days", "enabled", "meta"})
_HEADER_KEYS = frozenset({"materialized", "description", "lookback_days", "unique_key", "tags"})


def load_project(root: str | Path, vars: Mapping[str, Any] | None = None) -> SqlProject:
    """Read, render, parse and order every model and test under `root`. `vars` override the project's
    (dbt_project.yml `vars:`), like `dbt run --vars`. Mistakes are recorded, not raised."""
    root = Path(root).expanduser().resolve()
    project = SqlProject(root=root, models={}, sources={})
    if not (root / "models").is_dir():
        project.problems.append(SqlModelError("no models/ folder (expected models/<schema>/<name>.sql)", root))
        return project
    properties = read_properties(root)
    project.problems += properties.problems
    project.sources = properties.sources
    project.vars = {**properties.vars, **(vars or {})}
    found = _discover_models(root / "models", project.problems)
    entries = _match_entries(properties.models, found, project.problems)
    disabled: list[ModelKey] = []
    for model in found.values():
        if not _configure(model, entries.get(model.key)):
            disabled.append(model.key)
    models = {key: model for key, model in found.items() if key not in disabled}
    resolver = Resolver(models, project.sources, disabled)
    for model in models.values():
        _analyse(model, resolver, project.vars)
    project.models = order_models(root, models)
    tests, problems = singular_tests(root, project.models, resolver, properties.singular_tests, project.vars)
    project.problems += problems
    for test in tests:
        project.models[test.model].tests.append(test)
    for model in project.models.values():
        unique_test_names(model)
    if not found and not project.problems:
        project.problems.append(SqlModelError("no models found (expected models/<schema>/<name>.sql)", root / "models"))
    return project


def _discover_models(models_dir: Path, problems: list[SqlModelError]) -> dict[ModelKey, SqlModel]:
    models: dict[ModelKey, SqlModel] = {}
    for path in sorted(models_dir.rglob("*.sql")):
        parts = path.relative_to(models_dir).parts
        if len(parts) != 2:
            problems.append(SqlModelError("models live at models/<schema>/<name>.sql (the folder is the schema)", path))
            continue
        schema, name = parts[0], path.stem
        bad = [
            (label, v) for label, v in (("schema folder", schema), ("model name", name)) if not _NAME_PATTERN.match(v)
        ]
        if bad:
            label, value = bad[0]
            problems.append(SqlModelError(f"{label} {value!r} must be letters, digits and underscores", path))
            continue
        try:
            template = path.read_text()
            error = None
        except (OSError, UnicodeDecodeError) as problem:
            template, error = "", SqlModelError(f"cannot read: {problem}", path)
        model = SqlModel(schema=schema, name=name, path=path, template=template, error=error)
        if schema.lower() in RESERVED_SCHEMAS:
            model.fail(SqlModelError(f"schema {schema!r} is reserved (it holds the Python assets' tables)", path))
        models[model.key] = model
    return models


def _match_entries(
    entries: list[ModelEntry], models: Mapping[ModelKey, SqlModel], problems: list[SqlModelError]
) -> dict[ModelKey, ModelEntry]:
    """yml `models:` entries by model; `name:` is the file name, or schema.name when two schemas share it."""
    matched: dict[ModelKey, ModelEntry] = {}
    for entry in entries:
        if "." in entry.name:
            schema, _, name = entry.name.partition(".")
            keys = [(schema, name)] if (schema, name) in models else []
        else:
            keys = [key for key in models if key[1] == entry.name]
        if len(keys) != 1:
            why = (
                "has no file models/<schema>/{}.sql".format(entry.name.split(".")[-1])
                if not keys
                else ("is ambiguous: name it " + " or ".join(f"{s}.{n}" for s, n in sorted(keys)))
            )
            problems.append(SqlModelError(f"models entry {entry.name!r} {why}", entry.path, entry.line))
            continue
        if keys[0] in matched:
            earlier = matched[keys[0]]
            problems.append(
                SqlModelError(
                    f"model {entry.name!r} is described twice (also at {earlier.path.name}:{earlier.line})",
                    entry.path,
                    entry.line,
                )
            )
            continue
        matched[keys[0]] = entry
    return matched


def _configure(model: SqlModel, entry: ModelEntry | None) -> bool:
    """Settings in dbt's order of precedence: the yml `config:`, then the file (header comment or
    `{{ config() }}`, which must agree). Also the yml's descriptions and tests. False when disabled."""
    enabled = True
    header, prose = parse_header(model.template, _HEADER_KEYS)
    model.description = prose
    try:
        if entry is not None:
            if entry.error is not None:
                model.fail(entry.error)
            model.description = entry.description or model.description
            model.column_descriptions = dict(entry.column_descriptions)
            enabled = _apply_settings(model, entry.config, entry.path, entry.line) and enabled
        if "description" in header:
            model.description = header.pop("description")[0] or model.description
        in_file, in_file_lines = template_config(model.template, model.path)
        for key, (value, line) in header.items():
            if key in in_file and _normalized(in_file[key]) != _normalized(_header_value(key, value)):
                raise SqlModelError(
                    f"the header says {key}: {value} but config() says {key}={in_file[key]!r}", model.path, line
                )
            enabled = _apply_settings(model, {key: _header_value(key, value)}, model.path, line) and enabled
        for key, value in in_file.items():
            enabled = _apply_settings(model, {key: value}, model.path, in_file_lines[key]) and enabled
    except SqlModelError as error:
        model.fail(error)
    if entry is not None:
        for spec in entry.tests:
            test = generic_test(spec, model)
            if test is not None:
                model.tests.append(test)
    return enabled


def _header_value(key: str, value: str) -> Any:
    if key in ("tags", "unique_key") and "," in value:
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _normalized(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value)
    return str(value).strip().lower()


def _apply_settings(model: SqlModel, settings: Mapping[str, Any], path: Path, line: int | None) -> bool:
    """Apply config settings to the model; raises SqlModelError on a bad one. False when `enabled: false`."""
    unknown = sorted(set(settings) - CONFIG_KEYS)
    if unknown:
        raise SqlModelError(f"unknown config {unknown} (supported: {sorted(CONFIG_KEYS)})", path, line)
    if "materialized" in settings:
        materialized = str(settings["materialized"]).strip().lower()
        if materialized not in MATERIALIZATIONS:
            raise SqlModelError(
                f"materialized must be one of {list(MATERIALIZATIONS)}, got {settings['materialized']!r}", path, line
            )
        model.materialized = materialized
    if "lookback_days" in settings:
        try:
            model.lookback_days = int(settings["lookback_days"])
        except (TypeError, ValueError) as error:
            raise SqlModelError(
                f"lookback_days must be an integer, got {settings['lookback_days']!r}", path, line
            ) from error
        if model.lookback_days < 0:
            raise SqlModelError("lookback_days must be >= 0", path, line)
    if "unique_key" in settings:
        model.unique_key = _names(settings["unique_key"], "unique_key", _NAME_PATTERN, path, line)
    if "tags" in settings:
        model.tags = _names(settings["tags"], "tags", _TAG_PATTERN, path, line)
    enabled = settings.get("enabled", True)
    if not isinstance(enabled, bool):
        enabled = str(enabled).strip().lower() not in ("false", "0", "no")
    return enabled


def _names(value: Any, what: str, pattern: re.Pattern[str], path: Path, line: int | None) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) and pattern.match(n) for n in names):
        raise SqlModelError(
            f"{what} must be a name or a list of names (letters, digits, '_'), got {value!r}", path, line
        )
    return tuple(names)


def _analyse(model: SqlModel, resolver: Resolver, vars: Mapping[str, Any]) -> None:
    """Render (both branches of is_incremental() for an incremental model) and parse: the model's
    dependencies, or its error. A model that does not compile still gets the dependencies a lenient render
    finds, so it stays in its place in the lineage graph."""
    window = PartitionWindow.for_day(PLACEHOLDER_DAY) if model.partitioned else None
    if model.error is None:
        try:
            model_deps, source_deps, ref_lines = set(), set(), {}
            for incremental in (False, True) if model.materialized == "incremental" else (False,):
                rendered = render(
                    model.template, model.path, resolver, window=window, this=model, incremental=incremental, vars=vars
                )
                check_query(rendered.sql, model.path, model.template)
                model_deps |= rendered.model_deps
                source_deps |= rendered.source_deps
                ref_lines |= rendered.ref_lines
            if model.key in model_deps:
                raise SqlModelError(
                    "a model cannot ref() itself (use {{ this }})", model.path, ref_lines.get(model.key)
                )
            model.model_deps, model.source_deps, model.ref_lines = (
                frozenset(model_deps),
                frozenset(source_deps),
                ref_lines,
            )
        except SqlModelError as error:
            model.fail(error)
    if model.error is not None:
        try:
            rendered = render(model.template, model.path, resolver, this=model, vars=vars, lenient=True)
            model.model_deps = frozenset(rendered.model_deps - {model.key})
            model.source_deps = frozenset(rendered.source_deps)
            model.ref_lines = rendered.ref_lines
        except SqlModelError:
            pass
    model.tests = [with_relationship_deps(test, model, resolver) for test in model.tests]
