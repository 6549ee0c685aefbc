"""The first catalog: feeds, subscribers, sign-ups, events, feedback, brief archive, the delivery ledger.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
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
    op.create_table(
        "subscribers",
        sa.Column("subscriber_id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.Text),
        sa.Column("interests", sa.Text, nullable=False),
        sa.Column("feeds", sa.JSON),
        sa.Column("created_at", sa.DateTime),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("confirmed_at", sa.DateTime),
        sa.Column("unsubscribed_at", sa.DateTime),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source", sa.String(16), nullable=False, server_default="operator"),
    )
    op.create_table(
        "signups",
        sa.Column("signup_id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        sa.Column("interests", sa.Text, nullable=False),
        sa.Column("feeds", sa.JSON),
        sa.Column("client", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("confirmed_at", sa.DateTime),
    )
    op.create_table(
        "subscriber_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.String(64), index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
    )
    op.create_table(
        "feedback",
        sa.Column("subscriber_id", sa.String(64), primary_key=True),
        sa.Column("partition_date", sa.Date, primary_key=True),
        sa.Column("insight_id", sa.String(64), primary_key=True),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "brief_archive",
        sa.Column("partition_date", sa.Date, primary_key=True),
        sa.Column("subscriber_id", sa.String(64), primary_key=True),
        sa.Column("n_insights", sa.Integer, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("insights", sa.JSON, nullable=False),
    )
    op.create_table(
        "brief_deliveries",
        sa.Column("partition_date", sa.Date, primary_key=True),
        sa.Column("subscriber_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("smtp_code", sa.Integer),
    )
    op.create_table(
        "delivery_attempts",
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
    op.create_table(
        "catalog_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text),
    )


def downgrade() -> None:
    for table in (
        "catalog_meta",
        "delivery_attempts",
        "brief_deliveries",
        "brief_archive",
        "feedback",
        "subscriber_events",
        "signups",
        "subscribers",
        "feeds",
    ):
        op.drop_table(table)
