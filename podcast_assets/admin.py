"""Feed and subscriber registry operations shared by the CLI, the demo and the tests."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

import polars as pl

from podcast_assets.core.subscribers import normalize_email, parse_interests, subscriber_id_for
from podcast_assets.core.url_policy import UrlPolicy, UrlRefused
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import url_policy


class RegistryError(ValueError):
    pass


def check_feed_url(feed_url: str, policy: UrlPolicy | None = None) -> None:
    """Refuse a feed URL the fetcher would refuse: not http(s), or a host on a private or local address that
    PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS does not allow. A host that does not resolve from here right now is
    accepted: every fetch checks it again."""
    try:
        (policy or url_policy()).check_url(feed_url)
    except UrlRefused as error:
        raise RegistryError(str(error)) from error
    except OSError:
        pass


def add_feed(warehouse: WarehouseResource, feed_url: str, title: str | None = None) -> bool:
    """Register a feed; returns False when it was already registered (its title is updated if given)."""
    check_feed_url(feed_url)
    with warehouse.connect() as connection:
        exists = connection.execute("SELECT 1 FROM feeds WHERE feed_url = ?", [feed_url]).fetchone()
        if exists:
            if title:
                connection.execute("UPDATE feeds SET title = ? WHERE feed_url = ?", [title, feed_url])
            return False
        connection.execute(
            "INSERT INTO feeds (feed_url, title, added_at) VALUES (?, ?, ?)",
            [feed_url, title, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        )
    return True


def remove_feed(warehouse: WarehouseResource, feed_url: str) -> bool:
    """Stop polling a feed. Its episodes stay: history is never deleted by unsubscribing."""
    with warehouse.connect() as connection:
        removed = connection.execute("DELETE FROM feeds WHERE feed_url = ? RETURNING feed_url", [feed_url]).fetchall()
    return bool(removed)


def list_feeds(warehouse: WarehouseResource) -> pl.DataFrame:
    return warehouse.query("SELECT feed_url, title, added_at, last_polled_at, last_error FROM feeds ORDER BY added_at")


def add_subscriber(
    warehouse: WarehouseResource, email: str, interests: str, name: str | None = None, feeds: list[str] | None = None
) -> str:
    """Add or update a subscriber (keyed by email). Validates everything before writing anything."""
    address = normalize_email(email)
    parse_interests(interests)
    feed_urls = [f.strip() for f in (feeds or []) if f.strip()]
    for url in feed_urls:
        if urlparse(url).scheme not in ("http", "https"):
            raise RegistryError(f"feed restriction must be a feed URL: {url!r}")
    subscriber_id = subscriber_id_for(address)
    with warehouse.connect() as connection:
        connection.execute(
            """INSERT INTO subscribers (subscriber_id, email, name, interests, feeds, created_at, active)
               VALUES (?, ?, ?, ?, ?, ?, TRUE)
               ON CONFLICT (subscriber_id) DO UPDATE SET name = excluded.name, interests = excluded.interests,
               feeds = excluded.feeds, active = TRUE""",
            [
                subscriber_id,
                address,
                name,
                interests.strip(),
                feed_urls or None,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            ],
        )
    return subscriber_id


def remove_subscriber(warehouse: WarehouseResource, email: str) -> bool:
    """Deactivate (not delete): past briefs and deliveries keep pointing at a real subscriber."""
    with warehouse.connect() as connection:
        changed = connection.execute(
            "UPDATE subscribers SET active = FALSE WHERE email = ? AND active RETURNING subscriber_id",
            [normalize_email(email)],
        ).fetchall()
    return bool(changed)


def list_subscribers(warehouse: WarehouseResource) -> pl.DataFrame:
    return warehouse.query(
        "SELECT subscriber_id, email, name, interests, feeds, active FROM subscribers ORDER BY email"
    )
