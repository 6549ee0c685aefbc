"""The Dagster UI as the ops console: a real dagster-webserver on 127.0.0.1, the asset graph rendered by headless
Debian Chromium (screenshot kept under test-artifacts/ui/), and GraphQL showing every asset of the graph with its
partitions and checks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from podcast_assets_tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
STARTUP_TIMEOUT_S = 120
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"),
]

ASSETS_QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    isPartitioned
    partitionDefinition { type name }
    partitionKeys
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}
"""


def _graphql(base_url: str, query: str) -> dict:
    response = httpx.post(f"{base_url}/graphql", json={"query": query}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body.get("errors")
    return body["data"]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory) -> Iterator[str]:
    """dagster-webserver for this project's workspace, on its own instance and warehouse; stopped by PID after."""
    state = tmp_path_factory.mktemp("ui")
    dagster_home = state / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "PODCAST_BRIEF_HOME": str(state / "home"),
        "PODCAST_BRIEF_DEPLOYMENT": "local",
        "HOME": str(state),
    }  # HOME: where the welcome-modal flag goes
    log = (state / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            "env",
            "--default-signal=INT,TERM",
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(ROOT / "workspace.yaml"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {(state / 'webserver.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/server_info", timeout=5).status_code == 200:
                    # The code location loads after the server answers: wait until it has assets.
                    if _graphql(base_url, "{ assetNodes { id } }")["assetNodes"]:
                        break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dagster-webserver not up in {STARTUP_TIMEOUT_S}s")
            time.sleep(1)
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _screenshot(url: str, path: Path, profile: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            "--window-size=1920,1080",
            "--virtual-time-budget=20000",
            f"--screenshot={path}",
            url,
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )


def test_asset_graph_renders_and_every_asset_has_partitions_and_checks(webserver, tmp_path):
    from podcast_assets.definitions import defs

    assert _graphql(webserver, "mutation { setNuxSeen }")["setNuxSeen"] is True  # no welcome modal over the graph
    assert _graphql(webserver, "{ shouldShowNux }")["shouldShowNux"] is False

    screenshot = ARTIFACTS / "asset-graph.png"
    _screenshot(f"{webserver}/asset-groups", screenshot, tmp_path / "chromium-profile")
    assert screenshot.stat().st_size > 20_000  # a rendered graph, not a blank page
    # One group expanded: the daily ingest assets with their partition status.
    location = _graphql(webserver, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
    location_name = location["workspaceOrError"]["locationEntries"][0]["name"]
    ingest = ARTIFACTS / "ingest-group.png"
    _screenshot(f"{webserver}/locations/{location_name}/asset-groups/ingest", ingest, tmp_path / "chromium-profile-3")
    assert ingest.stat().st_size > 20_000
    briefs_page = ARTIFACTS / "briefs-partitions.png"
    _screenshot(f"{webserver}/assets/briefs?view=partitions", briefs_page, tmp_path / "chromium-profile-2")
    assert briefs_page.stat().st_size > 10_000

    nodes = {"/".join(n["assetKey"]["path"]): n for n in _graphql(webserver, ASSETS_QUERY)["assetNodes"]}
    graph = defs.resolve_asset_graph()
    expected = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    assert set(nodes) == set(expected)
    for name, node in expected.items():
        shown = nodes[name]
        if node.partitions_def is not None:
            assert shown["isPartitioned"] and shown["partitionDefinition"]["type"] == "TIME_WINDOW", name
            assert shown["partitionKeys"][0] == node.partitions_def.get_first_partition_key(), name
        else:
            assert not shown["isPartitioned"], name
        checks = {check_key.name for check_key in graph.get_check_keys_for_assets({node.key})}
        shown_checks = {c["name"] for c in (shown["assetChecksOrError"] or {}).get("checks", [])}
        assert shown_checks == checks, name
    assert {"no_duplicate_episode_ids"} <= {c["name"] for c in nodes["episodes"]["assetChecksOrError"]["checks"]}
    assert len({c["name"] for c in nodes["briefs"]["assetChecksOrError"]["checks"]}) == 4
