"""The catalog's tables (SQLAlchemy Core): small, many writers (the web app, the CLI, the daily run) at once.
Changes go through an Alembic revision in `migrations/versions/`; this module is the current shape."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("feed_url", sa.String(2048), primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("added_at", sa.DateTime),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("last_polled_at", sa.DateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("cache_path", sa.Text),
)

# A subscriber receives briefs while active, confirmed and not paused. `active` false = unsubscribed or removed
# (the row and its history stay). Operator-added subscribers are confirmed when added (the operator vouches).
subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("subscriber_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.Text),
    sa.Column("interests", sa.Text, nullable=False),
    sa.Column("feeds", sa.JSON),  # feed URLs the brief is restricted to, or null
    sa.Column("created_at", sa.DateTime),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("confirmed_at", sa.DateTime),
    sa.Column("unsubscribed_at", sa.DateTime),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source", sa.String(16), nullable=False, server_default="operator"),  # operator | web
)

# A sign-up waiting for its emailed confirmation; confirming it creates or updates the subscriber.
signups = sa.Table(
    "signups",
    metadata,
    sa.Column("signup_id", sa.String(32), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, index=True),
    sa.Column("interests", sa.Text, nullable=False),
    sa.Column("feeds", sa.JSON),
    sa.Column("client", sa.String(64)),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("confirmed_at", sa.DateTime),
)

# One row per thing a subscriber did (signup, confirm, unsubscribe, preferences, pause, resume): day counts.
subscriber_events = sa.Table(
    "subscriber_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscriber_id", sa.String(64), index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
)

# "More/less like this": the latest click per subscriber and insight counts.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("subscriber_id", sa.String(64), primary_key=True),
    sa.Column("partition_date", sa.Date, primary_key=True),
    sa.Column("insight_id", sa.String(64), primary_key=True),
    sa.Column("verdict", sa.String(8), nullable=False),  # more | less
    sa.Column("recorded_at", sa.DateTime, nullable=False),
)

# What a subscriber can read in the archive and give feedback on: the day's rendered brief and its insights.
brief_archive = sa.Table(
    "brief_archive",
    metadata,
    sa.Column("partition_date", sa.Date, primary_key=True),
    sa.Column("subscriber_id", sa.String(64), primary_key=True),
    sa.Column("n_insights", sa.Integer, nullable=False),
    sa.Column("html", sa.Text, nullable=False),
    sa.Column("insights", sa.JSON, nullable=False),  # [{insight_id, text}], in brief order
)

# The delivery ledger (see operations/deliveries.py for what each status promises).
brief_deliveries = sa.Table(
    "brief_deliveries",
    metadata,
    sa.Column("partition_date", sa.Date, primary_key=True),
    sa.Column("subscriber_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("message_id", sa.Text),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("smtp_code", sa.Integer),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("partition_date", sa.Date, primary_key=True),
    sa.Column("subscriber_id", sa.String(64), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("triggered_by", sa.String(16), nullable=False),
    sa.Column("run_id", sa.Text),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("smtp_code", sa.Integer),
    sa.Column("error", sa.Text),
)

# Key/value notes about the catalog itself (e.g. that an existing DuckDB home was imported).
catalog_meta = sa.Table(
    "catalog_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text),
)
