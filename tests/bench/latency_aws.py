"""The latency bench's EC2 row: the console over moto's server at the AWS bench's scale.

5,000 instances over 2 profiles (static keys, and STS AssumeRole credentials in a second
account) x 5 regions, seeded and reached exactly as `bench_aws` does (`NOVACRON_BENCH_QUICK=1`:
1,000). moto runs as its own process (`moto_server`), not `ThreadedMotoServer`: in this
process its XML rendering would hold our GIL and show up as the console's own stalls.
`bench_latency` picks this module up (`NOVACRON_BENCH_LATENCY=aws`); the SDK imports stay
inside `open` so the other cases do not pay for boto3.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bench.bench_latency import Case

INSTANCES = 1000 if os.environ.get("NOVACRON_BENCH_QUICK") else 5000


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _open(stack: contextlib.ExitStack) -> tuple[Callable[[], list[Any]], int]:
    from backends.aws.backend import AwsBackend
    from backends.aws.clients import ClientSettings
    from tests.bench import bench_aws

    proc, url = bench_aws._start_moto()  # Skip when moto_server is not installed
    stack.callback(_stop, proc)
    workdir = Path(tempfile.mkdtemp(prefix="nc-bench-latency-aws-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    env = stack.enter_context(pytest.MonkeyPatch.context())  # undone when the case ends
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_EC2"):
        env.delenv(name, raising=False)
    creds = bench_aws._credentials(url)
    bench_aws._write_files(workdir, creds)
    env.setenv("AWS_CONFIG_FILE", str(workdir / "config"))
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workdir / "credentials"))
    env.setenv("AWS_EC2_METADATA_DISABLED", "true")
    env.setenv("AWS_ENDPOINT_URL", url)  # every service (CloudWatch, quotas) stays on moto
    bench_aws._seed(url, creds, INSTANCES)

    def backends() -> list[Any]:
        # As bench_aws builds it: moto answers 500-instance pages slowly on a loaded machine.
        return [AwsBackend("aws", profiles=list(bench_aws.PROFILES),
                           regions=list(bench_aws.REGIONS),
                           settings=ClientSettings(endpoint_url=url, pool_size=10,
                                                   read_timeout_s=300),
                           max_concurrency=10, timeout_s=600)]

    return backends, INSTANCES


def cases() -> list[Case]:
    return [Case("aws", f"aws (moto_server), {INSTANCES:,} instances / 2 profiles x 5 regions",
                 _open, filter_text="eu-west", timeout_s=600)]
