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
The `never_sent_twice` check counts, per subscriber, the automatic attempts that may have reached the server
(sent, written, unknown_*): never more than one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from podcast_assets.resources.mailer import (
    FAILED,
    REJECTED,
    SENT,
    UNKNOWN_NO_REPLY,
    WRITTEN,
    MailerResource,
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


def message_id(day: dt.date, subscriber_id: str) -> str:
    """Stable per subscriber and day: every copy of one brief carries the same Message-ID."""
    return f"<brief-{day.isoformat()}-{subscriber_id}@podcast-brief>"


def resend_hint(day: dt.date, email: str) -> str:
    return f"podcast-brief deliveries resend --date {day.isoformat()} --email {email}"


_DAY_BRIEFS_SQL = """
SELECT d.subscriber_id, d.markdown, d.html, d.text, s.email, s.name, coalesce(x.attempts, 0) AS attempts,
       x.status AS previous_status
FROM brief_documents d JOIN subscribers s USING (subscriber_id)
LEFT JOIN brief_deliveries x ON x.partition_date = d.partition_date AND x.subscriber_id = d.subscriber_id
WHERE d.partition_date = ? AND d.status = 'ok' AND s.active AND (?::VARCHAR IS NULL OR s.email = ?)
ORDER BY s.email
"""


def day_briefs(warehouse: WarehouseResource, day: dt.date, email: str | None = None) -> list[dict]:
    """The day's rendered briefs of active subscribers, with the delivery state so far."""
    return warehouse.query(_DAY_BRIEFS_SQL, [day, email, email]).to_dicts()


def resolve_interrupted(warehouse: WarehouseResource, day: dt.date) -> list[dict]:
    """`sending` rows of `day` were left by a sender that died during the SMTP transaction: the message may or may
    not have been accepted. They become `unknown_after_crash` (not resent by default). Returns those rows."""
    with warehouse.connect() as connection:
        connection.execute("BEGIN")
        rows = connection.execute(
            """UPDATE brief_deliveries SET status = ?, error = ?
               WHERE partition_date = ? AND status = ? RETURNING subscriber_id, message_id""",
            [
                UNKNOWN_AFTER_CRASH,
                "the sending process stopped during the SMTP transaction; the message may or may not have been "
                "delivered and is not sent again automatically (at-most-once)",
                day,
                SENDING,
            ],
        ).fetchall()
        connection.execute(
            """UPDATE delivery_attempts SET outcome = ?, finished_at = now(), error = 'sender stopped mid-transaction'
               WHERE partition_date = ? AND outcome = ?""",
            [UNKNOWN_AFTER_CRASH, day, SENDING],
        )
        connection.execute("COMMIT")
    return [{"subscriber_id": subscriber_id, "message_id": mid} for subscriber_id, mid in rows]


def send_brief(
    warehouse: WarehouseResource,
    mailer: MailerResource,
    day: dt.date,
    brief: dict,
    triggered_by: str = RUN,
    run_id: str | None = None,
) -> SendOutcome:
    """Record `sending`, make one attempt, record its outcome. `brief` is a row of `day_briefs`."""
    subscriber_id = brief["subscriber_id"]
    mid = message_id(day, subscriber_id)
    attempt = brief["attempts"] + 1
    with warehouse.connect() as connection:
        connection.execute("BEGIN")
        connection.execute(
            """INSERT OR REPLACE INTO brief_deliveries
               (partition_date, subscriber_id, status, message_id, sent_at, error, attempts, smtp_code)
               VALUES (?, ?, ?, ?, NULL, NULL, ?, NULL)""",
            [day, subscriber_id, SENDING, mid, attempt],
        )
        connection.execute(
            """INSERT OR REPLACE INTO delivery_attempts
               (partition_date, subscriber_id, attempt, message_id, triggered_by, run_id, started_at, outcome)
               VALUES (?, ?, ?, ?, ?, ?, now(), ?)""",
            [day, subscriber_id, attempt, mid, triggered_by, run_id, SENDING],
        )
        connection.execute("COMMIT")
    outgoing = OutgoingBrief(
        brief["email"],
        brief["name"],
        f"Your podcast brief for {day:%A %d %B}",
        brief["text"],
        brief["html"],
        mid,
        subscriber_id,
    )
    outcome = mailer.send(outgoing, day.isoformat())
    with warehouse.connect() as connection:
        connection.execute("BEGIN")
        connection.execute(
            """UPDATE brief_deliveries SET status = ?, error = ?, smtp_code = ?,
                      sent_at = CASE WHEN ? THEN now() ELSE NULL END
               WHERE partition_date = ? AND subscriber_id = ?""",
            [outcome.status, outcome.error, outcome.smtp_code, outcome.delivered, day, subscriber_id],
        )
        connection.execute(
            """UPDATE delivery_attempts SET outcome = ?, error = ?, smtp_code = ?, finished_at = now()
               WHERE partition_date = ? AND subscriber_id = ? AND attempt = ?""",
            [outcome.status, outcome.error, outcome.smtp_code, day, subscriber_id, attempt],
        )
        connection.execute("COMMIT")
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
    briefs_by_id = {b["subscriber_id"]: b for b in day_briefs(warehouse, day)}
    for row in resolve_interrupted(warehouse, day):
        email = briefs_by_id.get(row["subscriber_id"], {}).get("email", row["subscriber_id"])
        log(
            f"delivery to {email} was interrupted during the SMTP transaction by a crash: recorded as "
            f"{UNKNOWN_AFTER_CRASH}, not sent again (at-most-once); to send it anyway: {resend_hint(day, email)}"
        )
    resend_uncertain = mailer.resends_uncertain()
    for brief in day_briefs(warehouse, day):
        action = automatic_action(brief["previous_status"], resend_uncertain)
        if action != "send":
            counts[action] += 1
            continue
        outcome = send_brief(warehouse, mailer, day, brief, RUN, run_id)
        counts[outcome.status] += 1
        if not outcome.delivered:
            log(f"delivery to {brief['email']}: {outcome.status} ({outcome.error})")
    return counts


def resend(
    warehouse: WarehouseResource, mailer: MailerResource, day: dt.date, email: str | None = None
) -> list[tuple[str, SendOutcome]]:
    """An operator's explicit resend. With `email`: that subscriber's brief, whatever its status. Without: every
    brief of the day not known delivered (unknown_*, failed, rejected, never attempted). The caller holds the
    day (no run of it in progress), so `sending` rows are leftovers and are resolved first."""
    resolve_interrupted(warehouse, day)
    briefs = day_briefs(warehouse, day, email)
    if email is None:
        briefs = [b for b in briefs if b["previous_status"] not in DELIVERED]
    return [(b["email"], send_brief(warehouse, mailer, day, b, RESEND)) for b in briefs]


def sent_twice(warehouse: WarehouseResource, day: dt.date) -> pl.DataFrame:
    """Subscribers of `day` with more than one automatic attempt that may have reached their mailbox."""
    return warehouse.query(
        """SELECT subscriber_id, count(*) AS maybe_delivered FROM delivery_attempts
           WHERE partition_date = ? AND triggered_by = ? AND list_contains(?, outcome)
           GROUP BY subscriber_id HAVING count(*) > 1""",
        [day, RUN, sorted(MAYBE_DELIVERED)],
    )


def day_deliveries(warehouse: WarehouseResource, day: dt.date) -> pl.DataFrame:
    return warehouse.query(
        """SELECT s.email, d.status, d.attempts, d.sent_at, d.smtp_code, d.error, d.message_id
           FROM brief_deliveries d LEFT JOIN subscribers s USING (subscriber_id)
           WHERE d.partition_date = ? ORDER BY s.email""",
        [day],
    )
