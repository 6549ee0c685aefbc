"""`podcast-brief demo`: serve the demo network on 127.0.0.1, register it, run its day, show the results."""

from __future__ import annotations

import os
import time
from urllib.parse import urlparse

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.links import PUBLIC_URL_ENV
from podcast_assets.catalog.registry import add_feed, add_subscriber, list_feeds, remove_feed
from podcast_assets.daily_runs.runner import run_days
from podcast_assets.evaluation.demo_network import DEMO_DAY, DEMO_SUBSCRIBERS, SHOWS
from podcast_assets.evaluation.feeds import publish_network
from podcast_assets.evaluation.server import SiteServer
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import home_dir
from podcast_assets.web.server import WebServer


def _start_server(port: int) -> SiteServer:
    try:
        return SiteServer(port).start()
    except OSError:  # port taken: any free port works, the feeds are re-registered below
        return SiteServer(0).start()


def register_demo(catalog: CatalogResource, server: SiteServer) -> list[str]:
    """Register the demo feeds at this server's address (dropping demo feeds left from another port)."""
    urls = publish_network(server)
    demo_paths = {urlparse(u).path for u in urls}
    for row in list_feeds(catalog).to_dicts():
        parsed = urlparse(row["feed_url"])
        if parsed.hostname == "127.0.0.1" and parsed.path in demo_paths and row["feed_url"] not in urls:
            remove_feed(catalog, row["feed_url"])
    for show, url in zip(SHOWS, urls, strict=True):
        add_feed(catalog, url, show.title)
    for subscriber in DEMO_SUBSCRIBERS:
        add_subscriber(catalog, subscriber["email"], subscriber["interests"], subscriber["name"])
    return urls


def _start_web(port: int) -> WebServer:
    try:
        return WebServer(port=port).start()
    except OSError:  # port taken: any free port works (links in emails follow PODCAST_BRIEF_PUBLIC_URL)
        return WebServer(port=0).start()


def run_demo(port: int = 8751, serve: bool = False, web_port: int = 8080) -> int:
    os.environ.setdefault("PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS", "127.0.0.1")  # the demo network is local
    warehouse = WarehouseResource()
    catalog = CatalogResource()
    server = _start_server(port)
    web = _start_web(web_port)
    os.environ.setdefault(PUBLIC_URL_ENV, web.base_url)  # the briefs' links reach this web app
    try:
        urls = register_demo(catalog, server)
        print(f"demo network on {server.base_url}: {len(urls)} feeds")
        print(f"web app (sign-up, preferences, feedback) on {web.base_url}")
        ok = run_days(DEMO_DAY, DEMO_DAY)
        briefs_dir = home_dir() / "briefs" / DEMO_DAY.isoformat()
        for path in sorted(briefs_dir.glob("*.txt")):
            print(f"\n===== {path.name} =====\n{path.read_text()}")
        print(f"\nbriefs: {briefs_dir}\noutbox: {home_dir() / 'outbox'}\nwarehouse: {warehouse.db_path()}")
        print(f"web app: {web.base_url}  (sign up there; --serve keeps it running)")
        if serve:
            print(f"serving the demo network on {server.base_url} and the web app on {web.base_url} (Ctrl-C to stop)")
            while True:
                time.sleep(3600)
        return 0 if ok else 1
    except KeyboardInterrupt:
        return 0
    finally:
        web.stop()
        server.stop()
