"""Bad input gets a clear error naming what to fix, and the rest of the fleet goes on: an
unknown profile, a region typo (in the console's config and in a profile), a call IAM denies
(moto's reset-auth), an expired SSO session. Each broken source sits beside a healthy one in
one `Fleet`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import pytest

from backends.aws.backend import AwsBackend
from console.actions.dispatcher import Dispatcher, Request, Target
from console.config import ConfigError, load_settings
from console.errors import Code
from console.fleet.polling import Fleet
from console.models import FleetSnapshot
from console.store import open_store

from .aws_fixture import AwsWorld, post

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

START_URL = "https://example.awsapps.com/start"


async def poll(*backends: AwsBackend) -> FleetSnapshot:
    fleet = Fleet("cloud", list(backends), timeout_s=60)
    try:
        return await fleet.poll_once()
    finally:
        await fleet.stop()


def health(snapshot: FleetSnapshot, name: str) -> tuple[bool, str]:
    found = next(h for h in snapshot.health if h.name == name)
    return found.ok, found.error


async def test_an_unknown_profile_names_the_files_and_the_close_one(aws_world: AwsWorld) -> None:
    ids = aws_world.run(3)
    snap = await poll(AwsBackend("good", profiles=["alpha"], regions=["eu-west-1"]),
                      AwsBackend("typo", profiles=["alhpa"], regions=["eu-west-1"]))
    ok, error = health(snap, "typo")
    assert not ok
    assert "NOVA-1001" in error and "'alhpa'" in error and "did you mean 'alpha'" in error
    assert str(aws_world.dir / "config") in error and str(aws_world.dir / "credentials") in error
    assert health(snap, "good") == (True, "")
    assert sorted(vm.id.rpartition(":")[2] for vm in snap.vms) == sorted(ids)


async def test_a_region_typo_in_a_profile_says_did_you_mean(aws_world: AwsWorld) -> None:
    aws_world.run(1)
    aws_world.creds["gamma"] = aws_world.creds["alpha"]
    aws_world.write_files()
    config = aws_world.dir / "config"
    config.write_text(config.read_text().replace(
        "[profile gamma]\nregion = eu-west-1", "[profile gamma]\nregion = eu-wset-1"))
    snap = await poll(AwsBackend("good", profiles=["alpha"]),
                      AwsBackend("typo", profiles=["gamma"]))  # each profile's own region
    ok, error = health(snap, "typo")
    assert not ok and "'eu-wset-1'" in error and "did you mean 'eu-west-1'" in error
    assert str(config) in error
    assert health(snap, "good") == (True, "") and len(snap.vms) == 1


def test_a_region_typo_in_the_console_config_names_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[contexts.cloud]\n\n[[contexts.cloud.backends]]\nkind = "aws"\n'
                    'name = "aws-prod"\nregions = ["eu-west-1", "us-est-1"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert f"{path}:6" in text and "'us-est-1'" in text and "did you mean 'us-east-1' or 'us-west-1'?" in text


async def test_a_denied_call_names_the_api_call_and_the_profile(
        aws_world: AwsWorld, tmp_path: Path) -> None:
    iam = aws_world.client("iam", "alpha", "us-east-1")
    for user, actions in (("admin", ["*"]), ("viewer", ["ec2:Describe*"]), ("nobody", [])):
        iam.create_user(UserName=user)
        if actions:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        aws_world.creds[user] = {"aws_access_key_id": key["AccessKeyId"],
                                 "aws_secret_access_key": key["SecretAccessKey"]}
    aws_world.write_files()
    (iid,) = aws_world.run(1)
    post(aws_world.url, "/moto-api/reset-auth", b"0")  # IAM permissions enforced from now on
    try:
        snap = await poll(AwsBackend("viewer", profiles=["viewer"], regions=["eu-west-1"]),
                          AwsBackend("nobody", profiles=["nobody"], regions=["eu-west-1"]))
        ok, error = health(snap, "nobody")
        assert not ok and "NOVA-2003" in error
        assert "'nobody'" in error and "DescribeInstances" in error and "AccessDenied" in error
        assert health(snap, "viewer") == (True, "") and len(snap.vms) == 1

        viewer = AwsBackend("viewer", profiles=["viewer"], regions=["eu-west-1"])
        async with open_store(tmp_path / "novacron.db") as store:
            dispatcher = Dispatcher({"viewer": viewer}, audit=store, context="c", read_only=False)
            outcome = await dispatcher.run(Request(
                "vm.shutdown", Target("viewer", f"viewer:eu-west-1:{iid}", iid),
                {"timeout_s": 10.0}, confirmed=True, origin="test"))
        assert outcome.error is not None and outcome.error.kind is Code.PERMISSION_DENIED
        assert "'viewer'" in str(outcome.error) and "StopInstances" in str(outcome.error)
        await viewer.close()
        admin = boto3.client("ec2", region_name="eu-west-1", endpoint_url=aws_world.url,
                             **aws_world.creds["admin"])
        state = admin.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        assert state["State"]["Name"] == "running"
    finally:
        post(aws_world.url, "/moto-api/reset-auth", b"inf")


async def test_an_expired_sso_session_says_exactly_what_to_run(
        aws_world: AwsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore reads the cached SSO token and finds it expired before any network call."""
    aws_world.run(1)
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    token = cache / f"{hashlib.sha1(START_URL.encode()).hexdigest()}.json"
    token.write_text(json.dumps({"startUrl": START_URL, "region": "eu-west-1",
                                 "accessToken": "expired", "expiresAt": "2020-01-01T00:00:00Z"}))
    aws_world.write_files(f"[profile ops]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\n"
                          "sso_account_id = 123456789012\nsso_role_name = Admin\n"
                          "region = eu-west-1\n")
    snap = await poll(AwsBackend("good", profiles=["alpha"], regions=["eu-west-1"]),
                      AwsBackend("sso", profiles=["ops"], regions=["eu-west-1"]))
    ok, error = health(snap, "sso")
    assert not ok and "run `aws sso login --profile ops`" in error and "NOVA-2003" in error
    assert health(snap, "good") == (True, "") and len(snap.vms) == 1


async def test_one_failing_profile_leaves_the_others_fresh_and_is_named(aws_world: AwsWorld) -> None:
    """One source, two profiles: the typo'd one fails its pairs, alpha's instances stay fresh
    and the source itself is not stale."""
    ids = aws_world.run(2) + aws_world.run(1, region="us-east-1")
    snap = await poll(AwsBackend("cloud", profiles=["alpha", "alhpa"],
                                 regions=["eu-west-1", "us-east-1"]))
    assert health(snap, "cloud") == (True, "")
    assert sorted(vm.id.rpartition(":")[2] for vm in snap.vms) == sorted(ids)
    assert not any(vm.stale for vm in snap.vms)
    broken = {h.name: h.error for h in snap.hosts if h.stale}
    assert set(broken) == {"alhpa:eu-west-1", "alhpa:us-east-1"}
    assert all("profile 'alhpa'" in e and "did you mean 'alpha'" in e for e in broken.values())
    assert any(h.name == "alpha:eu-west-1a" and not h.stale for h in snap.hosts)
