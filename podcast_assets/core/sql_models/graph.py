"""The models' dependency graph: run order, cycles, and dbt-style selection (`model+`, `+model`, `tag:x`)."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable
from pathlib import Path

from podcast_assets.core.sql_models.nodes import ModelKey, SqlModel, SqlModelError, SqlProject
from podcast_assets.core.sql_models.rendering import Resolver


def order_models(root: Path, models: dict[ModelKey, SqlModel]) -> dict[ModelKey, SqlModel]:
    """Models in dependency order. A model on a dependency cycle fails with the cycle (each file and the line
    of its ref()), and its ref() along the cycle is dropped from the graph, so the rest stays runnable."""
    while True:
        graph = {key: {d for d in model.model_deps if d in models} for key, model in models.items()}
        try:
            order = list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as error:
            _break_cycle(root, models, list(reversed(error.args[1])))  # graphlib lists it dependency-first
            continue
        return {key: models[key] for key in order}


def _break_cycle(root: Path, models: dict[ModelKey, SqlModel], cycle: list[ModelKey]) -> None:
    members = cycle[:-1]
    first = members.index(min(members))
    members = members[first:] + members[:first]
    chain = [*members, members[0]]
    text = " -> ".join(_relative(root, models[key].path) for key in chain)
    for key, reads in zip(chain, chain[1:], strict=False):
        model = models[key]
        model.fail(
            SqlModelError(f"dependency cycle (each reads the next): {text}", model.path, model.ref_lines.get(reads))
        )
        model.model_deps = model.model_deps - {reads}


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def downstream_of(project: SqlProject, keys: Iterable[ModelKey]) -> set[ModelKey]:
    """Every model that reads (directly or not) one of `keys`, excluding those keys."""
    start = set(keys)
    reached: set[ModelKey] = set()
    for model in project.models.values():  # dependency order: parents before children
        if model.model_deps & (start | reached):
            reached.add(model.key)
    return reached - start


def upstream_of(project: SqlProject, keys: Iterable[ModelKey]) -> set[ModelKey]:
    """Every model that one of `keys` reads (directly or not), excluding those keys."""
    start = set(keys)
    reached: set[ModelKey] = set()
    for model in reversed(project.models.values()):  # children before parents
        if model.key in start | reached:
            reached |= {d for d in model.model_deps if d in project.models}
    return reached - start


def select_models(project: SqlProject, selector: str) -> list[ModelKey]:
    """dbt's graph selectors, space-separated (a union): `name`, `schema.name`, `tag:T`, `*`, each with `+`
    before (and its upstream) and/or after (and its downstream). In dependency order."""
    chosen: set[ModelKey] = set()
    tokens = selector.split()
    if not tokens:
        raise SqlModelError("empty selection: name a model, e.g. --select daily_feed_health+")
    resolver = Resolver(project.models, project.sources)
    for token in tokens:
        body = token.strip("+")
        if body == "*":
            base = set(project.models)
        elif body.startswith("tag:"):
            tag = body.removeprefix("tag:")
            base = {key for key, model in project.models.items() if tag in model.tags}
            if not base:
                raise SqlModelError(f"--select {token}: no model has tag {tag!r}")
        else:
            try:
                base = {resolver.model_key([body])}
            except SqlModelError as error:
                raise SqlModelError(f"--select {token}: {error.message}") from error
        chosen |= base
        if token.startswith("+"):
            chosen |= upstream_of(project, base)
        if token.endswith("+"):
            chosen |= downstream_of(project, base)
    return [key for key in project.models if key in chosen]
