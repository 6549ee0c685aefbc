"""What a subscriber can do, as catalog transactions: sign up (pending until confirmed), confirm, change
preferences, pause, unsubscribe, give feedback, read past briefs. Validation happens before any write."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import utc_now
from podcast_assets.catalog.tables import (
    brief_archive,
    feedback,
    feeds,
    signups,
    subscriber_events,
    subscribers,
)
from podcast_assets.core.subscribers import InvalidSubscriber, normalize_email, parse_interests, subscriber_id_for

MAX_EMAIL_CHARS = 254
MAX_INTERESTS_CHARS = 500
MAX_INTEREST_PHRASES = 20
MAX_SHOWS = 50
SIGNUPS_PER_ADDRESS_PER_HOUR = 3
VERDICTS = ("more", "less")


class RateLimited(Exception):
    pass


def check_email(email: str) -> str:
    if len(email) > MAX_EMAIL_CHARS:
        raise InvalidSubscriber(f"an email address has at most {MAX_EMAIL_CHARS} characters")
    return normalize_email(email)


def check_interests(interests: str) -> str:
    text = (interests or "").strip()
    if len(text) > MAX_INTERESTS_CHARS:
        raise InvalidSubscriber(f"interests: at most {MAX_INTERESTS_CHARS} characters")
    if len(parse_interests(text)) > MAX_INTEREST_PHRASES:
        raise InvalidSubscriber(f"at most {MAX_INTEREST_PHRASES} interests, separated by commas")
    return text


def check_shows(catalog: CatalogResource, shows: list[str]) -> list[str] | None:
    """Only registered feeds can be chosen; none chosen = every show."""
    if len(shows) > MAX_SHOWS:
        raise InvalidSubscriber(f"at most {MAX_SHOWS} shows")
    known = {row["feed_url"] for row in catalog.rows(sa.select(feeds.c.feed_url))}
    unknown = [s for s in shows if s not in known]
    if unknown:
        raise InvalidSubscriber("unknown show: choose from the list")
    return sorted(set(shows)) or None


def list_shows(catalog: CatalogResource) -> list[dict]:
    return catalog.rows(
        sa.select(feeds.c.feed_url, sa.func.coalesce(feeds.c.title, feeds.c.feed_url).label("title")).order_by("title")
    )


def request_signup(
    catalog: CatalogResource, email: str, interests: str, shows: list[str] | None, client: str | None
) -> str:
    """A pending sign-up; returns its id (for the confirmation link). The same for a new, pending or existing
    address: confirming it is what (re)subscribes, so nothing here reveals whether an address is subscribed."""
    address = check_email(email)
    text = check_interests(interests)
    restriction = check_shows(catalog, shows or [])
    now = utc_now()
    signup_id = secrets.token_hex(12)
    with catalog.begin() as connection:
        recent = connection.execute(
            sa.select(sa.func.count()).where(
                signups.c.email == address, signups.c.created_at > now - dt.timedelta(hours=1)
            )
        ).scalar_one()
        if recent >= SIGNUPS_PER_ADDRESS_PER_HOUR:
            raise RateLimited("too many sign-ups for this address in the last hour")
        connection.execute(
            signups.insert().values(
                signup_id=signup_id,
                email=address,
                interests=text,
                feeds=restriction,
                client=(client or "")[:64],
                created_at=now,
            )
        )
        connection.execute(subscriber_events.insert().values(subscriber_id=None, kind="signup", at=now))
    return signup_id


def signup_email(catalog: CatalogResource, signup_id: str) -> str | None:
    row = catalog.rows(sa.select(signups.c.email).where(signups.c.signup_id == signup_id))
    return row[0]["email"] if row else None


def confirm_signup(catalog: CatalogResource, signup_id: str) -> str | None:
    """Create or update the subscriber from the sign-up: active, confirmed, not paused. Idempotent (a second
    click changes nothing). Returns the subscriber id, or None for an unknown sign-up."""
    now = utc_now()
    with catalog.begin() as connection:
        signup = connection.execute(sa.select(signups).where(signups.c.signup_id == signup_id)).first()
        if signup is None:
            return None
        subscriber_id = subscriber_id_for(signup.email)
        if signup.confirmed_at is not None:
            return subscriber_id
        values = {
            "interests": signup.interests,
            "feeds": signup.feeds,
            "active": True,
            "paused": False,
            "unsubscribed_at": None,
            "confirmed_at": now,
        }
        existing = connection.execute(
            sa.select(subscribers.c.subscriber_id).where(subscribers.c.subscriber_id == subscriber_id)
        ).first()
        if existing:
            connection.execute(
                subscribers.update().where(subscribers.c.subscriber_id == subscriber_id).values(**values)
            )
        else:
            connection.execute(
                subscribers.insert().values(
                    subscriber_id=subscriber_id, email=signup.email, created_at=now, source="web", **values
                )
            )
        connection.execute(signups.update().where(signups.c.signup_id == signup_id).values(confirmed_at=now))
        connection.execute(subscriber_events.insert().values(subscriber_id=subscriber_id, kind="confirm", at=now))
    return subscriber_id


def get_subscriber(catalog: CatalogResource, subscriber_id: str) -> dict | None:
    rows = catalog.rows(sa.select(subscribers).where(subscribers.c.subscriber_id == subscriber_id))
    return rows[0] if rows else None


def update_preferences(
    catalog: CatalogResource, subscriber_id: str, interests: str, shows: list[str], paused: bool
) -> None:
    text = check_interests(interests)
    restriction = check_shows(catalog, shows)
    with catalog.begin() as connection:
        connection.execute(
            subscribers.update()
            .where(subscribers.c.subscriber_id == subscriber_id)
            .values(interests=text, feeds=restriction, paused=paused)
        )
        connection.execute(
            subscriber_events.insert().values(subscriber_id=subscriber_id, kind="preferences", at=utc_now())
        )


def unsubscribe(catalog: CatalogResource, subscriber_id: str) -> bool:
    """Deactivate at once (the next send checks it); history is kept. True when it changed anything."""
    now = utc_now()
    with catalog.begin() as connection:
        changed = connection.execute(
            subscribers.update()
            .where(subscribers.c.subscriber_id == subscriber_id, subscribers.c.active)
            .values(active=False, unsubscribed_at=now)
        ).rowcount
        if changed:
            connection.execute(
                subscriber_events.insert().values(subscriber_id=subscriber_id, kind="unsubscribe", at=now)
            )
    return changed > 0


def record_feedback(catalog: CatalogResource, subscriber_id: str, day: dt.date, insight_id: str, verdict: str) -> str:
    """Record a "more/less like this" click (the latest per insight counts); returns the insight's text. Raises
    LookupError when that insight was not in the subscriber's brief of that day."""
    if verdict not in VERDICTS:
        raise LookupError("unknown verdict")
    with catalog.begin() as connection:
        archived = connection.execute(
            sa.select(brief_archive.c.insights).where(
                brief_archive.c.subscriber_id == subscriber_id, brief_archive.c.partition_date == day
            )
        ).first()
        texts = {item["insight_id"]: item["text"] for item in (archived.insights if archived else [])}
        if insight_id not in texts:
            raise LookupError("that insight is not in your brief of that day")
        where = (
            feedback.c.subscriber_id == subscriber_id,
            feedback.c.partition_date == day,
            feedback.c.insight_id == insight_id,
        )
        connection.execute(feedback.delete().where(*where))
        connection.execute(
            feedback.insert().values(
                subscriber_id=subscriber_id,
                partition_date=day,
                insight_id=insight_id,
                verdict=verdict,
                recorded_at=utc_now(),
            )
        )
    return texts[insight_id]


def feedback_counts(catalog: CatalogResource, subscriber_id: str) -> dict[str, int]:
    rows = catalog.rows(
        sa.select(feedback.c.verdict, sa.func.count().label("n"))
        .where(feedback.c.subscriber_id == subscriber_id)
        .group_by(feedback.c.verdict)
    )
    return {verdict: 0 for verdict in VERDICTS} | {row["verdict"]: row["n"] for row in rows}


def archive_days(catalog: CatalogResource, subscriber_id: str) -> list[dict]:
    return catalog.rows(
        sa.select(brief_archive.c.partition_date, brief_archive.c.n_insights)
        .where(brief_archive.c.subscriber_id == subscriber_id)
        .order_by(brief_archive.c.partition_date.desc())
    )


def archived_brief(catalog: CatalogResource, subscriber_id: str, day: dt.date) -> str | None:
    rows = catalog.rows(
        sa.select(brief_archive.c.html).where(
            brief_archive.c.subscriber_id == subscriber_id, brief_archive.c.partition_date == day
        )
    )
    return rows[0]["html"] if rows else None
