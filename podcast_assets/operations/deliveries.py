"""The delivery ledger: what is guaranteed about the daily email, and the code that makes it true.

Every attempt is written down before it starts. For each subscriber and day:

1. the `brief_deliveries` row becomes `sending` (with the message's stable Message-ID) and a `delivery_attempts`
   row is added, in one transaction, BEFORE the SMTP transaction begins;
2. after it, both record the outcome: `sent` / `written` (delivered), `failed` (certainly not delivered: no
   connection, a 4xx answer, dropped before the whole message was handed over), `rejected` (a 5xx answer to the
   message or recipient), or `unknown_no_reply` (the whole message was handed over and no answer came).

A run that finds `sending` rows knows the sender died mid-transaction (runs of one day never overlap: see
README "Operating"). The rule, at-most-once by default:
- `sending` left by a dead run becomes `unknown_after_crash` and is NOT sent again; neither is `unknown_no_reply`;
- `failed` is retried by the next run (it certainly was not delivered); `rejected` is not retried automatically;
- `podcast-brief deliveries resend --date D [--email E]` sends again on purpose (same Message-ID, so a mail client
  that got the first copy can tell); `resend_uncertain` on the mailer makes later runs resend unknown outcomes
  themselves (at-least-once).
The ledger lives in the catalog (podcast_assets/catalog/), which the web app writes at the same time: each step
is one catalog transaction. The `never_sent_twice` check counts, per subscriber, the automatic attempts that may
have reached the server (sent, written, unknown_*): never more than one.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import sqlalchemy as sa

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.links import list_unsubscribe
from podcast_assets.catalog.registry import receiving_briefs, utc_now
from podcast_assets.catalog.tables import brief_deliveries, delivery_attempts, subscribers
from podcast_assets.resources.mailer import (
    FAILED,
    REJECTED,
    SENT,
    UNKNOWN_NO_REPLY,
    WRITTEN,
    MailerResource,
    MailSession,
    OutgoingBrief,
    SendOutcome,
)
from podcast_assets.resources.warehouse import WarehouseResource

SENDING = "sending"
UNKNOWN_AFTER_CRASH = "unknown_after_crash"
DELIVERED = frozenset({SENT, WRITTEN})
UNCERTAIN = frozenset({UNKNOWN_AFTER_CRASH, UNKNOWN_NO_REPLY})
# Outcomes after which the message may be in the recipient's mailbox.
MAYBE_DELIVERED = DELIVERED | UNCERTAIN | {SENDING}
ALL_STATUSES = (SENDING, SENT, WRITTEN, FAILED, REJECTED, UNKNOWN_AFTER_CRASH, UNKNOWN_NO_REPLY)

RUN, RESEND = "run", "resend"
# Briefs whose rendered text is read from the warehouse at once while sending (~15 KB each).
SEND_CHUNK = 1_000


def message_id(day: dt.date, subscriber_id: str) -> str:
    """Stable per subscriber and day: every copy of one brief carries the same Message-ID."""
    return f"<brief-{day.isoformat()}-{subscriber_id}@podcast-brief>"


def resend_hint(day: dt.date, email: str) -> str:
    return f"podcast-brief deliveries resend --date {day.isoformat()} --email {email}"


def day_briefs(
    warehouse: WarehouseResource,
    catalog: CatalogResource,
    day: dt.date,
    email: str | None = None,
    with_documents: bool = True,
) -> list[dict]:
    """The day's rendered briefs of subscribers who receive briefs right now (active, confirmed, not paused:
    an unsubscribe between `briefs` and `brief_deliveries` still stops the email), with the delivery state so far.
    `with_documents=False`: without the rendered text and HTML (`brief_texts` reads them a chunk at a time)."""
    rendered = set(
        warehouse.query("SELECT subscriber_id FROM brief_documents WHERE partition_date = ? AND status = 'ok'", [day])[
            "subscriber_id"
        ].to_list()
    )
    if not rendered:
        return []
    query = (
        sa.select(
            subscribers.c.subscriber_id,
            subscribers.c.email,
            subscribers.c.name,
            sa.func.coalesce(brief_deliveries.c.attempts, 0).label("attempts"),
            brief_deliveries.c.status.label("previous_status"),
        )
        .outerjoin(
            brief_deliveries,
            sa.and_(
                brief_deliveries.c.subscriber_id == subscribers.c.subscriber_id,
                brief_deliveries.c.partition_date == day,
            ),
        )
        .where(receiving_briefs())
        .order_by(subscribers.c.email)
    )
    if email is not None:
        query = query.where(subscribers.c.email == email)
    # Filtered here, not with an IN list in SQL: 100,000 ids are more parameters than SQLite takes.
    briefs = [row for row in catalog.rows(query) if row["subscriber_id"] in rendered]
    if not with_documents:
        return briefs
    texts = brief_texts(warehouse, day, [b["subscriber_id"] for b in briefs])
    return [{**brief, **texts[brief["subscriber_id"]]} for brief in briefs]


def brief_texts(warehouse: WarehouseResource, day: dt.date, subscriber_ids: list[str]) -> dict[str, dict]:
    """subscriber_id -> {text, html} of the day's rendered briefs of these subscribers."""
    frame = warehouse.query(
        "SELECT subscriber_id, html, text FROM brief_documents "
        "WHERE partition_date = ? AND status = 'ok' AND subscriber_id IN (SELECT unnest(?::VARCHAR[]))",
        [day, subscriber_ids],
    )
    return {row["subscriber_id"]: row for row in frame.to_dicts()}


def resolve_interrupted(catalog: CatalogResource, day: dt.date) -> list[dict]:
    """`sending` rows of `day` were left by a sender that died during the SMTP transaction: the message may or may
    not have been accepted. They become `unknown_after_crash` (not resent by default). Returns those rows."""
    with catalog.begin() as connection:
        rows = connection.execute(
            sa.select(brief_deliveries.c.subscriber_id, brief_deliveries.c.message_id).where(
                brief_deliveries.c.partition_date == day, brief_deliveries.c.status == SENDING
            )
        ).all()
        connection.execute(
            brief_deliveries.update()
            .where(brief_deliveries.c.partition_date == day, brief_deliveries.c.status == SENDING)
            .values(
                status=UNKNOWN_AFTER_CRASH,
                error="the sending process stopped during the SMTP transaction; the message may or may not have "
                "been delivered and is not sent again automatically (at-most-once)",
            )
        )
        connection.execute(
            delivery_attempts.update()
            .where(delivery_attempts.c.partition_date == day, delivery_attempts.c.outcome == SENDING)
            .values(outcome=UNKNOWN_AFTER_CRASH, finished_at=utc_now(), error="sender stopped mid-transaction")
        )
    return [{"subscriber_id": subscriber_id, "message_id": mid} for subscriber_id, mid in rows]


def send_brief(
    catalog: CatalogResource,
    mailer: MailerResource,
    day: dt.date,
    brief: dict,
    triggered_by: str = RUN,
    run_id: str | None = None,
    session: MailSession | None = None,
) -> SendOutcome:
    """Record `sending`, make one attempt, record its outcome. `brief` is a row of `day_briefs`. `session`: an
    SMTP connection kept open across briefs (default: a connection for this one)."""
    subscriber_id = brief["subscriber_id"]
    mid = message_id(day, subscriber_id)
    attempt = brief["attempts"] + 1
    this_row = sa.and_(brief_deliveries.c.partition_date == day, brief_deliveries.c.subscriber_id == subscriber_id)
    with catalog.begin() as connection:
        connection.execute(brief_deliveries.delete().where(this_row))
        connection.execute(
            brief_deliveries.insert().values(
                partition_date=day, subscriber_id=subscriber_id, status=SENDING, message_id=mid, attempts=attempt
            )
        )
        connection.execute(
            delivery_attempts.delete().where(
                delivery_attempts.c.partition_date == day,
                delivery_attempts.c.subscriber_id == subscriber_id,
                delivery_attempts.c.attempt == attempt,
            )
        )
        connection.execute(
            delivery_attempts.insert().values(
                partition_date=day,
                subscriber_id=subscriber_id,
                attempt=attempt,
                message_id=mid,
                triggered_by=triggered_by,
                run_id=run_id,
                started_at=utc_now(),
                outcome=SENDING,
            )
        )
    outgoing = OutgoingBrief(
        brief["email"],
        brief["name"],
        f"Your podcast brief for {day:%A %d %B}",
        brief["text"],
        brief["html"],
        mid,
        subscriber_id,
        list_unsubscribe(subscriber_id, mailer.sender()),
    )
    outcome = (session or mailer).send(outgoing, day.isoformat())
    finished = utc_now()
    with catalog.begin() as connection:
        connection.execute(
            brief_deliveries.update()
            .where(this_row)
            .values(
                status=outcome.status,
                error=outcome.error,
                smtp_code=outcome.smtp_code,
                sent_at=finished if outcome.delivered else None,
            )
        )
        connection.execute(
            delivery_attempts.update()
            .where(
                delivery_attempts.c.partition_date == day,
                delivery_attempts.c.subscriber_id == subscriber_id,
                delivery_attempts.c.attempt == attempt,
            )
            .values(outcome=outcome.status, error=outcome.error, smtp_code=outcome.smtp_code, finished_at=finished)
        )
    return outcome


def automatic_action(previous_status: str | None, resend_uncertain: bool) -> str:
    """What a run does with a brief, given its delivery status so far: `send`, or why it does not."""
    if previous_status is None or previous_status == FAILED:
        return "send"
    if previous_status in DELIVERED:
        return "already_delivered"
    if previous_status in UNCERTAIN:
        return "send" if resend_uncertain else "held_uncertain"
    if previous_status == REJECTED:
        return "held_rejected"
    return "held_uncertain"  # `sending` here would be another live sender: never touch it


def deliver_day(
    warehouse: WarehouseResource,
    catalog: CatalogResource,
    mailer: MailerResource,
    day: dt.date,
    run_id: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """brief_deliveries' work for one day: resolve what a dead run left `sending`, then send what the rule says.
    Returns counts per outcome (and per reason for not sending)."""
    counts = dict.fromkeys(
        (SENT, WRITTEN, FAILED, REJECTED, UNKNOWN_NO_REPLY, "already_delivered", "held_uncertain", "held_rejected"), 0
    )
    interrupted = resolve_interrupted(catalog, day)
    resend_uncertain = mailer.resends_uncertain()
    to_send = []
    # Read once, after the interrupted rows are resolved; the rendered briefs a chunk at a time, while sending.
    for brief in day_briefs(warehouse, catalog, day, with_documents=False):
        action = automatic_action(brief["previous_status"], resend_uncertain)
        if action == "send":
            to_send.append(brief)
        else:
            counts[action] += 1
    emails = {b["subscriber_id"]: b["email"] for b in to_send}
    for row in interrupted:
        email = emails.get(row["subscriber_id"]) or _email_of(catalog, row["subscriber_id"])
        log(
            f"delivery to {email} was interrupted during the SMTP transaction by a crash: recorded as "
            f"{UNKNOWN_AFTER_CRASH}, not sent again (at-most-once); to send it anyway: {resend_hint(day, email)}"
        )
    texts = functools.partial(brief_texts, warehouse, day)
    for brief, outcome in _send_in_parallel(catalog, mailer, day, to_send, run_id, texts):
        counts[outcome.status] += 1
        if not outcome.delivered:
            log(f"delivery to {brief['email']}: {outcome.status} ({outcome.error})")
    return counts


def _email_of(catalog: CatalogResource, subscriber_id: str) -> str:
    rows = catalog.rows(sa.select(subscribers.c.email).where(subscribers.c.subscriber_id == subscriber_id))
    return rows[0]["email"] if rows else subscriber_id


def _send_in_parallel(
    catalog: CatalogResource,
    mailer: MailerResource,
    day: dt.date,
    briefs: list[dict],
    run_id: str | None,
    texts: Callable[[list[str]], dict[str, dict]],
) -> Iterator[tuple[dict, SendOutcome]]:
    """`mailer.max_senders` threads, each with its own SMTP connection kept open across its briefs. Every brief
    still goes through `send_brief` alone: `sending` is committed before its own SMTP transaction starts.
    `texts` gives the rendered briefs of `SEND_CHUNK` subscribers at a time: memory stays bounded."""
    local = threading.local()
    sessions: list[MailSession] = []
    lock = threading.Lock()

    def send(brief: dict) -> SendOutcome:
        if not hasattr(local, "session"):
            local.session = mailer.session()
            with lock:
                sessions.append(local.session)
        return send_brief(catalog, mailer, day, brief, RUN, run_id, local.session)

    pool = ThreadPoolExecutor(max_workers=max(1, min(mailer.max_senders, len(briefs))), thread_name_prefix="smtp")
    try:
        for start in range(0, len(briefs), SEND_CHUNK):
            chunk = briefs[start : start + SEND_CHUNK]
            rendered = texts([brief["subscriber_id"] for brief in chunk])
            chunk = [{**brief, **rendered[brief["subscriber_id"]]} for brief in chunk]
            yield from zip(chunk, pool.map(send, chunk), strict=True)
    finally:  # an error (or an interrupted run) sends nothing more: briefs not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)
        for session in sessions:
            session.close()


def resend(
    warehouse: WarehouseResource,
    catalog: CatalogResource,
    mailer: MailerResource,
    day: dt.date,
    email: str | None = None,
) -> list[tuple[str, SendOutcome]]:
    """An operator's explicit resend. With `email`: that subscriber's brief, whatever its status. Without: every
    brief of the day not known delivered (unknown_*, failed, rejected, never attempted). The caller holds the
    day (no run of it in progress), so `sending` rows are leftovers and are resolved first."""
    resolve_interrupted(catalog, day)
    briefs = day_briefs(warehouse, catalog, day, email)
    if email is None:
        briefs = [b for b in briefs if b["previous_status"] not in DELIVERED]
    return [(b["email"], send_brief(catalog, mailer, day, b, RESEND)) for b in briefs]


def sent_twice(catalog: CatalogResource, day: dt.date) -> pl.DataFrame:
    """Subscribers of `day` with more than one automatic attempt that may have reached their mailbox."""
    count = sa.func.count().label("maybe_delivered")
    rows = catalog.rows(
        sa.select(delivery_attempts.c.subscriber_id, count)
        .where(
            delivery_attempts.c.partition_date == day,
            delivery_attempts.c.triggered_by == RUN,
            delivery_attempts.c.outcome.in_(sorted(MAYBE_DELIVERED)),
        )
        .group_by(delivery_attempts.c.subscriber_id)
        .having(sa.func.count() > 1)
    )
    return pl.DataFrame(rows, schema={"subscriber_id": pl.String, "maybe_delivered": pl.Int64})


def sent_to_non_subscribers(catalog: CatalogResource) -> pl.DataFrame:
    """Attempts that may have reached a mailbox of an address that had not confirmed by then, or had already
    unsubscribed: the double opt-in and unsubscribe promises, checked against the ledger."""
    a, s = delivery_attempts, subscribers
    rows = catalog.rows(
        sa.select(s.c.email, a.c.partition_date, a.c.started_at, s.c.confirmed_at, s.c.unsubscribed_at)
        .join(s, s.c.subscriber_id == a.c.subscriber_id)
        .where(
            a.c.outcome.in_(sorted(MAYBE_DELIVERED)),
            sa.or_(
                s.c.confirmed_at.is_(None),
                s.c.confirmed_at > a.c.started_at,
                s.c.unsubscribed_at < a.c.started_at,
            ),
        )
    )
    return pl.DataFrame(
        rows,
        schema={
            "email": pl.String,
            "partition_date": pl.Date,
            "started_at": pl.Datetime,
            "confirmed_at": pl.Datetime,
            "unsubscribed_at": pl.Datetime,
        },
        orient="row",
    )


def day_deliveries(catalog: CatalogResource, day: dt.date) -> pl.DataFrame:
    d, s = brief_deliveries, subscribers
    columns = [s.c.email, d.c.status, d.c.attempts, d.c.sent_at, d.c.smtp_code, d.c.error, d.c.message_id]
    rows = catalog.rows(
        sa.select(*columns)
        .select_from(d.outerjoin(s, s.c.subscriber_id == d.c.subscriber_id))
        .where(d.c.partition_date == day)
        .order_by(s.c.email)
    )
    return pl.DataFrame(rows, schema=[c.name for c in columns], orient="row")
