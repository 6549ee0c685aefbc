"""Feed and subscriber registry operations (on the catalog) shared by the CLI, the demo and the tests."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

import polars as pl
import sqlalchemy as sa

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.tables import feeds, subscribers
from podcast_assets.core.subscribers import normalize_email, parse_interests, subscriber_id_for
from podcast_assets.core.url_policy import UrlPolicy, UrlRefused
from podcast_assets.settings import url_policy


class RegistryError(ValueError):
    pass


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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


def add_feed(catalog: CatalogResource, feed_url: str, title: str | None = None) -> bool:
    """Register a feed; returns False when it was already registered (its title is updated if given)."""
    check_feed_url(feed_url)
    with catalog.begin() as connection:
        exists = connection.execute(sa.select(feeds.c.feed_url).where(feeds.c.feed_url == feed_url)).first()
        if exists:
            if title:
                connection.execute(feeds.update().where(feeds.c.feed_url == feed_url).values(title=title))
            return False
        connection.execute(feeds.insert().values(feed_url=feed_url, title=title, added_at=utc_now()))
    return True


def remove_feed(catalog: CatalogResource, feed_url: str) -> bool:
    """Stop polling a feed. Its episodes stay: history is never deleted by unsubscribing."""
    with catalog.begin() as connection:
        return connection.execute(feeds.delete().where(feeds.c.feed_url == feed_url)).rowcount > 0


def list_feeds(catalog: CatalogResource) -> pl.DataFrame:
    columns = [feeds.c.feed_url, feeds.c.title, feeds.c.added_at, feeds.c.last_polled_at, feeds.c.last_error]
    rows = catalog.rows(sa.select(*columns).order_by(feeds.c.added_at))
    return pl.DataFrame(rows, schema=[c.name for c in columns], orient="row")


def check_feed_restriction(feed_urls: list[str] | None) -> list[str]:
    urls = [f.strip() for f in (feed_urls or []) if f.strip()]
    for url in urls:
        if urlparse(url).scheme not in ("http", "https"):
            raise RegistryError(f"feed restriction must be a feed URL: {url!r}")
    return urls


def add_subscriber(
    catalog: CatalogResource, email: str, interests: str, name: str | None = None, feeds: list[str] | None = None
) -> str:
    """Add or update a subscriber (keyed by email), confirmed: the operator vouches for the address. Validates
    everything before writing anything."""
    address = normalize_email(email)
    parse_interests(interests)
    feed_urls = check_feed_restriction(feeds)
    subscriber_id = subscriber_id_for(address)
    now = utc_now()
    values = {"name": name, "interests": interests.strip(), "feeds": feed_urls or None, "active": True}
    with catalog.begin() as connection:
        existing = connection.execute(
            sa.select(subscribers.c.confirmed_at).where(subscribers.c.subscriber_id == subscriber_id)
        ).first()
        if existing:
            connection.execute(
                subscribers.update()
                .where(subscribers.c.subscriber_id == subscriber_id)
                .values(**values, unsubscribed_at=None, confirmed_at=existing.confirmed_at or now)
            )
        else:
            connection.execute(
                subscribers.insert().values(
                    subscriber_id=subscriber_id, email=address, created_at=now, confirmed_at=now, **values
                )
            )
    return subscriber_id


def remove_subscriber(catalog: CatalogResource, email: str) -> bool:
    """Deactivate (not delete): past briefs and deliveries keep pointing at a real subscriber."""
    with catalog.begin() as connection:
        changed = connection.execute(
            subscribers.update()
            .where(subscribers.c.email == normalize_email(email), subscribers.c.active)
            .values(active=False, unsubscribed_at=utc_now())
        ).rowcount
    return changed > 0


def list_subscribers(catalog: CatalogResource) -> pl.DataFrame:
    columns = [
        subscribers.c.subscriber_id,
        subscribers.c.email,
        subscribers.c.name,
        subscribers.c.interests,
        subscribers.c.feeds,
        subscribers.c.active,
        subscribers.c.confirmed_at,
        subscribers.c.paused,
    ]
    rows = catalog.rows(sa.select(*columns).order_by(subscribers.c.email))
    return pl.DataFrame(rows, schema=[c.name for c in columns], orient="row")


def receiving_briefs() -> sa.ColumnElement[bool]:
    """Who gets a brief: active (not unsubscribed), confirmed (double opt-in or operator), not paused."""
    return sa.and_(subscribers.c.active, subscribers.c.confirmed_at.is_not(None), sa.not_(subscribers.c.paused))


def receiving_subscribers(catalog: CatalogResource) -> list[dict]:
    return catalog.rows(sa.select(subscribers).where(receiving_briefs()).order_by(subscribers.c.email))
