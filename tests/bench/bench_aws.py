"""Benchmark: the EC2 inventory of 5,000 instances (2 profiles x 5 regions), ours vs a naive
serial per-region listing, against moto's server in its own process over HTTP.

- ours: `AwsBackend.vms()`: every (profile, region) at once on the source's thread pool, pages
  of 1,000, instance type sizes looked up once per type (cached);
- baseline: what a first script does: for each profile, for each region, one after the other,
  a boto3 paginator over DescribeInstances, then DescribeInstanceTypes for that region's types.

Measured twice: straight to moto on loopback (CPU-bound: moto and boto3's XML parsing), and
through a loopback proxy adding 60 ms per request, about a round trip to a real AWS region,
where waiting dominates as it does in production. Both sides share botocore's parsed models
(the first poll of a process, which parses them, is reported on its own). API calls are
counted on the client side (botocore's before-call events). The loop stall is the worst gap
of a 10 ms timer on the event loop while ours runs (boto3 must never block it).
`NOVACRON_BENCH_QUICK=1`: 1,000 instances.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from backends.aws.backend import AwsBackend
from backends.aws.clients import ClientSettings, shared_loader
from tests.bench import Skip

try:
    from tests.integration.aws_fixture import AMI, FaultProxy
except ImportError:  # run from outside the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.integration.aws_fixture import AMI, FaultProxy

PROFILES = {"alpha": "AKIABENCHALPHA000001", "beta": None}
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-2")
LATENCY_S = 0.06


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    exe = Path(sys.executable).with_name("moto_server")
    if not exe.exists():
        raise Skip("moto_server is not installed (make setup installs the dev group)")
    port = _free_port()
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise Skip("moto_server did not start within 60 s")


def _credentials(url: str) -> dict[str, dict[str, str]]:
    creds = {"alpha": {"aws_access_key_id": "AKIABENCHALPHA000001", "aws_secret_access_key": "x"}}
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=url, **creds["alpha"])
    got = sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/bench",
                          RoleSessionName="novacron-bench")["Credentials"]
    creds["beta"] = {"aws_access_key_id": got["AccessKeyId"],
                     "aws_secret_access_key": got["SecretAccessKey"],
                     "aws_session_token": got["SessionToken"]}
    return creds


def _seed(url: str, creds: dict[str, dict[str, str]], total: int) -> None:
    per_pair = total // (len(creds) * len(REGIONS))
    for keys in creds.values():
        for region in REGIONS:
            ec2 = boto3.client("ec2", region_name=region, endpoint_url=url, **keys)
            for n, itype in enumerate(("m5.large", "t3.micro", "c5.xlarge")):
                count = per_pair // 3 + (per_pair % 3 if n == 0 else 0)
                ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, InstanceType=itype)


def _write_files(directory: Path, creds: dict[str, dict[str, str]]) -> None:
    (directory / "config").write_text("".join(f"[profile {p}]\nregion = eu-west-1\n\n" for p in creds))
    (directory / "credentials").write_text("".join(
        f"[{p}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()) + "\n"
        for p, keys in creds.items()))


async def _ours(url: str) -> tuple[float, int, int, float]:
    backend = AwsBackend("aws", profiles=list(PROFILES), regions=list(REGIONS),
                         settings=ClientSettings(endpoint_url=url, pool_size=10, read_timeout_s=300),
                         max_concurrency=10, timeout_s=600)  # moto answers 500 instances slowly
    stop = asyncio.Event()
    worst = 0.0

    async def watch() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            worst = max(worst, now - last - 0.01)
            last = now

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    vms = await backend.vms()
    elapsed = time.perf_counter() - started
    stop.set()
    await watcher
    calls = backend.calls
    await backend.close()
    return elapsed, len(vms), calls, worst


def _naive(url: str) -> tuple[float, int, int]:
    calls: Counter[str] = Counter()

    def count(event_name: str = "", **_: Any) -> None:
        calls[event_name] += 1

    sessions = {}
    for profile in PROFILES:  # models already parsed (shared loader), as for ours: fair
        core = botocore.session.get_session()
        core.register_component("data_loader", shared_loader())
        sessions[profile] = boto3.Session(botocore_session=core, profile_name=profile)
    started = time.perf_counter()
    listed = 0
    for profile in PROFILES:
        session = sessions[profile]
        for region in REGIONS:
            ec2 = session.client("ec2", region_name=region, endpoint_url=url,
                                 config=Config(read_timeout=300))
            ec2.meta.events.register("before-call", count)
            types: set[str] = set()
            for page in ec2.get_paginator("describe_instances").paginate():
                for reservation in page["Reservations"]:
                    for instance in reservation["Instances"]:
                        listed += 1
                        types.add(instance["InstanceType"])
            ec2.describe_instance_types(InstanceTypes=sorted(types))
    return time.perf_counter() - started, listed, sum(calls.values())


def run() -> list[tuple[str, str, str, str]]:
    total = 1000 if os.environ.get("NOVACRON_BENCH_QUICK") else 5000
    proc, url = _start_moto()
    workdir = Path(tempfile.mkdtemp(prefix="novacron-bench-aws-"))
    saved = {k: os.environ.get(k) for k in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                                             "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL")}
    try:
        creds = _credentials(url)
        _write_files(workdir, creds)
        os.environ.update(AWS_CONFIG_FILE=str(workdir / "config"),
                          AWS_SHARED_CREDENTIALS_FILE=str(workdir / "credentials"),
                          AWS_EC2_METADATA_DISABLED="true")
        os.environ.pop("AWS_ENDPOINT_URL", None)
        seeded = time.perf_counter()
        _seed(url, creds, total)
        seed_s = time.perf_counter() - seeded
        rows: list[tuple[str, str, str, str]] = []
        cold_s, _n, _calls, cold_stall = asyncio.run(_ours(url))
        rows.append(("first poll of a process (botocore parses its EC2 model)", f"{cold_s:.2f} s",
                     "", f"loop stall {cold_stall * 1000:.0f} ms, once"))
        for label, delay in (("loopback", 0.0), (f"+{LATENCY_S * 1000:.0f} ms per request", LATENCY_S)):
            with FaultProxy(url, every=0, delay_s=delay) as proxy:
                ours_s, ours_n, ours_calls, stall = asyncio.run(_ours(proxy.url))
                base_s, base_n, base_calls = _naive(proxy.url)
            assert ours_n == base_n == total, (ours_n, base_n, total)
            verdict = "ok" if ours_s < base_s else "SLOW"
            rows.append((f"{total:,} instances, 2 profiles x 5 regions, {label}",
                         f"{ours_s:.2f} s", f"{base_s:.2f} s serial", verdict))
            rows.append(("  API calls", str(ours_calls), str(base_calls), ""))
            rows.append(("  worst event-loop stall while listing", f"{stall * 1000:.0f} ms", "",
                         "ok" if stall < 0.25 else "SLOW"))
        rows.append(("  (seeding the instances, not measured above)", f"{seed_s:.1f} s", "", ""))
        return rows
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
