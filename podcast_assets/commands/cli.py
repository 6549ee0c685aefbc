"""`podcast-brief`: what ops staff and the demo need outside the Dagster UI."""

from __future__ import annotations

import argparse
import datetime as dt
import faulthandler
import signal
import sys

import polars as pl

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import (
    RegistryError,
    add_feed,
    add_subscriber,
    list_feeds,
    list_subscribers,
    remove_feed,
    remove_subscriber,
)
from podcast_assets.commands.sql import add_sql_commands, run_sql_command
from podcast_assets.core.subscribers import InvalidSubscriber
from podcast_assets.operations.day_lock import DayLocked
from podcast_assets.operations.interrupts import RunInterrupted
from podcast_assets.resources.warehouse import WarehouseResource


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from error


def _check_run_days(first: dt.date, last: dt.date) -> None:
    """Both days are daily partitions (from their start to the last complete UTC day), else one line naming them."""
    from podcast_assets.orchestration.partitions import daily_partitions

    if last < first:
        raise RegistryError(f"--to {last.isoformat()} is before --from {first.isoformat()}")
    keys = daily_partitions.get_partition_keys()
    start, end = keys[0], keys[-1]
    for day in (first, last):
        if not start <= day.isoformat() <= end:
            raise RegistryError(f"no partition {day.isoformat()}: days run from {start} to {end} (UTC)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podcast-brief", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    feeds = commands.add_parser("feeds", help="register podcast feeds").add_subparsers(dest="action", required=True)
    feeds_add = feeds.add_parser("add", help="register a feed URL")
    feeds_add.add_argument("url")
    feeds_add.add_argument("--title")
    feeds.add_parser("list", help="list registered feeds")
    feeds.add_parser("remove", help="stop polling a feed").add_argument("url")

    subs = commands.add_parser("subscribers", help="manage subscribers").add_subparsers(dest="action", required=True)
    subs_add = subs.add_parser("add", help="add or update a subscriber")
    subs_add.add_argument("email")
    subs_add.add_argument("--interests", required=True, help='free text, e.g. "AI safety, battery chemistry"')
    subs_add.add_argument("--name")
    subs_add.add_argument("--feeds", help="comma-separated feed URLs to restrict the brief to")
    subs.add_parser("list", help="list subscribers")
    subs.add_parser("remove", help="deactivate a subscriber").add_argument("email")

    run = commands.add_parser("run", help="materialize every asset of a day (or a range) through Dagster")
    run.add_argument("--date", type=_date)
    run.add_argument("--from", dest="from_date", type=_date)
    run.add_argument("--to", dest="to_date", type=_date)
    run.add_argument(
        "--no-wait", action="store_true", help="refuse (exit 3) instead of waiting when the day is already being run"
    )

    deliveries = commands.add_parser("deliveries", help="what was emailed, and explicit resends").add_subparsers(
        dest="action", required=True
    )
    deliveries.add_parser("list", help="the day's delivery records").add_argument("--date", type=_date, required=True)
    resend = deliveries.add_parser(
        "resend",
        help="send a day's briefs again on purpose: one subscriber (--email, whatever its status) or every brief "
        "not known delivered (unknown_after_crash, unknown_no_reply, failed, rejected)",
    )
    resend.add_argument("--date", type=_date, required=True)
    resend.add_argument("--email")

    runs = commands.add_parser("runs", help="Dagster runs of this instance").add_subparsers(
        dest="action", required=True
    )
    runs.add_parser("clear-dead", help="mark runs whose process is gone failed and free their pool slots")
    fail = runs.add_parser("fail", help="mark one run failed and free its pool slots (e.g. a run on a lost machine)")
    fail.add_argument("run_id")

    search = commands.add_parser("search", help="the best matching insights of every day so far, by meaning and words")
    search.add_argument("query")
    search.add_argument("--since", type=_date, help="only days from this one on")
    search.add_argument("--show", help="only shows whose name contains this (case-insensitive)")
    search.add_argument("--limit", type=int, default=10)

    web = commands.add_parser("web", help="serve the subscriber web app (sign-up, preferences, unsubscribe, feedback)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8080)

    ui = commands.add_parser("ui", help="start the Dagster UI and daemon (dagster dev) on this instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)

    demo = commands.add_parser("demo", help="serve the built-in demo network on 127.0.0.1 and run its day")
    demo.add_argument("--port", type=int, default=8751, help="0 picks a free port")
    demo.add_argument(
        "--serve", action="store_true", help="keep serving the demo network and the web app after the run"
    )
    demo.add_argument("--web-port", type=int, default=8080, help="the web app's port (0 picks a free port)")
    evaluate = commands.add_parser("eval", help="run a labeled network's day and score the briefs against its truth")
    evaluate.add_argument("network", help="a folder with network.yaml and media/, or `demo`")
    evaluate.add_argument("--model", default="tiny.en", help="transcriber model for this run (tiny.en, base, a folder)")
    evaluate.add_argument("--home", help="keep the run's warehouse in this folder (default: a temporary one)")
    evaluate.add_argument("--json", dest="json_path", help="also write the figures as JSON to this file")
    evaluate.add_argument(
        "--second-pass",
        default="off",
        help="re-transcribe the shown spans with this model (off, tiny.en, base, a folder)",
    )
    evaluate.add_argument("--no-feed-prompt", action="store_true", help="transcribe without the feed's words as prompt")
    evaluate.add_argument(
        "--voices",
        choices=("espeak", "neural"),
        default="espeak",
        help="which rendering of the network's audio to serve: espeak-ng (media/) or Kokoro/Piper (media-neural/)",
    )
    add_sql_commands(commands)
    return parser


def _print_frame(frame: pl.DataFrame) -> None:
    """Tab-separated, header first: readable, and easy to feed to cut/awk."""
    if frame.is_empty():
        print("(none)")
        return
    print("\t".join(frame.columns))
    for row in frame.iter_rows():
        print("\t".join("" if value is None else str(value) for value in row))


def _start_ui(host: str, port: int) -> int:
    """`dagster dev` on the same instance the CLI runs use (so its runs, schedule and sensors are in one place)."""
    import os
    import shutil
    from pathlib import Path

    from podcast_assets.settings import ensure_dagster_home

    ensure_dagster_home()
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    command = [dagster, "dev", "-h", host, "-p", str(port)]
    command += ["-w", str(workspace)] if workspace.exists() else ["-m", "podcast_assets.definitions"]
    print(f"Dagster UI on http://{host}:{port} (instance: {os.environ['DAGSTER_HOME']})")
    os.execv(command[0], command)
    return 0  # not reached: exec replaces this process


def _dump_stacks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` prints every thread's stack to stderr: how a run that seems stuck is diagnosed."""
    try:
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (AttributeError, ValueError, OSError):  # stderr without a file descriptor (captured): nowhere to print
        pass


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _dump_stacks_on_sigusr1()
    warehouse = WarehouseResource()
    catalog = CatalogResource()
    try:
        if args.command == "feeds":
            if args.action == "add":
                added = add_feed(catalog, args.url, args.title)
                print(("added " if added else "already registered: ") + args.url)
            elif args.action == "list":
                _print_frame(list_feeds(catalog))
            elif args.action == "remove":
                if not remove_feed(catalog, args.url):
                    print(f"not registered: {args.url}", file=sys.stderr)
                    return 1
                print(f"removed {args.url}")
        elif args.command == "subscribers":
            if args.action == "add":
                feeds = args.feeds.split(",") if args.feeds else None
                subscriber_id = add_subscriber(catalog, args.email, args.interests, args.name, feeds)
                print(f"subscriber {subscriber_id}: {args.email}")
            elif args.action == "list":
                _print_frame(list_subscribers(catalog))
            elif args.action == "remove":
                if not remove_subscriber(catalog, args.email):
                    print(f"no active subscriber {args.email}", file=sys.stderr)
                    return 1
                print(f"deactivated {args.email}")
        elif args.command == "run":
            from podcast_assets.daily_runs.runner import run_days

            if args.date and (args.from_date or args.to_date):
                raise RegistryError("use either --date or --from/--to")
            first = args.date or args.from_date
            last = args.date or args.to_date or first
            if first is None:
                raise RegistryError("run needs --date YYYY-MM-DD or --from D1 --to D2")
            _check_run_days(first, last)
            return 0 if run_days(first, last, wait=not args.no_wait) else 1
        elif args.command == "deliveries":
            return _deliveries(args, warehouse, catalog)
        elif args.command == "runs":
            return _runs(args)
        elif args.command == "search":
            return _search(args, warehouse)
        elif args.command == "web":
            from podcast_assets.web.app import serve

            serve(args.host, args.port)
        elif args.command == "ui":
            return _start_ui(args.host, args.port)
        elif args.command == "demo":
            from podcast_assets.demo.run import run_demo

            return run_demo(port=args.port, serve=args.serve, web_port=args.web_port)
        elif args.command == "eval":
            from podcast_assets.evaluation.run import main as run_evaluation

            return run_evaluation(
                args.network,
                args.home,
                args.model,
                args.json_path,
                not args.no_feed_prompt,
                args.voices,
                args.second_pass,
            )
        elif args.command == "sql":
            return run_sql_command(args)
    except (RegistryError, InvalidSubscriber) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DayLocked as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except RunInterrupted as interrupted:
        print(str(interrupted), file=sys.stderr)
        return interrupted.exit_code
    return 0


def _deliveries(args: argparse.Namespace, warehouse: WarehouseResource, catalog: CatalogResource) -> int:
    from podcast_assets.operations.deliveries import day_deliveries, resend

    if args.action == "list":
        _print_frame(day_deliveries(catalog, args.date))
        return 0
    from podcast_assets.daily_runs.runner import wait_for_day
    from podcast_assets.operations.day_lock import day_lock
    from podcast_assets.resources.mailer import MailerResource
    from podcast_assets.settings import ensure_dagster_home

    ensure_dagster_home()
    # Never beside a run of the same day: its `sending` rows would be live, not leftovers.
    with day_lock(args.date, wait=False, purpose="resend"), _instance() as instance:
        wait_for_day(instance, args.date, wait=False)
        sent = resend(warehouse, catalog, MailerResource(), args.date, args.email)
    if not sent:
        who = args.email or "any subscriber"
        print(f"nothing to resend for {who} on {args.date.isoformat()}", file=sys.stderr)
        return 1
    for email, outcome in sent:
        print(f"{email}\t{outcome.status}" + (f"\t{outcome.error}" if outcome.error else ""))
    return 0 if all(outcome.delivered for _, outcome in sent) else 1


def _search(args: argparse.Namespace, warehouse: WarehouseResource) -> int:
    from podcast_assets.core.search import BadQuery
    from podcast_assets.operations.search import search_insights
    from podcast_assets.resources.embedder import EmbedderResource

    try:
        hits = search_insights(warehouse, EmbedderResource().encode, args.query, args.since, args.show, args.limit)
    except BadQuery as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not hits:
        print("no insights match (has a day been run? `podcast-brief run --date D`)", file=sys.stderr)
        return 1
    for hit in hits:
        print(f"{hit.day.isoformat()}  {hit.show} - {hit.episode_title} at {hit.at}\n  {hit.text}\n  {hit.link or ''}")
    return 0


def _instance():
    import dagster as dg

    return dg.DagsterInstance.get()


def _runs(args: argparse.Namespace) -> int:
    from podcast_assets.operations.dead_runs import clear_dead_runs, clear_run
    from podcast_assets.settings import ensure_dagster_home

    ensure_dagster_home()
    with _instance() as instance:
        if args.action == "clear-dead":
            cleared = clear_dead_runs(instance)
            for item in cleared:
                print(f"cleared {item.describe()}")
            if not cleared:
                print("no dead runs")
            return 0
        run = instance.get_run_by_id(args.run_id)
        if run is None:
            print(f"no run {args.run_id}", file=sys.stderr)
            return 1
        if run.is_finished:
            from podcast_assets.operations.dead_runs import free_run_slots

            free_run_slots(instance, run.run_id)
            print(f"run {run.run_id} had already ended ({run.status.value}); its pool slots are free")
            return 0
        cleared_run = clear_run(instance, run, None, "marked failed by an operator (podcast-brief runs fail)")
        print(f"cleared {cleared_run.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
