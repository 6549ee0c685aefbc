"""The web app against bad and hostile input (uvicorn on 127.0.0.1, aiosmtpd): every refusal is a clear 4xx page
and writes nothing; tokens that are forged, expired or meant for another purpose do nothing; nothing reveals
whether an address is subscribed; what visitors type is escaped. Also: an existing DuckDB home is imported into
the catalog once."""

from __future__ import annotations

import datetime as dt
import email
import re
import time
from collections.abc import Iterator
from email import policy

import httpx
import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from podcast_assets.catalog import CatalogResource, links
from podcast_assets.catalog import resource as catalog_resource
from podcast_assets.catalog import tables as t
from podcast_assets.catalog.brief_history import write_brief_archive
from podcast_assets.catalog.registry import add_feed, add_subscriber, receiving_subscribers, utc_now
from podcast_assets.catalog.tokens import secret_key
from podcast_assets.core.subscribers import subscriber_id_for
from podcast_assets.operations.deliveries import deliver_day, sent_to_non_subscribers
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.web.server import WebServer
from podcast_assets.web.subscriptions import unsubscribe
from podcast_assets_tests.conftest import patched_env, smtp_server

DAY = dt.date(2026, 11, 24)
ADA = "ada@example.com"


@pytest.fixture
def app(home) -> Iterator[dict]:
    with (
        smtp_server() as (smtp, inbox),
        patched_env(
            {
                "PODCAST_BRIEF_SMTP_HOST": "127.0.0.1",
                "PODCAST_BRIEF_SMTP_PORT": str(smtp.port),
                "PODCAST_BRIEF_SECRET_KEY": None,
                "PODCAST_BRIEF_CATALOG_URL": None,
            }
        ),
        WebServer(port=0, signups_per_client=6) as web,
    ):
        with patched_env({"PODCAST_BRIEF_PUBLIC_URL": web.base_url}):
            catalog = CatalogResource()
            add_feed(catalog, "https://example.com/grid.xml", "The Grid Report")
            add_subscriber(catalog, ADA, "battery chemistry", "Ada")
            write_brief_archive(
                catalog,
                DAY,
                [
                    {
                        "partition_date": DAY,
                        "subscriber_id": subscriber_id_for(ADA),
                        "n_insights": 1,
                        "html": "<p>brief</p>",
                        "insights": [{"insight_id": "i1", "text": "Sodium cells got cheaper."}],
                    }
                ],
            )
            with httpx.Client(base_url=web.base_url, timeout=30) as client:
                yield {"base": web.base_url, "catalog": catalog, "inbox": inbox, "client": client}


def _counts(catalog: CatalogResource) -> dict[str, int]:
    return {
        name: catalog.rows(sa.select(sa.func.count().label("n")).select_from(table))[0]["n"]
        for name, table in t.metadata.tables.items()
    }


def _csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)


def _expired(purpose: str, payload: dict, age_s: int) -> str:
    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    return URLSafeTimedSerializer(secret_key(), salt=f"podcast-brief/{purpose}", signer=Backdated).dumps(payload)


def test_bad_sign_up_input_gets_a_clear_4xx_page_and_writes_nothing(app):
    client, catalog = app["client"], app["catalog"]
    before = _counts(catalog)
    csrf = _csrf(client)
    cases = [
        ({"email": "not-an-email", "interests": "batteries"}, 400, "invalid email address"),
        ({"email": "b@example.com", "interests": " , ;"}, 400, "interests must not be empty"),
        ({"email": "b@example.com", "interests": "x" * 501}, 400, "at most 500 characters"),
        ({"email": "b@example.com", "interests": ",".join(["a"] * 21)}, 400, "at most 20 interests"),
        ({"email": "b@example.com", "interests": "grid", "show": "https://evil.example/x.xml"}, 400, "unknown show"),
        ({"email": f"{'b' * 250}@example.com", "interests": "grid"}, 400, "at most 254 characters"),
    ]
    for fields, status, message in cases:
        response = client.post("/signup", data={"csrf": csrf, **fields})
        assert (response.status_code, message in response.text) == (status, True), (fields, response.text[-400:])
    assert client.post("/signup", data={"email": "b@example.com", "interests": "grid"}).status_code == 403
    with httpx.Client(base_url=app["base"]) as stranger:  # a valid token, but not this browser's cookie
        response = stranger.post("/signup", data={"csrf": csrf, "email": "b@example.com", "interests": "grid"})
        assert response.status_code == 403 and "did not come from this site" in response.text
    huge = client.post("/signup", data={"csrf": csrf, "email": "b@example.com", "interests": "grid" * 5000})
    assert huge.status_code == 413
    assert _counts(catalog) == before
    assert not app["inbox"].messages


def test_forged_expired_and_wrong_purpose_tokens_are_refused_and_write_nothing(app):
    client, catalog = app["client"], app["catalog"]
    ada = subscriber_id_for(ADA)
    good = links.unsubscribe_url(ada).split("t=", 1)[1]
    before = _counts(catalog)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    other_key = URLSafeTimedSerializer("not-our-key", salt="podcast-brief/unsubscribe").dumps({"s": ada})
    feedback_token = links.feedback_url(ada, DAY, "i1", "less").split("t=", 1)[1]
    for token, status, text in [
        (forged, 400, "not valid"),
        (other_key, 400, "not valid"),
        (feedback_token, 400, "not valid"),  # a feedback link cannot unsubscribe
        (_expired("unsubscribe", {"s": ada}, 400 * 86_400), 410, "expired"),
        ("", 400, "incomplete"),
    ]:
        for response in (
            client.get("/unsubscribe", params={"t": token}),
            client.post("/unsubscribe", params={"t": token}, data={"List-Unsubscribe": "One-Click"}),
        ):
            assert (response.status_code, text in response.text) == (status, True), (token, response.text[-300:])
    assert client.get("/confirm", params={"t": _expired("confirm", {"signup": "x"}, 3 * 86_400)}).status_code == 410
    assert client.get("/preferences", params={"t": forged}).status_code == 400
    assert client.get("/archive", params={"t": _expired("manage", {"s": ada}, 61 * 86_400)}).status_code == 410
    forged_feedback = links.feedback_url(ada, DAY, "i1", "less").split("t=", 1)[1][:-3] + "abc"
    assert client.get("/feedback", params={"t": forged_feedback}).status_code == 400
    not_in_brief = links.feedback_url(ada, DAY, "i-other", "more").split("t=", 1)[1]
    assert client.get("/feedback", params={"t": not_in_brief}).status_code == 404
    assert _counts(catalog) == before
    assert [s["email"] for s in receiving_subscribers(catalog)] == [ADA]
    # The genuine links work.
    assert client.get("/feedback", params={"t": feedback_token}).status_code == 200
    response = client.post(
        "/unsubscribe",
        params={"t": good},
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and not receiving_subscribers(catalog)


def test_signing_up_again_reveals_nothing_and_rate_limits_hold(app):
    client, catalog = app["client"], app["catalog"]
    csrf = _csrf(client)
    known = client.post("/signup", data={"csrf": csrf, "email": ADA, "interests": "sleep"})
    new = client.post("/signup", data={"csrf": csrf, "email": "new@example.com", "interests": "sleep"})
    assert known.status_code == new.status_code == 200
    assert known.text.replace(ADA, "X") == new.text.replace("new@example.com", "X")
    (ada,) = catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.email == ADA))
    assert ada["interests"] == "battery chemistry"  # unchanged until Ada herself confirms
    for _ in range(2):
        assert client.post("/signup", data={"csrf": csrf, "email": ADA, "interests": "sleep"}).status_code == 200
    too_many = client.post("/signup", data={"csrf": csrf, "email": ADA, "interests": "sleep"})
    assert too_many.status_code == 429 and "this address" in too_many.text  # 3 per address per hour
    # 6 per client and hour: 5 tried above, the 6th here, then no more from this client.
    assert client.post("/signup", data={"csrf": csrf, "email": "c0@example.com", "interests": "x"}).status_code == 200
    blocked = client.post("/signup", data={"csrf": csrf, "email": "c1@example.com", "interests": "x"})
    assert blocked.status_code == 429 and "your network" in blocked.text
    assert len(catalog.rows(sa.select(t.signups))) == 5  # Ada 3 times, new, c0


def test_what_visitors_type_is_escaped_and_preferences_pause_the_brief(app):
    client, catalog = app["client"], app["catalog"]
    hostile = '<script>alert("x")</script> tide & "power"'
    assert (
        client.post(
            "/signup", data={"csrf": _csrf(client), "email": "eve@example.com", "interests": hostile}
        ).status_code
        == 200
    )
    (confirmation,) = [raw for rcpt, raw in app["inbox"].messages if "eve@example.com" in rcpt]
    body = email.message_from_bytes(confirmation, policy=policy.default).get_body(("plain",)).get_content()
    token = re.search(r"/confirm\?t=(\S+)", body).group(1)
    confirm_page = client.get("/confirm", params={"t": token})
    csrf = re.search(r'name="csrf" value="([^"]+)"', confirm_page.text).group(1)
    assert "You are subscribed" in client.post("/confirm", data={"csrf": csrf, "t": token}).text
    eve = subscriber_id_for("eve@example.com")
    manage = links.preferences_url(eve).split("t=", 1)[1]
    page = client.get("/preferences", params={"t": manage}).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; tide &amp; &#34;power&#34;" in page
    assert "<script>" not in page
    assert {s["email"] for s in receiving_subscribers(catalog)} == {ADA, "eve@example.com"}
    paused = client.post(
        "/preferences",
        data={
            "csrf": csrf,
            "t": manage,
            "interests": "tidal power",
            "paused": "on",
            "show": "https://example.com/grid.xml",
        },
    )
    assert paused.status_code == 200 and "Saved." in paused.text
    assert {s["email"] for s in receiving_subscribers(catalog)} == {ADA}
    (row,) = catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.subscriber_id == eve))
    assert (row["interests"], row["feeds"], row["paused"]) == ("tidal power", ["https://example.com/grid.xml"], True)
    empty = client.post("/preferences", data={"csrf": csrf, "t": manage, "interests": " "})
    assert empty.status_code == 400
    (unchanged,) = catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.subscriber_id == eve))
    assert unchanged == row


def test_an_existing_duckdb_home_is_imported_into_the_catalog_once(home):
    warehouse = WarehouseResource()
    warehouse.execute("INSERT INTO feeds (feed_url, title, added_at) VALUES ('https://a.example/f.xml', 'A', now())")
    warehouse.execute(
        "INSERT INTO subscribers (subscriber_id, email, interests, created_at, active) "
        "VALUES ('s1', 'old@example.com', 'sleep', now(), TRUE)"
    )
    warehouse.execute(
        "INSERT INTO brief_deliveries (partition_date, subscriber_id, status, message_id, attempts) "
        "VALUES (DATE '2026-11-01', 's1', 'sent', '<m>', 1)"
    )
    catalog = CatalogResource()
    assert [s["email"] for s in receiving_subscribers(catalog)] == ["old@example.com"]  # confirmed: operator's
    assert len(catalog.rows(sa.select(t.brief_deliveries))) == 1
    with catalog.begin() as connection:
        connection.execute(t.feeds.delete())
    catalog_resource._READY.clear()  # as a new process would: migrate and check the import again
    assert not CatalogResource().rows(sa.select(t.feeds))  # not imported a second time


def test_an_unsubscribe_between_briefs_and_delivery_stops_the_email_and_the_check_sees_violations(home):
    """`brief_deliveries` re-reads who receives briefs at send time; `only_to_confirmed_subscribers` (the ledger
    against the subscribers' confirm/unsubscribe times) fails for a brief sent outside them."""
    catalog, warehouse = CatalogResource(), WarehouseResource()
    ids = {email: add_subscriber(catalog, email, "batteries", None) for email in ("a@example.com", "b@example.com")}
    for subscriber_id in ids.values():
        warehouse.execute(
            "INSERT INTO brief_documents VALUES (?, ?, 1, 'ok', '# B', '<p>B</p>', 'B', NULL)", [DAY, subscriber_id]
        )
    assert unsubscribe(catalog, ids["b@example.com"])
    with smtp_server() as (smtp, inbox):
        mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=smtp.port)
        assert deliver_day(warehouse, catalog, mailer, DAY, log=lambda _: None)["sent"] == 1
        assert [rcpt for rcpt, _ in inbox.messages] == [["a@example.com"]]
    assert sent_to_non_subscribers(catalog).is_empty()
    # A brief recorded as sent to b after b unsubscribed, and one to an address that never confirmed: both caught.
    later = utc_now() + dt.timedelta(seconds=1)
    with catalog.begin() as connection:
        connection.execute(
            t.subscribers.insert().values(subscriber_id="c", email="c@example.com", interests="x", created_at=later)
        )
        for subscriber_id in (ids["b@example.com"], "c"):
            connection.execute(
                t.delivery_attempts.insert().values(
                    partition_date=DAY,
                    subscriber_id=subscriber_id,
                    attempt=1,
                    message_id="<m>",
                    triggered_by="resend",
                    started_at=later,
                    outcome="sent",
                )
            )
    assert sorted(sent_to_non_subscribers(catalog)["email"].to_list()) == ["b@example.com", "c@example.com"]
