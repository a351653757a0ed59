"""The `aws` kind: its config entry and how it opens. Light: boto3 is imported only when a
context opens an AWS source (`open_source`).

Configured the way AWS users configure their own tools: named profiles from the shared config
and credentials files (none: the default chain: environment, files, SSO, instance role), the
regions to list (or "all" enabled ones), botocore's retry modes and timeouts. Endpoint
overrides need nothing here: `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_EC2` and the config file's
`services` section are honoured by botocore itself; `endpoint_url` is for a config that wants
it written down.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from backends.base import Backend, BackendKind, SourceConfig

from .regions import region_problem


class AwsSource(SourceConfig):
    """EC2 instances of some AWS profiles x regions, with CloudWatch metrics."""

    kind: Literal["aws"] = "aws"
    name: str = Field("aws", min_length=1, description="Name shown for this source.")
    profiles: list[str] = Field(default_factory=list, description=(
        "Named profiles of ~/.aws/config (AWS_CONFIG_FILE); empty: the default credential "
        "chain (AWS_PROFILE, environment, SSO, instance role)."))
    regions: list[str] | Literal["all"] = Field(default_factory=list, description=(
        'Regions to list, or "all" for every region enabled in the account (DescribeRegions); '
        "empty: each profile's own region (AWS_REGION, `region =` in the profile)."))
    retry_mode: Literal["standard", "adaptive"] = Field("standard", description=(
        "botocore retry mode; adaptive also slows the client down when AWS throttles."))
    timeout_s: float = Field(30.0, gt=0, description="Per-call timeout, retries included.")
    max_attempts: int = Field(3, ge=1, le=20, description="Attempts per call, retries included.")
    connect_timeout_s: float = Field(5.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(20.0, gt=0, description="Wait for a response this long.")
    endpoint_url: str | None = Field(None, description=(
        "One endpoint for every AWS service (a local emulator); usually unset."))
    max_concurrency: int = Field(8, ge=1, le=64, description=(
        "Threads calling AWS at once (profiles x regions are listed in parallel)."))
    metrics: bool = Field(True, description="Serve CloudWatch charts for the instances.")
    metrics_interval_s: float = Field(300.0, ge=60, description=(
        "Ask CloudWatch for the fleet's CPU (sparklines) at most this often; GetMetricData is "
        "billed per metric, and basic monitoring has one point per 5 minutes anyway."))

    @field_validator("profiles")
    @classmethod
    def _profiles(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("profiles: empty profile name; list names as in ~/.aws/config, "
                             "e.g. profiles = [\"prod\", \"staging\"]")
        if len(set(value)) != len(value):
            raise ValueError("profiles: a profile is listed twice")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, str):
            return value
        problems = [p for name in value if (p := region_problem(name))]
        if problems:
            raise ValueError("; ".join(problems))
        if len(set(value)) != len(value):
            raise ValueError("regions: a region is listed twice")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"endpoint_url {value!r} is not an http(s) URL; e.g. "
                                 "http://127.0.0.1:5000, or leave it out to use AWS itself")
        return value

    @property
    def serves_metrics(self) -> bool:
        return self.metrics


_SHAPES = {
    "ami": (re.compile(r"^ami-[0-9a-f]{8,17}$"), "an AMI id such as ami-0abcdef1234567890 "
            "(`aws ec2 describe-images --owners self amazon`)"),
    "instance_type": (re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$"), "an instance type such as "
                      "m5.large"),
    "subnet": (re.compile(r"^subnet-[0-9a-f]{8,17}$"), "a subnet id such as "
               "subnet-0123456789abcdef0 (or leave it out: the default VPC)"),
}


class Ec2Template(BaseModel):
    """The EC2 fields of a template: what RunInstances is given. The size is the instance
    type's; a request for more vCPUs or memory than it has gets the smallest type of the same
    family that fits (said in the create's steps). Tags: the template's common `tags`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ami: str = Field(description="The image (AMI id).")
    instance_type: str = Field(description="The instance type, e.g. m5.large.")
    subnet: str = Field("", description=(
        "Subnet to launch in (it fixes the zone); empty: the default VPC, in the zone the "
        "scheduler chose."))
    security_groups: list[str] = Field(default_factory=list, description=(
        "Security group ids (sg-…); empty: the VPC's default group."))
    key_name: str = Field("", description="EC2 key pair for SSH (empty: none).")
    profile: str = Field("", description="Launch with this profile (empty: the chosen zone's).")
    region: str = Field("", description="Launch in this region (empty: the chosen zone's).")

    @field_validator("ami", "instance_type", "subnet")
    @classmethod
    def _ids(cls, value: str, info: ValidationInfo) -> str:
        shape, example = _SHAPES[info.field_name or ""]
        if (value and not shape.match(value)) or (not value and info.field_name != "subnet"):
            raise ValueError(f"{info.field_name}: {value!r} is not {example}")
        return value

    @field_validator("security_groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        bad = [g for g in value if not g.startswith("sg-")]
        if bad:
            raise ValueError(f"security_groups: {', '.join(bad)} is not a group id; list ids "
                             "such as sg-0123456789abcdef0")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value and (problem := region_problem(value)):
            raise ValueError(problem)
        return value


def open_source(config: AwsSource, *, read_only: bool) -> Backend:
    from .backend import AwsBackend  # boto3 loads here, when a context uses AWS

    return AwsBackend.from_source(config, read_only=read_only)


KIND = BackendKind(
    name="aws", config=AwsSource, open=open_source,
    description="AWS EC2 through boto3: instances of some profiles x regions, lifecycle, EBS "
                "snapshots, CloudWatch metrics.",
    example={"kind": "aws", "name": "aws-prod", "profiles": ["prod"],
             "regions": ["eu-west-1", "us-east-1"]},
    template=Ec2Template,
)
