"""The web app under uvicorn in a background thread: for `podcast-brief demo` (beside the daily run) and tests."""

from __future__ import annotations

import threading
import time

import uvicorn

from podcast_assets.catalog import CatalogResource
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.web.app import create_app


class WebServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        catalog: CatalogResource | None = None,
        mailer: MailerResource | None = None,
        **app_options,
    ) -> None:
        config = uvicorn.Config(
            create_app(catalog, mailer, **app_options), host=host, port=port, log_level="warning", proxy_headers=True
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="podcast-brief-web", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout_s: float = 30.0) -> WebServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise OSError(f"the web app did not start on {self.server.config.host}:{self.server.config.port}")
            if time.monotonic() > deadline:
                raise TimeoutError("the web app did not start in time")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
