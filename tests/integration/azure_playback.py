"""An HTTPS server that plays back Azure Resource Manager traffic, the way the Azure SDK tests
itself: recorded entries (`recordings/azure/compute_vm.json`, trimmed from Azure's own
recordings) plus marked hand-made ones (`handmade.json`).

Matching is by (method, path, relevant query): every query parameter except `api-version`
(the SDK sends a newer one than was recorded) and ARM's polling-URL signature (`t`, `c`, `s`,
`h`, `p`). Recorded entries of one key are served in recorded order, the last one repeating;
hand-made `"mode": "state"` entries answer with the last one whose `after` operations have
succeeded (a listing that reflects the recorded power-off once its final poll was served);
`"inject": true` entries are served only when a test queues them (`inject`). At serve time the
recorded host (`management.azure.com`) is rewritten to this server in headers (Azure-
AsyncOperation, Location) and bodies (nextLink), and recorded Retry-After values become 0.
Anything unmatched gets a 404 `NoRecording` and is kept in `unmatched`. Azure Monitor's
`metrics:getBatch` (`monitor_metrics.json`) goes to a region's own host; here the region is the
first path segment (`metrics_endpoint = "https://127.0.0.1:PORT/{region}"`), its moving
`starttime`/`endtime` are not matched and its body's `resourceids` are (as the Azure test
proxy matches bodies).
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import trustme

RECORDINGS = Path(__file__).parent / "recordings" / "azure"
RECORDED_HOST = "https://management.azure.com"
IGNORED_QUERY = frozenset({"api-version", "t", "c", "s", "h", "p", "starttime", "endtime"})
METRICS_HOST = ".metrics.monitor.azure.com"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
REFUSED_SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
RECORDED_VM = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rgname/providers/"
               "Microsoft.Compute/virtualMachines/virtualmachinexeb772750")

Key = tuple[str, str, tuple[tuple[str, str], ...]]


def key_of(method: str, url: str, body: Any = None) -> Key:
    parts = urlsplit(url)
    path = parts.path
    if (parts.hostname or "").endswith(METRICS_HOST):  # <region>.metrics… → /<region>/…
        path = f"/{parts.hostname.partition('.')[0]}{path}"  # type: ignore[union-attr]
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k not in IGNORED_QUERY)
    if isinstance(body, dict) and body.get("resourceids"):
        query.append(("resourceids", ",".join(sorted(i.lower() for i in body["resourceids"]))))
    return method.upper(), path.rstrip("/").lower(), tuple(query)


@dataclass
class Served:
    """One request the server answered (for tests to count and inspect)."""

    method: str
    path: str
    query: str
    status: int
    handmade: bool
    matched: bool
    body: bytes = b""
    """What the client sent (a PATCH's JSON)."""


@dataclass
class Playback:
    entries: list[dict[str, Any]]
    base_url: str = ""
    ca_file: str = ""
    _sequence: dict[Key, list[dict[str, Any]]] = field(default_factory=dict)
    _state: dict[Key, list[dict[str, Any]]] = field(default_factory=dict)
    _named: dict[str, dict[str, Any]] = field(default_factory=dict)
    _cursor: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    _injected: dict[Key, deque[dict[str, Any]]] = field(default_factory=lambda: defaultdict(deque))
    succeeded: set[str] = field(default_factory=set)
    log: list[Served] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: list[Held] = field(default_factory=list)

    def __post_init__(self) -> None:
        for entry in self.entries:
            key = key_of(entry["RequestMethod"], entry["RequestUri"], entry.get("RequestBody"))
            if entry.get("name"):
                self._named[entry["name"]] = entry
            if entry.get("inject"):
                continue
            table = self._state if entry.get("mode") == "state" else self._sequence
            table.setdefault(key, []).append(entry)

    # -- test controls -----------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the start of every recording (each test plays from the beginning)."""
        with self.lock:
            self._cursor.clear()
            self._injected.clear()
            self.succeeded.clear()
            self.log.clear()
            for gate in self.held:
                gate.release()
            self.held.clear()

    def hold(self, path_part: str) -> Held:
        """Make requests to paths containing `path_part` wait for `Held.release()`."""
        gate = Held(path_part)
        with self.lock:
            self.held.append(gate)
        return gate

    def inject(self, name: str, times: int = 1) -> None:
        """Serve the hand-made entry `name` to the next `times` requests of its key."""
        entry = self._named[name]
        key = key_of(entry["RequestMethod"], entry["RequestUri"], entry.get("RequestBody"))
        with self.lock:
            self._injected[key].extend([entry] * times)

    def requests(self, method: str = "", path_part: str = "") -> list[Served]:
        with self.lock:
            return [s for s in self.log if (not method or s.method == method)
                    and path_part.lower() in s.path.lower()]

    @property
    def unmatched(self) -> list[Served]:
        return [s for s in self.log if not s.matched]

    # -- serving -----------------------------------------------------------------------------

    def answer(self, method: str, url: str,
               sent: bytes = b"") -> tuple[int, dict[str, str], bytes, bool, bool]:
        try:
            body = json.loads(sent) if sent else None
        except ValueError:
            body = None
        key = key_of(method, url, body)
        with self.lock:
            entry = self._pick(key)
        if entry is None:
            body = json.dumps({"error": {"code": "NoRecording",
                                         "message": f"playback has no entry for {method} {url}"}})
            return 404, {"Content-Type": "application/json"}, body.encode(), False, False
        handmade = bool(entry.get("handmade"))
        headers = {}
        for name, value in (entry.get("ResponseHeaders") or {}).items():
            if name.lower() in ("content-length", "content-encoding", "transfer-encoding"):
                continue
            value = str(value).replace(RECORDED_HOST, self.base_url)
            if name.lower() == "retry-after" and not handmade:
                value = "0"
            headers[name] = value
        body = entry.get("ResponseBody")
        raw = b"" if body is None else json.dumps(body).replace(RECORDED_HOST,
                                                                 self.base_url).encode()
        if isinstance(body, dict) and body.get("status") == "Succeeded" and body.get("name"):
            with self.lock:
                self.succeeded.add(body["name"])
        return int(entry["StatusCode"]), headers, raw, handmade, True

    def _pick(self, key: Key) -> dict[str, Any] | None:
        if self._injected.get(key):
            return self._injected[key].popleft()
        if key in self._sequence:
            entries = self._sequence[key]
            index = min(self._cursor[key], len(entries) - 1)
            self._cursor[key] += 1
            return entries[index]
        ready = [e for e in self._state.get(key, ())
                 if not e.get("after") or any(op in self.succeeded for op in e["after"])]
        return ready[-1] if ready else None


def _handler(playback: Playback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            for gate in list(playback.held):
                gate.wait_if_held(parts.path)
            status, headers, body, handmade, matched = playback.answer(self.command, self.path, sent)
            with playback.lock:
                playback.log.append(Served(self.command, parts.path, parts.query, status,
                                           handmade, matched, sent))
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (OSError, ssl.SSLError):  # the client was killed while its request waited
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

    return Handler


def load_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for name in ("compute_vm.json", "handmade.json", "monitor_metrics.json"):
        entries += json.loads((RECORDINGS / name).read_text())["Entries"]
    return entries


@contextlib.contextmanager
def playback_server(workdir: Path,
                    entries: list[dict[str, Any]] | None = None) -> Iterator[Playback]:
    """Serve the recordings (or `entries`, e.g. a bench's larger listing first, then
    `load_entries()`) over HTTPS on 127.0.0.1 (a free port) with a fresh test CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = workdir / "playback-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    playback = Playback(load_entries() if entries is None else entries)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(playback))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    playback.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    playback.ca_file = str(ca_file)
    thread = threading.Thread(target=server.serve_forever, name="azure-playback", daemon=True)
    thread.start()
    try:
        yield playback
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class StaticToken:
    """The credential for playback: hands out a fixed bearer token (the server checks none).
    A credential is the caller's to choose (`AzureBackend(credential=…)`); this is not a stand-in
    for the SDK, which runs unchanged."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken("playback-token", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticToken:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class Held:
    """Requests whose path contains `path_part` wait until `release()` (a console that dies
    while its operation is being polled)."""

    def __init__(self, path_part: str) -> None:
        self.path_part = path_part.lower()
        self.arrived = threading.Event()
        self.released = threading.Event()

    def wait_if_held(self, path: str) -> None:
        if self.path_part in path.lower():
            self.arrived.set()
            self.released.wait(30)

    def release(self) -> None:
        self.released.set()


def source_fields(playback: Playback, **overrides: Any) -> dict[str, Any]:
    """The fields of an Azure source on this playback server, as the tests configure one
    (their own credential: `StaticToken`); `overrides` win."""
    return {"name": "azure-test", "subscriptions": [SUBSCRIPTION],
            "base_url": playback.base_url, "ca_bundle": playback.ca_file,
            "poll_interval_s": 0.05, "timeout_s": 20.0} | overrides


@pytest.fixture(scope="session")
def azure_arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playback]:
    """One playback server for the session's integration tests (each resets it)."""
    with playback_server(tmp_path_factory.mktemp("azure-playback")) as server:
        yield server


@pytest.fixture
def playback(azure_arm: Playback) -> Playback:
    """The session's playback server, its recordings played from their start again."""
    azure_arm.reset()
    return azure_arm
