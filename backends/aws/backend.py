"""AWS EC2 as a NovaCron backend: instances of some profiles x regions, listed in parallel.

boto3 blocks, so every call runs on this source's own bounded thread pool under a timeout
(`_api`): a slow region ties up its own threads, never the event loop. One inventory sweep
lists every (profile, region) pair at once, page by page (DescribeInstances), and looks up the
sizes of instance types it has not seen yet (DescribeInstanceTypes, cached: a type's size never
changes). `hosts()` and `vms()` share the sweep the fleet asks for with both.

A pair that fails (unknown profile, expired SSO session, missing permission) leaves the other
pairs fresh: its last instances are shown stale and its zones carry the error naming the pair
and what to run (`sweep.assemble`). Only when every pair fails does the sweep fail, and the
fleet marks the whole source stale with that message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from console.errors import Code, NovaError
from console.models import VM, Host

from .actions import PowerMixin
from .alarms import AlarmsMixin
from .capacity import CapacityMixin
from .clients import Clients, ClientSettings, config_files
from .create import CreateMixin
from .errors import translate
from .ids import InstanceRef, parse_ref
from .inventory import (
    Fading,
    TypeSize,
    counts_for_quota,
    type_size,
    vcpus_of,
    vm_from_instance,
)
from .metrics import MetricsMixin
from .regions import region_problem
from .resize import ResizeMixin
from .snapshots import SnapshotsMixin
from .sweep import RegionListing, Sweep, assemble

T = TypeVar("T")

PAGE_SIZE = 1000
"""DescribeInstances' largest page."""
TYPES_PER_CALL = 100
"""DescribeInstanceTypes takes at most 100 names."""
SWEEP_REUSE_S = 1.0
"""`hosts()` right after `vms()` (or the reverse) reuses the sweep that just ended."""
REGIONS_TTL_S = 3600.0


class AwsBackend(PowerMixin, SnapshotsMixin, MetricsMixin, AlarmsMixin, CapacityMixin,
                 CreateMixin, ResizeMixin):
    """One `aws` source: its profiles (accounts) x regions."""

    kind = "aws"

    def __init__(self, name: str = "aws", *, profiles: Sequence[str] = (),
                 regions: Sequence[str] | str = (), settings: ClientSettings | None = None,
                 timeout_s: float = 30.0, read_only: bool = False, max_concurrency: int = 8,
                 page_size: int = PAGE_SIZE, clock: Callable[[], float] = time.time,
                 metrics_interval_s: float = 300.0) -> None:
        self.name = name
        self.read_only = read_only
        self.timeout_s = timeout_s
        self.page_size = page_size
        self.clock = clock
        self.regions = regions if isinstance(regions, str) else list(regions)
        settings = settings or ClientSettings(pool_size=max_concurrency)
        self.clients = Clients(list(profiles), settings)
        self.several_profiles = len(self.clients.labels) > 1
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency,
                                            thread_name_prefix=f"aws-{name}")
        self._slots = asyncio.Semaphore(max_concurrency)
        self._sizes: dict[str, TypeSize] = {}
        self._fading = Fading()
        self._known: dict[str, InstanceRef] = {}
        self._enabled: dict[str, tuple[float, list[str]]] = {}
        self._zones: dict[tuple[str, str], tuple[float, list[str]]] = {}
        self._places: dict[str, tuple[str, str, str]] = {}
        self._listings: dict[tuple[str, str], tuple[RegionListing, float]] = {}
        """The last good listing of each (profile, region), and when: shown stale while
        that pair fails."""
        """Host name → (profile, region, zone): where a new VM placed on that host goes."""
        self._families: dict[tuple[str, str, str], dict[str, TypeSize]] = {}
        self._sweep_task: asyncio.Task[Sweep] | None = None
        self._last: Sweep | None = None
        self._handed_out: float | None = None
        """When the last sweep was first handed to a caller (None: not yet)."""
        self._init_metrics(metrics_interval_s)
        self._init_alarms()
        self._init_capacity()

    @classmethod
    def from_source(cls, source: Any, *, read_only: bool) -> AwsBackend:
        """Build from a `backends.aws.source.AwsSource`."""
        settings = ClientSettings(
            retry_mode=source.retry_mode, max_attempts=source.max_attempts,
            connect_timeout_s=source.connect_timeout_s, read_timeout_s=source.read_timeout_s,
            endpoint_url=source.endpoint_url, pool_size=source.max_concurrency)
        return cls(source.name, profiles=source.profiles, regions=source.regions,
                   settings=settings, timeout_s=source.timeout_s, read_only=read_only,
                   max_concurrency=source.max_concurrency,
                   metrics_interval_s=source.metrics_interval_s)

    # -- plumbing ---------------------------------------------------------------------------

    async def _api(self, service: str, profile: str, region: str, method: str, *,
                   single_attempt: bool = False, timeout_s: float | None = None,
                   **kwargs: Any) -> Any:
        """One AWS API call on this source's threads, under a timeout, errors as NovaError."""
        call = functools.partial(self._blocking, service, profile, region, method,
                                 single_attempt, kwargs)
        limit = timeout_s or self.timeout_s
        try:
            return await self.in_thread(call, timeout_s=limit)
        except TimeoutError as exc:
            raise NovaError(Code.TIMEOUT, f"{method} for profile {profile!r}, {region}",
                            f"no answer within {limit:g} s") from exc

    async def in_thread(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = None) -> T:
        """Run `fn(*args)` on this source's threads. A free thread is waited for first, so
        the timeout counts the call, not its place in the queue (38 regions, 8 threads)."""
        async with self._slots:
            future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
            if timeout_s is None:
                return await future
            return await asyncio.wait_for(future, timeout_s)

    def _blocking(self, service: str, profile: str, region: str, method: str,
                  single_attempt: bool, kwargs: dict[str, Any]) -> Any:
        operation = method
        try:
            client = self.clients.client(service, profile, region, single_attempt=single_attempt)
            operation = client.meta.method_to_api_mapping.get(method, method)
            return getattr(client, method)(**kwargs)
        except Exception as exc:
            raise translate(exc, operation=operation, profile=profile, region=region) from exc

    def ref(self, vm_id: str) -> InstanceRef:
        """Where an action on `vm_id` goes (NovaError VM_NOT_FOUND when it says nowhere)."""
        return parse_ref(vm_id, self._known)

    async def pages(self, service: str, profile: str, region: str, method: str,
                    **kwargs: Any) -> list[dict[str, Any]]:
        """Every page of a NextToken-paginated call, one call (and timeout) per page."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {**kwargs, **({"NextToken": token} if token else {})}
            page = await self._api(service, profile, region, method, **args)
            found.append(page)
            token = page.get("NextToken")
            if not token:
                return found

    # -- regions ----------------------------------------------------------------------------

    async def regions_of(self, profile: str) -> list[str]:
        """The regions listed for a profile: the configured ones, every enabled one ("all",
        DescribeRegions, cached an hour), or the profile's own region."""
        if isinstance(self.regions, list) and self.regions:
            return self.regions
        if self.regions == "all":
            cached = self._enabled.get(profile)
            if cached and self.clock() - cached[0] < REGIONS_TTL_S:
                return cached[1]
            answer = await self._api("ec2", profile, await self._home_region(profile) or "us-east-1",
                                     "describe_regions")
            names = sorted(r["RegionName"] for r in answer.get("Regions", ()))
            self._enabled[profile] = (self.clock(), names)
            return names
        home = await self._home_region(profile)
        if not home:
            raise NovaError(Code.CONFIG_INVALID, f"no region for profile {profile!r}: list `regions` "
                            "in the source, or set `region =` in the profile (or AWS_REGION)")
        if problem := region_problem(home):
            raise NovaError(Code.CONFIG_INVALID, f"profile {profile!r}: {problem}", "the region "
                            "comes from the profile's `region =` (or AWS_REGION / "
                            f"AWS_DEFAULT_REGION) in {' or '.join(config_files())}")
        return [home]

    async def _home_region(self, profile: str) -> str | None:
        return await self.in_thread(self.clients.region_of, profile, timeout_s=self.timeout_s)

    # -- inventory --------------------------------------------------------------------------

    async def hosts(self) -> Sequence[Host]:
        return (await self._shared_sweep()).hosts

    async def vms(self) -> Sequence[VM]:
        return (await self._shared_sweep()).vms

    async def _shared_sweep(self) -> Sweep:
        """The sweep in flight, or one that just ended. A sweep outlives a caller that gave up
        (the fleet's poll timeout): its result goes to the next caller however old, so a
        fleet larger than one poll's timeout still gets listed, a little late, not never."""
        last = self._last
        now = self.clock()
        if last is not None and (self._handed_out is None or now - self._handed_out < SWEEP_REUSE_S):
            if self._handed_out is None:
                self._handed_out = now
            return last
        if self._sweep_task is None or self._sweep_task.done():
            self._sweep_task = asyncio.create_task(self._sweep(), name=f"aws-sweep:{self.name}")
        sweep = await asyncio.shield(self._sweep_task)
        self._handed_out = self.clock()
        return sweep

    async def _sweep(self) -> Sweep:
        pairs: list[tuple[str, str]] = []
        unknown: dict[tuple[str, str], Exception] = {}
        for profile in self.clients.labels:
            try:
                pairs += [(profile, region) for region in await self.regions_of(profile)]
            except NovaError as exc:  # its regions are unknown: one failed pair says why
                unknown[(profile, "its region")] = exc
        listed = await asyncio.gather(*(self._list_region(p, r) for p, r in pairs),
                                      return_exceptions=True)
        found = [*listed, *unknown.values()]
        pairs += list(unknown)
        now = self.clock()
        fresh: dict[tuple[str, str], RegionListing] = {}
        failed: dict[tuple[str, str], str] = {}
        errors: list[Exception] = []
        for pair, got in zip(pairs, found, strict=True):
            if isinstance(got, RegionListing):
                fresh[pair] = got
                self._listings[pair] = (got, now)
            elif isinstance(got, Exception):
                errors.append(got)
                failed[pair] = f"profile {pair[0]!r}, {pair[1]} not listed: {got}"
            else:
                raise got  # cancelled
        if errors and not fresh:
            first = errors[0]
            if len(errors) > 1 and isinstance(first, NovaError):
                first.detail += f" (and {len(errors) - 1} more profile/region pairs failed)"
            raise first
        sweep = assemble(self.name, pairs, fresh, self._listings, failed,
                         several_profiles=self.several_profiles, now=now)
        self._known = {parse_ref(vm.id).instance_id: parse_ref(vm.id) for vm in sweep.vms}
        self._places = sweep.places
        self._fading.forget_except(sweep.listed)
        self._last, self._handed_out = sweep, None
        return sweep

    async def _list_region(self, profile: str, region: str) -> RegionListing:
        """Every instance of one profile in one region, page by page."""
        pages = await self.pages("ec2", profile, region, "describe_instances",
                                 MaxResults=self.page_size)
        instances = [i for page in pages for r in page.get("Reservations", ())
                     for i in r.get("Instances", ())]
        await self._learn_sizes(profile, region, {i.get("InstanceType", "") for i in instances})
        zones = await self._zones_of(profile, region)
        # shaping thousands of records: off the loop too
        return await self.in_thread(self._shape, profile, region, instances, self.clock(), zones)

    async def _zones_of(self, profile: str, region: str) -> list[str]:
        """The region's available zones (DescribeAvailabilityZones, cached an hour); empty
        when it does not answer (the zones with instances are still listed)."""
        cached = self._zones.get((profile, region))
        if cached and self.clock() - cached[0] < REGIONS_TTL_S:
            return cached[1]
        try:
            answer = await self._api("ec2", profile, region, "describe_availability_zones",
                                     Filters=[{"Name": "state", "Values": ["available"]}])
        except NovaError:
            return []
        zones = sorted(str(z["ZoneName"]) for z in answer.get("AvailabilityZones", ())
                       if z.get("ZoneType", "availability-zone") == "availability-zone")
        self._zones[(profile, region)] = (self.clock(), zones)
        return zones

    def place_of(self, host: str, template: Mapping[str, Any]) -> tuple[str, str, str]:
        """(profile, region, zone) a new VM goes to: the template's profile and region when it
        names them, else the chosen host's (a zone of the last inventory)."""
        profile, region, zone = self._places.get(host, ("", "", ""))
        if template.get("profile"):
            if template["profile"] not in self.clients.labels:
                raise NovaError(Code.CONFIG_INVALID, f"the template's profile {template['profile']!r}",
                                f"this source lists {', '.join(self.clients.labels)}; use one "
                                "of those or add it to the source's profiles")
            zone = zone if template["profile"] == profile else ""
            profile = template["profile"]
        if template.get("region"):
            zone = zone if template["region"] == region else ""
            region = template["region"]
        profile = profile or (self.clients.labels[0] if len(self.clients.labels) == 1 else "")
        if not profile or not region:
            raise NovaError(Code.CONFIG_INVALID, f"where to launch on {host or 'no host'}",
                            "set `region` (and `profile`) in the template, or choose a zone "
                            "of this source as the host")
        return profile, region, zone

    async def family_sizes(self, profile: str, region: str, family: str) -> dict[str, TypeSize]:
        """Every instance type of a family offered in the region, with its size (cached: a
        type's size never changes)."""
        key = (profile, region, family)
        if key not in self._families:
            pages = await self.pages("ec2", profile, region, "describe_instance_types",
                                     Filters=[{"Name": "instance-type", "Values": [f"{family}.*"]}],
                                     MaxResults=100)
            found = {r["InstanceType"]: type_size(r) for page in pages
                     for r in page.get("InstanceTypes", ())}
            self._sizes.update(found)
            self._families[key] = found
        return self._families[key]

    def _shape(self, profile: str, region: str, instances: list[dict[str, Any]],
               now: float, zones: list[str]) -> RegionListing:
        shown = [i for i in instances if self._fading.keep(i, now)]
        self.monitoring.update({i["InstanceId"]: i.get("Monitoring", {}).get("State", "disabled")
                                for i in shown})
        vms = [vm_from_instance(i, ref=InstanceRef(profile, region, i["InstanceId"]),
                                backend=self.name, sizes=self._sizes,
                                several_profiles=self.several_profiles) for i in shown]
        running = sum(vcpus_of(i, self._sizes) for i in shown if counts_for_quota(i))
        return RegionListing(vms, running, {i["InstanceId"] for i in instances}, zones)

    async def _learn_sizes(self, profile: str, region: str, types: set[str]) -> None:
        missing = sorted(t for t in types if t and t not in self._sizes)
        for start in range(0, len(missing), TYPES_PER_CALL):
            batch = missing[start:start + TYPES_PER_CALL]
            try:
                answer = await self._api("ec2", profile, region, "describe_instance_types",
                                         InstanceTypes=batch)
            except NovaError:
                continue  # sizes stay unknown (0): the inventory itself still lists
            for record in answer.get("InstanceTypes", ()):
                self._sizes[record["InstanceType"]] = type_size(record)

    async def vcpus_now(self, ref: InstanceRef) -> int:
        """One instance's vCPUs, described now (for a source that has no inventory yet)."""
        instance = await self.describe(ref)
        await self._learn_sizes(ref.profile, ref.region, {instance.get("InstanceType", "")})
        self.monitoring[ref.instance_id] = instance.get("Monitoring", {}).get("State", "disabled")
        return vcpus_of(instance, self._sizes)

    @property
    def calls(self) -> int:
        """AWS API operations this source has made so far (every service)."""
        return self.clients.count.total()

    async def close(self) -> None:
        task = self._sweep_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.clients.close()
