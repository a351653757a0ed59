"""moto's server for the AWS backend's tests, reached over HTTP by real boto3 clients.

One `ThreadedMotoServer` per session on 127.0.0.1 (a free port). `aws_world` resets it and
writes a temporary AWS config and credentials file with two profiles in two accounts:
`alpha` (static keys, account 123456789012) and `beta` (STS AssumeRole credentials moto ties
to account 222222222222), points AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE /
AWS_ENDPOINT_URL at them and switches off the instance-metadata lookup (no traffic leaves
loopback). `FaultProxy` sits between boto3 and moto and answers RequestLimitExceeded or 503
for a share of requests, before forwarding (refused) or after (the answer lost).
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto.server import ThreadedMotoServer

ACCOUNTS = {"alpha": "123456789012", "beta": "222222222222"}
REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
AMI = "ami-03cf127a"
"""An image moto ships in every region (any id is accepted, this one exists)."""


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def post(url: str, path: str, body: bytes = b"") -> None:
    """A moto control call (text/plain: a form type would hide the body from moto)."""
    request = urllib.request.Request(url + path, data=body, method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


@dataclass
class AwsWorld:
    """The accounts of one test: credentials per profile, files, and direct clients (the
    test's own view of EC2, to seed and to check through the API)."""

    url: str
    dir: Path
    creds: dict[str, dict[str, str]] = field(default_factory=dict)

    def client(self, service: str, profile: str, region: str = "eu-west-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.url,
                            **{k: v for k, v in self.creds[profile].items()})

    def ec2(self, profile: str = "alpha", region: str = "eu-west-1") -> Any:
        return self.client("ec2", profile, region)

    def run(self, count: int, *, profile: str = "alpha", region: str = "eu-west-1",
            instance_type: str = "m5.large", tags: dict[str, str] | None = None,
            **extra: Any) -> list[str]:
        """Launch `count` instances in one reservation; their ids."""
        spec = [{"ResourceType": "instance",
                 "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
        answer = self.ec2(profile, region).run_instances(
            ImageId=AMI, MinCount=count, MaxCount=count, InstanceType=instance_type,
            **({"TagSpecifications": spec} if spec else {}), **extra)
        return [i["InstanceId"] for i in answer["Instances"]]

    def state(self, instance_id: str, profile: str = "alpha", region: str = "eu-west-1") -> str:
        answer = self.ec2(profile, region).describe_instances(InstanceIds=[instance_id])
        return str(answer["Reservations"][0]["Instances"][0]["State"]["Name"])

    def snapshots(self, tag: str, value: str, profile: str = "alpha",
                  region: str = "eu-west-1") -> list[dict[str, Any]]:
        return list(self.ec2(profile, region).describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": f"tag:{tag}", "Values": [value]}])["Snapshots"])

    def write_files(self, extra_config: str = "") -> None:
        config = "".join(f"[profile {p}]\nregion = eu-west-1\n\n" for p in self.creds)
        credentials = "".join(
            f"[{p}]\naws_access_key_id = {c['aws_access_key_id']}\n"
            f"aws_secret_access_key = {c['aws_secret_access_key']}\n"
            + (f"aws_session_token = {c['aws_session_token']}\n" if "aws_session_token" in c else "")
            + "\n" for p, c in self.creds.items())
        (self.dir / "config").write_text(config + extra_config)
        (self.dir / "credentials").write_text(credentials)


@pytest.fixture
def aws_world(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AwsWorld:
    post(moto_url, "/moto-api/reset")
    post(moto_url, "/moto-api/reset-auth", b"inf")  # permissions off (a test may turn them on)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_EC2"):
        monkeypatch.delenv(name, raising=False)
    world = AwsWorld(moto_url, tmp_path / "aws")
    world.dir.mkdir()
    world.creds["alpha"] = {"aws_access_key_id": "AKIAALPHA0000000TEST",
                            "aws_secret_access_key": "alpha-secret"}
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=moto_url,
                       aws_access_key_id="AKIAALPHA0000000TEST", aws_secret_access_key="x")
    got = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNTS['beta']}:role/novacron",
                          RoleSessionName="novacron-tests")["Credentials"]
    world.creds["beta"] = {"aws_access_key_id": got["AccessKeyId"],
                           "aws_secret_access_key": got["SecretAccessKey"],
                           "aws_session_token": got["SessionToken"]}
    world.write_files()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(world.dir / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(world.dir / "credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return world


# -- faults ----------------------------------------------------------------------------------

THROTTLED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
             b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
             b"</Error></Errors><RequestID>novacron-fault</RequestID></Response>")
UNAVAILABLE = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
               b"<Code>ServiceUnavailable</Code><Message>Service unavailable.</Message>"
               b"</Error></Errors><RequestID>novacron-fault</RequestID></Response>")


class FaultProxy:
    """A loopback HTTP proxy in front of moto. Every `every`-th request (counted over all
    requests) fails in turn as: throttled (400 RequestLimitExceeded, not forwarded), 503 (not
    forwarded), and 503 after forwarding (moto did it, the answer is lost). `always` throttles
    every request; `delay_s` adds a round trip's latency. `seen` counts requests by Action,
    `faults` what was injected."""

    def __init__(self, upstream: str, *, every: int = 3, always: bool = False,
                 delay_s: float = 0.0) -> None:
        self.upstream = urlsplit(upstream)
        self.every = every
        self.always = always
        self.delay_s = delay_s
        """Added before each answer: a round trip to a real AWS region (`every=0`: no faults)."""
        self.seen: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self._n = itertools.count(1)
        self._kinds = itertools.cycle(("throttled", "unavailable", "lost"))
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                proxy.handle(self)

            do_GET = do_POST

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0] or \
            request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        with self._lock:
            self.seen[action] += 1
            n = next(self._n)
            due = self.every > 0 and n % self.every == 0
            kind = "throttled" if self.always else (next(self._kinds) if due else "")
            if kind:
                self.faults[f"{kind}:{action}"] += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if kind == "throttled":
            return self._answer(request, 400, THROTTLED)
        if kind == "unavailable":
            return self._answer(request, 503, UNAVAILABLE)
        status, headers, payload = self._forward(request, body)
        if kind == "lost":
            return self._answer(request, 503, UNAVAILABLE)
        return self._answer(request, status, payload, headers)

    def _forward(self, request: BaseHTTPRequestHandler,
                 body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "connection"}
            conn.request(request.command, request.path, body=body, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            conn.close()

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, payload: bytes,
                headers: list[tuple[str, str]] | None = None) -> None:
        request.send_response(status)
        skip = {"content-length", "connection", "transfer-encoding", "date", "server"}
        for key, value in headers or [("Content-Type", "text/xml")]:
            if key.lower() not in skip:
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
