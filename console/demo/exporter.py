"""The demo fleet's live exporter: `/metrics` on a loopback port, scraped by the demo's
Prometheus while the console runs.

A thread in the console's own process (not another daemon to clean up): it computes every
series from `workload` at the instant of each scrape, so live samples continue the backfilled
history exactly.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Sequence

from console.demo.exposition import Family, scrape_text


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404, "only /metrics here")
            return
        body = scrape_text(self.server.families, time.time()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.last_scrape = time.time()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a scrape every two seconds is not news (and stderr is the console's screen)."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, families: Sequence[Family]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.families = list(families)
        self.last_scrape: float | None = None


class Exporter:
    """Bound at construction (so its port can go into Prometheus' config), serving once
    `start()`ed, until `stop()`."""

    def __init__(self, families: Sequence[Family]) -> None:
        self._server = _Server(families)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def last_scrape(self) -> float | None:
        """When Prometheus last read us (None: not yet)."""
        return self._server.last_scrape

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-exporter",
                                        kwargs={"poll_interval": 0.5}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
