"""The subscriber's side on real parts: the web app under uvicorn on 127.0.0.1, a real SMTP server (aiosmtpd)
receiving the confirmation and the briefs, `podcast-brief run` as a separate process writing the same catalog
(SQLite WAL) while the web app writes, and headless Chromium walking sign-up -> confirm -> brief -> feedback ->
preferences -> archive -> unsubscribe (screenshots in test-artifacts/web/)."""

from __future__ import annotations

import datetime as dt
import email
import os
import re
import subprocess
import sys
import threading
import time
from email import policy
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog import tables as t
from podcast_assets.catalog.links import preferences_url
from podcast_assets.catalog.registry import add_subscriber
from podcast_assets.core.subscribers import subscriber_id_for
from podcast_assets.demo.run import register_demo
from podcast_assets.evaluation.demo_network import DEMO_DAY, PREVIOUS_DAY
from podcast_assets.evaluation.server import SiteServer
from podcast_assets.web.server import WebServer
from podcast_assets_tests.chromium import CHROMIUM, Browser
from podcast_assets_tests.conftest import free_port, patched_env, smtp_server

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "web"
READER = "reader@example.com"
LEAVER = "leaver@example.com"
PENDING = "pending@example.com"
WRITER = "writer@example.com"
RUN_TIMEOUT_S = 600

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"),
]


def _mail(inbox, address: str) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(raw, policy=policy.default)
        for recipients, raw in inbox.messages
        if address in recipients
    ]


def _body(message: email.message.EmailMessage, kind: str) -> str:
    return message.get_body((kind,)).get_content()


def _links(html: str, base: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html) if href.startswith(base)]


def _csrf(client: httpx.Client, base: str) -> str:
    page = client.get(f"{base}/")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def _sign_up(client: httpx.Client, base: str, address: str, interests: str) -> httpx.Response:
    return client.post(f"{base}/signup", data={"csrf": _csrf(client, base), "email": address, "interests": interests})


def _catalog_rows(catalog: CatalogResource) -> dict[str, int]:
    """Row counts of every catalog table: 'nothing written' is this staying the same."""
    return {
        name: catalog.rows(sa.select(sa.func.count().label("n")).select_from(table))[0]["n"]
        for name, table in t.metadata.tables.items()
    }


def _run_day(env: dict[str, str], day: dt.date, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "podcast_assets.commands.cli", "run", "--date", day.isoformat()],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _latest(instance: dg.DagsterInstance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def _checks(instance: dg.DagsterInstance) -> dict[str, bool]:
    (run,) = instance.get_runs(filters=dg.RunsFilter(job_name="daily_brief"), limit=1)
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return {
        r.event_log_entry.dagster_event.event_specific_data.check_name: (
            r.event_log_entry.dagster_event.event_specific_data.passed
        )
        for r in records
    }


def _assert_front_page_sample(browser: Browser, base: str, inbox, day: dt.date, related: int) -> None:
    """The landing page's sample is the day's: its headline is an insight of a brief sent that day, with a listen
    link to the moment, and `related` other insights under it."""
    page = browser.open(f"{base}/")
    assert "The first brief is being made" not in page and f"From the {day.isoformat()} brief" in page
    headline = browser.evaluate("document.querySelector('#sample-headline p').textContent").strip()
    day_briefs = " ".join(
        " ".join(_body(message, "plain").split())
        for _, raw in inbox.messages
        if (message := email.message_from_bytes(raw, policy=policy.default))["Subject"]
        == f"Your podcast brief for {day:%A %d %B}"
    )
    assert headline and " ".join(headline.split()) in day_briefs
    listen = browser.evaluate("document.querySelector('#sample-headline a').getAttribute('href')")
    assert re.search(r"#t=\d+$", listen)
    shown = browser.evaluate("[...document.querySelectorAll('#sample-related li')].map(li => li.textContent)")
    assert len(shown) == related and all(headline not in text for text in shown)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    home = root / "home"
    base = f"http://127.0.0.1:{free_port()}"
    with smtp_server() as (smtp, inbox), SiteServer() as site:
        env = {
            "PODCAST_BRIEF_HOME": str(home),
            "PODCAST_BRIEF_SMTP_HOST": "127.0.0.1",
            "PODCAST_BRIEF_SMTP_PORT": str(smtp.port),
            "PODCAST_BRIEF_MAIL_FROM": "Podcast Brief <brief@example.com>",
            "PODCAST_BRIEF_PUBLIC_URL": base,
            "PODCAST_BRIEF_SECRET_KEY": None,  # made in the home folder, shared by the run's process
            "PODCAST_BRIEF_CATALOG_URL": None,
            "DAGSTER_HOME": None,
        }
        with patched_env(env), WebServer(port=int(base.rsplit(":", 1)[1]), signups_per_client=1000) as web:
            catalog = CatalogResource()
            register_demo(catalog, site)
            add_subscriber(catalog, WRITER, "knitting patterns", "Writer")
            browser = Browser(ARTIFACTS)
            try:
                yield {
                    "root": root,
                    "home": home,
                    "base": web.base_url,
                    "inbox": inbox,
                    "catalog": catalog,
                    "browser": browser,
                    "run_env": {**os.environ, "PYTHONUNBUFFERED": "1"},
                }
            finally:
                browser.close()


def test_sign_up_confirm_brief_feedback_archive_unsubscribe_in_chromium(world):
    base, inbox, catalog, browser = world["base"], world["inbox"], world["catalog"], world["browser"]
    instance_dir = world["home"] / "dagster"

    # Sign up on the landing page, as a reader does (a topic ticked, free text typed).
    page = browser.open(f"{base}/")
    assert "top 5 insights daily" in page
    assert "The first brief is being made" in page  # no day has run yet: a friendly placeholder, no sample
    browser.screenshot("1-landing")
    browser.fill("#email", READER)
    browser.check("input[name=topic][value='battery chemistry']")
    browser.fill("#interests", "energy storage, the electric grid")
    assert "Check your inbox" in browser.click("button[type=submit]")
    browser.screenshot("2-check-inbox")
    with httpx.Client() as client:
        assert _sign_up(client, base, PENDING, "the electric grid").status_code == 200  # never confirms
        assert _sign_up(client, base, LEAVER, "battery chemistry, energy storage, the electric grid").status_code == 200
    assert not catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.email == READER))  # not before confirming

    # The confirmation email: a signed link, no bare address or id.
    (confirmation,) = _mail(inbox, READER)
    assert confirmation["Subject"] == "Confirm your podcast brief"
    (confirm_link,) = [u for u in _links(_body(confirmation, "html"), base) if "/confirm?" in u]
    assert READER not in confirm_link and subscriber_id_for(READER) not in confirm_link
    assert READER in browser.open(confirm_link)  # a page with a button: opening the link confirms nothing
    assert "You are subscribed" in browser.click("#confirm")
    browser.screenshot("3-confirmed")
    (leaver_confirmation,) = _mail(inbox, LEAVER)
    (leaver_link,) = [u for u in _links(_body(leaver_confirmation, "html"), base) if "/confirm?" in u]
    with httpx.Client() as client:
        token = leaver_link.split("t=", 1)[1]
        page = client.get(leaver_link)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert client.post(f"{base}/confirm", data={"csrf": csrf, "t": token}).status_code == 200

    # Day 1 in its own process: the confirmed reader gets a brief with one-click unsubscribe headers.
    code = _run_day(world["run_env"], PREVIOUS_DAY, world["root"] / "day1.log").wait(timeout=RUN_TIMEOUT_S)
    assert code == 0, (world["root"] / "day1.log").read_text()[-3000:]
    (brief,) = [m for m in _mail(inbox, READER) if m["Subject"].startswith("Your podcast brief")]
    assert not [m for m in _mail(inbox, PENDING) if m["Subject"].startswith("Your podcast brief")]

    # The front page now shows that day's headline insight, from one of its briefs (a day of one insight: no others).
    _assert_front_page_sample(browser, base, inbox, PREVIOUS_DAY, related=0)
    browser.screenshot("2a-landing-with-sample")
    https_url, mailto_url = re.fullmatch(r"<([^>]+)>, <([^>]+)>", brief["List-Unsubscribe"]).groups()
    assert https_url.startswith(f"{base}/unsubscribe?t=") and mailto_url.startswith("mailto:brief@example.com?")
    assert brief["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = _body(brief, "html")
    assert "Unsubscribe" in html and "Unsubscribe: http" in _body(brief, "plain")
    more_links = re.findall(r'<a href="([^"]+)">More like this</a>', html)
    less_links = re.findall(r'<a href="([^"]+)">Less like this</a>', html)
    assert more_links and len(more_links) == len(less_links)  # a pair per insight

    # "Less like this" on the first insight: recorded, a thank-you page.
    less_link = less_links[0].replace("&amp;", "&")
    assert "Thanks!" in browser.open(less_link)
    browser.screenshot("4-feedback-thanks")
    (click,) = catalog.rows(sa.select(t.feedback))
    assert (click["subscriber_id"], click["partition_date"], click["verdict"]) == (
        subscriber_id_for(READER),
        PREVIOUS_DAY,
        "less",
    )

    # The leaver's mail provider unsubscribes with the RFC 8058 POST: no cookie, no CSRF field.
    (leaver_brief,) = [m for m in _mail(inbox, LEAVER) if m["Subject"].startswith("Your podcast brief")]
    leaver_https = re.match(r"<([^>]+)>", leaver_brief["List-Unsubscribe"]).group(1)
    response = httpx.post(
        leaver_https,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "unsubscribed" in response.text
    (leaver,) = catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.email == LEAVER))
    assert leaver["active"] is False and leaver["unsubscribed_at"] is not None  # history kept

    # Day 2 in its own process, while the web app keeps writing the same catalog.
    writes, errors, stop = [], [], threading.Event()
    writer_token = preferences_url(subscriber_id_for(WRITER)).split("t=", 1)[1]

    def keep_writing() -> None:
        """Sign-ups and preference changes, as fast as one visitor clicks, for as long as the run lasts."""
        with httpx.Client(timeout=60) as client:
            n = 0
            while not stop.is_set():
                n += 1
                responses = [
                    _sign_up(client, base, f"busy{n}@example.com", "tidal power"),
                    client.post(
                        f"{base}/preferences",
                        data={"csrf": _csrf(client, base), "t": writer_token, "interests": f"knitting, lace {n}"},
                    ),
                ]
                for response in responses:
                    (writes if response.status_code == 200 else errors).append(
                        (response.status_code, response.text[-300:])
                    )
                time.sleep(0.2)

    writer = threading.Thread(target=keep_writing)
    process = _run_day(world["run_env"], DEMO_DAY, world["root"] / "day2.log")
    writer.start()
    try:
        code = process.wait(timeout=RUN_TIMEOUT_S)
    finally:
        stop.set()
        writer.join(timeout=120)
    assert code == 0, (world["root"] / "day2.log").read_text()[-3000:]
    assert not errors, errors[:3]
    assert len(writes) >= 5
    busy = catalog.rows(sa.select(t.signups.c.email).where(t.signups.c.email.like("busy%")))
    assert len(busy) == len(writes) // 2  # every sign-up the web app answered is there
    (writer_row,) = catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.email == WRITER))
    assert writer_row["interests"] == f"knitting, lace {len(busy)}"  # and the last preference change

    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        checks = _checks(instance)
        assert checks["only_to_confirmed_subscribers"] is True and checks["never_sent_twice"] is True
        profiles = _latest(instance, "briefs")["feedback_profiles"]
        assert READER in profiles  # yesterday's "less like this" moved the reader's interest vectors
        subscribers_meta = _latest(instance, "subscribers")
        assert subscribers_meta["receiving_briefs"] == 5  # 3 demo, the writer, the reader (not the leaver)
    day2 = [m for m in _mail(inbox, READER) if m["Subject"].startswith("Your podcast brief")]
    assert len(day2) == 2  # one per day
    assert len([m for m in _mail(inbox, LEAVER) if m["Subject"].startswith("Your podcast brief")]) == 1

    # The front page moved on to the new day: its headline insight and three related insights.
    _assert_front_page_sample(browser, base, inbox, DEMO_DAY, related=3)
    browser.screenshot("4a-landing-new-day")

    # Preferences and the archive, from links in the latest brief.
    latest_html = _body(day2[-1], "html")
    preferences = next(u for u in _links(latest_html, base) if "/preferences?" in u)
    page = browser.open(preferences)
    assert "1 × less like this" in page and READER in page
    browser.screenshot("5-preferences")
    archive = next(u for u in _links(latest_html, base) if "/archive?" in u)
    page = browser.open(archive)
    assert DEMO_DAY.strftime("%d %B %Y") in page and PREVIOUS_DAY.strftime("%d %B %Y") in page
    browser.screenshot("6-archive")
    assert "Your podcast brief" in browser.click("li a")
    browser.screenshot("7-archived-brief")

    # The visible unsubscribe link: a page with a button; one click and the address is out.
    unsubscribe = next(u for u in _links(latest_html, base) if "/unsubscribe?" in u)
    assert "Stop sending" in browser.open(unsubscribe)
    assert "You are unsubscribed" in browser.click("#unsubscribe")
    browser.screenshot("8-unsubscribed")
    (reader,) = catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.email == READER))
    assert reader["active"] is False
