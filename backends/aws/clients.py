"""boto3 sessions per profile and clients per (profile, region, service), made once and
shared by the worker threads; every HTTP request they send is counted.

boto3 sessions are not thread-safe, clients are: sessions and clients are created under one
lock, then used freely. botocore itself resolves credentials (environment, shared files, SSO,
instance role), endpoint overrides (`AWS_ENDPOINT_URL*`, the config file's `services`) and
retries (standard or adaptive mode, `max_attempts`).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader, create_loader

from .errors import translate
from .ids import DEFAULT_PROFILE
from .parsing import ParserFactory


@dataclass
class CallCount:
    """API operations and HTTP requests (retries included) sent so far, by `service.Operation`."""

    operations: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, event_name: str) -> None:
        _hook, _, name = event_name.partition(".")
        with self._lock:
            (self.operations if kind == "call" else self.requests)[name] += 1

    def total(self, prefix: str = "") -> int:
        with self._lock:
            return sum(n for k, n in self.operations.items() if k.startswith(prefix))


@dataclass(frozen=True, slots=True)
class ClientSettings:
    retry_mode: str = "standard"
    max_attempts: int = 3
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    endpoint_url: str | None = None
    pool_size: int = 8


class Clients:
    """The sessions and clients of one source."""

    def __init__(self, profiles: list[str], settings: ClientSettings) -> None:
        self.labels = list(profiles) or [DEFAULT_PROFILE]
        self._named = bool(profiles)
        self.settings = settings
        self.count = CallCount()
        self._lock = threading.Lock()
        self._sessions: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[str, str, str, bool], Any] = {}

    def config(self, *, single_attempt: bool = False) -> Config:
        s = self.settings
        return Config(
            retries={"mode": s.retry_mode, "total_max_attempts": 1 if single_attempt else s.max_attempts},
            connect_timeout=s.connect_timeout_s, read_timeout=s.read_timeout_s,
            max_pool_connections=s.pool_size, user_agent_extra="novacron-console")

    def session(self, profile: str) -> boto3.Session:
        """The session of a profile label (`default`: the default chain). Runs on a worker
        thread; an unknown profile raises a NovaError naming the files looked in."""
        with self._lock:
            if profile not in self._sessions:
                try:
                    core = botocore.session.get_session()
                    core.register_component("data_loader", shared_loader())
                    core.register_component("response_parser_factory", ParserFactory())
                    session = boto3.Session(botocore_session=core,
                                            profile_name=profile if self._named else None)
                    core.get_scoped_config()  # an unknown profile fails here, not later
                except Exception as exc:
                    raise translate(exc, operation="open session", profile=profile,
                                    files=config_files(), profiles_found=known_profiles()) from exc
                self._sessions[profile] = session
            return self._sessions[profile]

    def region_of(self, profile: str) -> str | None:
        """The profile's own region (`region =`, AWS_REGION, AWS_DEFAULT_REGION)."""
        return self.session(profile).region_name

    def client(self, service: str, profile: str, region: str, *, single_attempt: bool = False) -> Any:
        """A client (made once). `single_attempt`: botocore does not retry it, for calls that
        are not idempotent, whose retry the caller makes itself after checking."""
        key = (service, profile, region, single_attempt)
        session = self.session(profile)
        with self._lock:
            if key not in self._clients:
                client = session.client(service, region_name=region,
                                        endpoint_url=self.settings.endpoint_url,
                                        config=self.config(single_attempt=single_attempt))
                client.meta.events.register("before-call", self._count_call)
                client.meta.events.register("before-send", self._count_request)
                self._clients[key] = client
            return self._clients[key]

    def _count_call(self, event_name: str = "", **_: Any) -> None:
        self.count.add("call", event_name)

    def _count_request(self, event_name: str = "", **_: Any) -> None:
        self.count.add("request", event_name)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


_loader: Loader | None = None
_loader_lock = threading.Lock()


def shared_loader() -> Loader:
    """One botocore data loader for every session of the process: a service model (EC2's is
    megabytes of JSON, parsed in one call that holds the GIL and so stalls the event loop) is
    then parsed once, not once per profile and source."""
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = create_loader()
        else:  # each boto3 Session appends its own data directory again
            _loader.search_paths[:] = list(dict.fromkeys(_loader.search_paths))
        return _loader


def config_files() -> tuple[str, str]:
    """Where botocore looks for profiles (what an error should name)."""
    return (os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
            os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"))


def known_profiles() -> tuple[str, ...]:
    try:
        return tuple(sorted(boto3.Session().available_profiles))
    except Exception:
        return ()
