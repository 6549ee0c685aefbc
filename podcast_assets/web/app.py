"""The web app (Starlette, Jinja2, served by uvicorn): plain HTML forms that work without JavaScript.

Every page that changes something is a POST with a CSRF token (double submit: a signed random value in a cookie
and in the form), except the RFC 8058 one-click unsubscribe POST, which mail providers send without cookies: its
signed token is the authority. Catalog work and SMTP run in the threadpool, never on the event loop."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import defaultdict, deque

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from podcast_assets.catalog import CatalogResource, links
from podcast_assets.catalog.tokens import BadToken, Signer, signer
from podcast_assets.core.search import BadQuery
from podcast_assets.core.subscribers import InvalidSubscriber
from podcast_assets.resources.mailer import MailerResource, OutgoingBrief
from podcast_assets.resources.warehouse import WarehouseLocked
from podcast_assets.web import subscriptions, web_search
from podcast_assets.web.audio import audio_brief_path
from podcast_assets.web.sample import FrontPageSample

EXAMPLE_TOPICS = ("battery chemistry", "AI safety", "city transit", "sleep and health", "climate policy")
MAX_BODY_BYTES = 16_384
CSRF_COOKIE = "pb_csrf"
CSRF_FAILED = "This form has expired or did not come from this site: reload the page and try again."
# Autoescaped: every value a visitor or a feed supplied is escaped in the pages and the confirmation email.
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("podcast_assets.web", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
)


class ClientRateLimit:
    """At most `limit` sign-ups per client address per `window_s`, in this process's memory."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        if len(self.hits) > 10_000:  # forget clients whose window has passed, so memory stays bounded
            self.hits = defaultdict(deque, {c: h for c, h in self.hits.items() if h and h[-1] >= now - self.window_s})
        hits = self.hits[client]
        while hits and hits[0] < now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


def create_app(
    catalog: CatalogResource | None = None,
    mailer: MailerResource | None = None,
    signups_per_client: int = 10,
    signup_window_s: float = 3600.0,
) -> Starlette:
    catalog = catalog or CatalogResource()
    mailer = mailer or MailerResource()
    templates = Jinja2Templates(env=_ENVIRONMENT)
    client_limit = ClientRateLimit(signups_per_client, signup_window_s)
    front_page_sample = FrontPageSample(catalog)
    keys: dict[str, Signer] = {}

    def sign() -> Signer:
        if "signer" not in keys:
            keys["signer"] = signer()
        return keys["signer"]

    def page(request: Request, template: str, status: int = 200, **context) -> Response:
        token = request.cookies.get(CSRF_COOKIE)
        try:
            sign().verify("csrf", token)
        except BadToken:
            token = sign().sign("csrf", {"n": secrets.token_hex(16)})
        response = templates.TemplateResponse(
            request, template, {"csrf": token, "public_url": links.public_url(), **context}, status_code=status
        )
        secure = links.public_url().startswith("https://")
        response.set_cookie(CSRF_COOKIE, token, max_age=86_400, httponly=True, samesite="lax", secure=secure)
        return response

    def problem(request: Request, status: int, title: str, message: str) -> Response:
        return page(request, "message.html.j2", status, title=title, message=message)

    async def form(request: Request, check_csrf: bool = True):
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            raise HTTPException(413, "That form is too large.")
        data = await request.form(max_files=0, max_fields=100, max_part_size=MAX_BODY_BYTES)
        if check_csrf:
            cookie, field = request.cookies.get(CSRF_COOKIE), data.get("csrf")
            try:
                sign().verify("csrf", field)
            except BadToken as error:
                raise HTTPException(403, CSRF_FAILED) from error
            if not cookie or not secrets.compare_digest(cookie, str(field)):
                raise HTTPException(403, CSRF_FAILED)
        return data

    def subscriber_from(purpose: str, token: str | None) -> str:
        payload = sign().verify(purpose, token)
        subscriber_id = payload.get("s")
        if not isinstance(subscriber_id, str):
            raise BadToken("This link is not valid.")
        return subscriber_id

    async def landing(request: Request) -> Response:
        shows = await run_in_threadpool(subscriptions.list_shows, catalog)
        example = await run_in_threadpool(front_page_sample.get)
        return page(request, "landing.html.j2", shows=shows, topics=EXAMPLE_TOPICS, sample=example)

    async def signup(request: Request) -> Response:
        data = await form(request)
        interests = ", ".join(
            [str(t) for t in data.getlist("topic") if str(t) in EXAMPLE_TOPICS] + [str(data.get("interests", ""))]
        ).strip(", ")
        shows = [str(s) for s in data.getlist("show")]
        client = request.client.host if request.client else "unknown"
        try:
            address = subscriptions.check_email(str(data.get("email", "")))
            subscriptions.check_interests(interests)
        except InvalidSubscriber as error:
            return problem(request, 400, "Please check the form", str(error))
        if not client_limit.allow(client):
            return problem(request, 429, "Too many sign-ups", "Too many sign-ups from your network: try again later.")
        try:
            signup_id = await run_in_threadpool(
                subscriptions.request_signup, catalog, address, interests, shows, client
            )
        except InvalidSubscriber as error:
            return problem(request, 400, "Please check the form", str(error))
        except subscriptions.RateLimited:
            return problem(request, 429, "Too many sign-ups", "Too many sign-ups for this address: try again later.")
        outcome = await run_in_threadpool(_send_confirmation, mailer, templates, address, signup_id)
        if not outcome.delivered:
            return problem(request, 503, "We could not send the email", "Please try again in a few minutes.")
        return page(request, "check_inbox.html.j2", email=address)

    async def confirm(request: Request) -> Response:
        token = request.query_params.get("t")
        if request.method == "POST":
            token = str((await form(request)).get("t", ""))
        payload = sign().verify("confirm", token)
        signup_id = str(payload.get("signup", ""))
        if request.method == "GET":  # a page with a button: mail scanners that open links confirm nothing
            email = await run_in_threadpool(subscriptions.signup_email, catalog, signup_id)
            if email is None:
                raise BadToken("This link is not valid.")
            return page(request, "confirm.html.j2", token=token, email=email)
        subscriber_id = await run_in_threadpool(subscriptions.confirm_signup, catalog, signup_id)
        if subscriber_id is None:
            raise BadToken("This link is not valid.")
        return page(request, "confirmed.html.j2", preferences=links.preferences_url(subscriber_id))

    async def preferences(request: Request) -> Response:
        token = request.query_params.get("t")
        saved = False
        if request.method == "POST":
            data = await form(request)
            token = str(data.get("t", ""))
            subscriber_id = subscriber_from("manage", token)
            try:
                await run_in_threadpool(
                    subscriptions.update_preferences,
                    catalog,
                    subscriber_id,
                    str(data.get("interests", "")),
                    [str(s) for s in data.getlist("show")],
                    data.get("paused") == "on",
                )
            except InvalidSubscriber as error:
                return problem(request, 400, "Please check the form", str(error))
            saved = True
        subscriber_id = subscriber_from("manage", token)
        subscriber = await run_in_threadpool(subscriptions.get_subscriber, catalog, subscriber_id)
        if subscriber is None:
            raise BadToken("This link is not valid.")
        shows = await run_in_threadpool(subscriptions.list_shows, catalog)
        counts = await run_in_threadpool(subscriptions.feedback_counts, catalog, subscriber_id)
        return page(
            request,
            "preferences.html.j2",
            token=token,
            subscriber=subscriber,
            shows=shows,
            chosen=set(subscriber["feeds"] or []),
            feedback=counts,
            saved=saved,
            unsubscribe=links.unsubscribe_url(subscriber_id),
            archive=links.archive_url(subscriber_id),
        )

    async def unsubscribe(request: Request) -> Response:
        token = request.query_params.get("t")
        subscriber_id = subscriber_from("unsubscribe", token)
        if request.method == "GET":
            return page(request, "unsubscribe.html.j2", token=token)
        # RFC 8058: a POST to the List-Unsubscribe URL (body "List-Unsubscribe=One-Click") unsubscribes at once.
        data = await form(request, check_csrf=False)
        if data.get("List-Unsubscribe") != "One-Click" and not data.get("confirm"):
            return problem(request, 400, "Nothing changed", "Use the Unsubscribe button to unsubscribe.")
        await run_in_threadpool(subscriptions.unsubscribe, catalog, subscriber_id)
        return page(request, "message.html.j2", title="You are unsubscribed", message="No more briefs will be sent.")

    async def give_feedback(request: Request) -> Response:
        payload = sign().verify("feedback", request.query_params.get("t"))
        try:
            day = dt.date.fromisoformat(str(payload["d"]))
            subscriber_id, insight_id, verdict = str(payload["s"]), str(payload["i"]), str(payload["v"])
        except (KeyError, ValueError) as error:
            raise BadToken("This link is not valid.") from error
        try:
            text = await run_in_threadpool(
                subscriptions.record_feedback, catalog, subscriber_id, day, insight_id, verdict
            )
        except LookupError as error:
            return problem(request, 404, "Not found", str(error))
        return page(
            request, "thanks.html.j2", verdict=verdict, text=text, preferences=links.preferences_url(subscriber_id)
        )

    async def archive(request: Request) -> Response:
        token = request.query_params.get("t")
        subscriber_id = subscriber_from("manage", token)
        day_text = request.path_params.get("day")
        if day_text is None:
            days = await run_in_threadpool(subscriptions.archive_days, catalog, subscriber_id)
            for day in days:
                day["audio"] = audio_brief_path(subscriber_id, day["partition_date"]) is not None
            return page(request, "archive.html.j2", token=token, days=days)
        try:
            day = dt.date.fromisoformat(day_text)
        except ValueError:
            return problem(request, 404, "Not found", "There is no brief for that day.")
        html = await run_in_threadpool(subscriptions.archived_brief, catalog, subscriber_id, day)
        if html is None:
            return problem(request, 404, "Not found", "There is no brief for that day.")
        return HTMLResponse(html)  # rendered (and escaped) by the daily run from the brief templates

    async def audio(request: Request) -> Response:
        subscriber_id = subscriber_from("manage", request.query_params.get("t"))
        try:
            day = dt.date.fromisoformat(request.path_params["day"])
        except ValueError:
            day = None
        path = audio_brief_path(subscriber_id, day) if day else None
        if path is None:
            return problem(
                request,
                404,
                "Not found",
                "There is no audio brief for that day yet: it is made in the same run as the email, try again later.",
            )
        return FileResponse(path, media_type="audio/mpeg")

    async def bad_token(request: Request, error: Exception) -> Response:
        assert isinstance(error, BadToken)
        status = 410 if error.expired else 400
        hint = " Links expire: use the one in your latest email, or sign up again." if error.expired else ""
        return problem(request, status, "This link does not work", f"{error}{hint}")

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return problem(request, error.status_code, "Sorry", error.detail)

    async def search(request: Request) -> Response:
        query = request.query_params.get("q", "")
        if not query.strip():
            return page(request, "search.html.j2", query="", hits=None)
        try:
            hits = await run_in_threadpool(web_search.run, query, request.query_params.get("show"))
        except BadQuery as error:
            return page(request, "search.html.j2", 400, query=query, hits=None, error=str(error))
        except WarehouseLocked:
            raise HTTPException(503, "Search is paused while the daily run writes; try again in a minute.") from None
        return page(request, "search.html.j2", query=query, hits=hits)

    async def health(_request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    routes = [
        Route("/", landing),
        Route("/signup", signup, methods=["POST"]),
        Route("/confirm", confirm, methods=["GET", "POST"]),
        Route("/preferences", preferences, methods=["GET", "POST"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
        Route("/feedback", give_feedback),
        Route("/archive", archive),
        Route("/archive/{day}", archive),
        Route("/audio/{day}", audio),
        Route("/search", search),
        Route("/healthz", health),
    ]
    return Starlette(routes=routes, exception_handlers={BadToken: bad_token, HTTPException: http_error})


def _send_confirmation(mailer: MailerResource, templates: Jinja2Templates, email: str, signup_id: str):
    url = links.confirm_url(signup_id)
    context = {"url": url, "public_url": links.public_url()}
    message = OutgoingBrief(
        email,
        None,
        "Confirm your podcast brief",
        templates.get_template("confirm_email.txt.j2").render(context),
        templates.get_template("confirm_email.html.j2").render(context),
        f"<confirm-{signup_id}@podcast-brief>",
        f"confirm-{signup_id}",
    )
    return mailer.send(message, "signups")


def serve(host: str, port: int) -> None:
    """uvicorn in this process. Behind a reverse proxy, X-Forwarded-For is trusted from
    FORWARDED_ALLOW_IPS (uvicorn's setting; default 127.0.0.1), which gives rate limits the real client."""
    import uvicorn

    print(f"Podcast Brief web app on http://{host}:{port} (links in emails use {links.public_url()})")
    uvicorn.run(create_app(), host=host, port=port, proxy_headers=True, log_level="info")
