"""`podcast-brief demo`: serve the demo network on 127.0.0.1, register it, run its day, show the results."""

from __future__ import annotations

import os
import time
from urllib.parse import urlparse

from podcast_assets.admin import add_feed, add_subscriber, remove_feed
from podcast_assets.demo.feeds import publish_network
from podcast_assets.demo.network import DEMO_DAY, DEMO_SUBSCRIBERS, SHOWS
from podcast_assets.demo.server import SiteServer
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.runner import run_days
from podcast_assets.settings import home_dir


def _start_server(port: int) -> SiteServer:
    try:
        return SiteServer(port).start()
    except OSError:  # port taken: any free port works, the feeds are re-registered below
        return SiteServer(0).start()


def register_demo(warehouse: WarehouseResource, server: SiteServer) -> list[str]:
    """Register the demo feeds at this server's address (dropping demo feeds left from another port)."""
    urls = publish_network(server)
    demo_paths = {urlparse(u).path for u in urls}
    for row in warehouse.query("SELECT feed_url FROM feeds").to_dicts():
        parsed = urlparse(row["feed_url"])
        if parsed.hostname == "127.0.0.1" and parsed.path in demo_paths and row["feed_url"] not in urls:
            remove_feed(warehouse, row["feed_url"])
    for show, url in zip(SHOWS, urls, strict=True):
        add_feed(warehouse, url, show.title)
    for subscriber in DEMO_SUBSCRIBERS:
        add_subscriber(warehouse, subscriber["email"], subscriber["interests"], subscriber["name"])
    return urls


def run_demo(port: int = 8751, serve: bool = False) -> int:
    os.environ.setdefault("PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS", "127.0.0.1")  # the demo network is local
    warehouse = WarehouseResource()
    server = _start_server(port)
    try:
        urls = register_demo(warehouse, server)
        print(f"demo network on {server.base_url}: {len(urls)} feeds")
        ok = run_days(DEMO_DAY, DEMO_DAY)
        briefs_dir = home_dir() / "briefs" / DEMO_DAY.isoformat()
        for path in sorted(briefs_dir.glob("*.txt")):
            print(f"\n===== {path.name} =====\n{path.read_text()}")
        print(f"\nbriefs: {briefs_dir}\noutbox: {home_dir() / 'outbox'}\nwarehouse: {warehouse.db_path()}")
        if serve:
            print(f"serving the demo network on {server.base_url} (Ctrl-C to stop)")
            while True:
                time.sleep(3600)
        return 0 if ok else 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
