"""Making an Azure VM from a template (`SupportsCreate`): the saga half of `AzureBackend`.

Steps, each reported to the console (`backends.base.report_step`, which the audit records):
look for the request id and check the name is free (one listing of the resource group) → make
the network interface in the template's subnet (when it names a subnet; undo: delete it) →
PUT the VM (`begin_create_or_update`), followed to its end as a long-running operation through
the same machinery as every Azure action (its continuation token in the audit row, progress on
the board) → the VM as the resource group lists it.

Idempotency: the request id is a tag of the VM and of its interface (`novacron-request-id`),
written by the PUT itself, so a VM carries it or does not exist; a repeated request finds the
VM by that tag and returns it without a second PUT. The PUT also says `If-None-Match: *`, so a
VM of the same name made meanwhile is never overwritten. A failure after Azure accepted the
VM deletes what it left (the VM in its Failed state) before the interface is deleted.

Where and how big: the template's location (and zone) decide where the VM goes; the host the
scheduler chose is not used (a cloud region has no capacity to rank). The template's `size`
wins over the request's vCPUs and memory; without one, the location's smallest size that has
them is taken (`resize.smallest_fit`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core import MatchConditions

from backends.base import NewVM, Saga, report_step
from console.errors import Code, NovaError
from console.models import VM

from . import arm
from .errors import translate
from .inventory import MIB, SizeSpec, vm_from_arm
from .lro import Operation
from .resize import describe, smallest_fit
from .template import AzureTemplate

REQUEST_TAG = "novacron-request-id"
"""The ARM tag holding the request id that made a VM (and its network interface)."""
LIST_API_VERSION = "2024-07-01"
GIB = 1024**3


def arm_tags(tags: Sequence[str], request_id: str) -> dict[str, str]:
    """`key=value` tags as ARM tags (a bare word gets an empty value), plus the request id."""
    result: dict[str, str] = {}
    for tag in tags:
        key, _, value = tag.partition("=")
        if key.strip() and ":" not in key:  # `azure:power=…` is ours to show, not to write
            result[key.strip()] = value.strip()
    if request_id:
        result[REQUEST_TAG] = request_id
    return result


def nic_body(template: AzureTemplate, tags: Mapping[str, str]) -> dict[str, Any]:
    return {"location": template.location, "tags": dict(tags),
            "properties": {"ipConfigurations": [{
                "name": "ipconfig1",
                "properties": {"subnet": {"id": template.subnet_id}}}]}}


def vm_body(spec: NewVM, template: AzureTemplate, *, size: str, nic_id: str, made_nic: bool,
            ssh_key: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """The VM's ARM document: a Linux VM that signs in with the SSH key only, its OS disk and
    (when this request made it) its network interface deleted with it."""
    user = template.admin_user
    os_disk: dict[str, Any] = {"createOption": "FromImage", "deleteOption": "Delete"}
    if template.os_disk_type:
        os_disk["managedDisk"] = {"storageAccountType": template.os_disk_type}
    if spec.disk_bytes:
        os_disk["diskSizeGB"] = -(-spec.disk_bytes // GIB)  # whole GiB, rounded up
    body: dict[str, Any] = {
        "location": template.location,
        "tags": dict(tags),
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {"imageReference": template.image_ref.as_arm(),
                               "osDisk": os_disk},
            "osProfile": {
                "computerName": spec.name[:64],
                "adminUsername": user,
                "linuxConfiguration": {
                    "disablePasswordAuthentication": True,
                    "ssh": {"publicKeys": [{"path": f"/home/{user}/.ssh/authorized_keys",
                                            "keyData": ssh_key}]}}},
            "networkProfile": {"networkInterfaces": [{
                "id": nic_id,
                "properties": {"primary": True,
                               "deleteOption": "Delete" if made_nic else "Detach"}}]},
        },
    }
    if template.zone:
        body["zones"] = [template.zone]
    return body


def read_ssh_key(path: str) -> str:
    """The public key's one line; NovaError saying how to make one when it is missing."""
    file = Path(path).expanduser()
    try:
        key = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NovaError(Code.CONFIG_INVALID, f"ssh_public_key {path}",
                        f"cannot read it ({exc.strerror}): make a key pair with `ssh-keygen -t "
                        "rsa -b 4096` or point ssh_public_key at an existing .pub file") from None
    if not key.startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")) or "PRIVATE" in key:
        raise NovaError(Code.CONFIG_INVALID, f"ssh_public_key {path}",
                        "is not an OpenSSH public key (ssh-rsa …, ssh-ed25519 …): give the .pub "
                        "file, never the private key")
    return key.splitlines()[0]


def vm_resource_id(template: AzureTemplate, name: str) -> str:
    return (f"/subscriptions/{template.subscription}/resourceGroups/{template.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{name}")


def nic_resource_id(template: AzureTemplate, name: str) -> str:
    return (f"/subscriptions/{template.subscription}/resourceGroups/{template.resource_group}"
            f"/providers/Microsoft.Network/networkInterfaces/{name}")


@dataclass
class PutState:
    """What became of the VM PUT: the token once Azure accepted it, and whether the failed VM
    was deleted again (then its interface may go)."""

    accepted: list[str] = field(default_factory=list)
    removed: bool = False


class CreateMixin:
    """`create_vm`; the host class provides the clients, sizes and `_run` (actions.py)."""

    name: str
    read_only: bool
    operation_timeout_s: float
    retries: int
    config: Any
    compute: Callable[[str], Awaitable[Any]]
    region_sizes: Callable[..., Awaitable[dict[str, SizeSpec]]]
    _run: Callable[..., Awaitable[Operation]]

    async def create_vm(self, spec: NewVM) -> VM:
        """Make the VM and return it as its resource group lists it; idempotent on the
        request id (see the module docstring)."""
        if self.read_only:
            raise NovaError(Code.READ_ONLY, f"create {spec.name} on {self.name}",
                            "this Azure source was opened read-only")
        try:
            template = AzureTemplate.model_validate(dict(spec.template))
        except ValueError as exc:
            raise NovaError(Code.CONFIG_INVALID, f"template for {spec.name}", str(exc)) from None
        where = f"{spec.name} in {template.resource_group}"
        try:
            client = await self.compute(template.subscription)
            listed = await self._group_vms(client, template)
        except Exception as exc:
            raise translate(exc, f"create {where}", retries=self.retries) from exc
        if spec.request_id:
            for doc in listed:
                if (doc.get("tags") or {}).get(REQUEST_TAG) == spec.request_id:
                    await report_step("request", "ok",
                                      f"{spec.request_id}: already made as {doc.get('name')}")
                    return await self._as_vm(doc, template)
        key = await asyncio.to_thread(read_ssh_key, template.ssh_public_key)
        tags = arm_tags(spec.tags, spec.request_id)
        vm_id = vm_resource_id(template, spec.name)
        put = PutState()
        async with Saga() as saga:
            await saga.step("name", where, lambda: self._name_free(listed, spec.name, where))
            size = await saga.step("size", f"{spec.vcpus} vCPU, {spec.memory_bytes // MIB} MiB "
                                   f"in {template.location}",
                                   lambda: self._size_for(template, spec))
            nic_id, made = template.nic_id, False
            if not nic_id:
                nic_name = template.nic_for(spec.name)
                nic_id = await saga.step(
                    "nic", f"{nic_name} in {template.subnet_id.rsplit('/', 1)[-1]}",
                    lambda: self._make_nic(client, template, nic_name, tags),
                    undo=lambda nic: self._undo_nic(client, nic, put))
                made = True
            body = vm_body(spec, template, size=size.name, nic_id=nic_id, made_nic=made,
                           ssh_key=key, tags=tags)
            await saga.step("vm", f"{describe(size)} from {template.image}",
                            lambda: self._put_vm(vm_id, body, put))
        return await self._listed(client, template, spec.name)

    # -- steps -------------------------------------------------------------------------------

    async def _group_vms(self, client: Any, template: AzureTemplate) -> list[dict[str, Any]]:
        url = (f"/subscriptions/{template.subscription}/resourceGroups/"
               f"{template.resource_group}/providers/Microsoft.Compute/virtualMachines")
        return await arm.list_json(client, url, api_version=LIST_API_VERSION,
                                   query={"$expand": "instanceView"})

    async def _name_free(self, listed: list[dict[str, Any]], name: str, where: str) -> None:
        if any(str(doc.get("name") or "").lower() == name.lower() for doc in listed):
            raise NovaError(Code.NAME_TAKEN, where, "the resource group has a VM of that name "
                            "(made by another request, or by hand): choose another name")

    async def _size_for(self, template: AzureTemplate, spec: NewVM) -> SizeSpec:
        """The template's size, or the smallest of the location that fits the request."""
        try:
            sizes = await self.region_sizes(template.subscription, template.location)
        except Exception as exc:
            if template.size:  # the size list only adds vCPU/memory figures to a named size
                return SizeSpec(0, 0, template.size)
            raise translate(exc, f"VM sizes of {template.location}", retries=self.retries) from exc
        if template.size:
            known = sizes.get(template.size.lower())
            if known is None and sizes:
                raise NovaError(Code.CONFIG_INVALID, f"size {template.size}",
                                f"{template.location} offers no such VM size "
                                "(`az vm list-sizes -l LOCATION -o table` lists them)")
            return known or SizeSpec(0, 0, template.size)
        chosen = smallest_fit(sizes.values(), spec.vcpus, spec.memory_bytes)
        if chosen is None:
            raise NovaError(Code.INSUFFICIENT_RESOURCES, f"{spec.name} in {template.location}",
                            f"no VM size there has {spec.vcpus} vCPU and "
                            f"{spec.memory_bytes / GIB:g} GiB")
        return chosen

    async def _make_nic(self, client: Any, template: AzureTemplate, name: str,
                        tags: Mapping[str, str]) -> str:
        nic_id = nic_resource_id(template, name)
        try:
            theirs = [doc for doc in await arm.list_json(
                client, nic_id.rsplit("/", 1)[0], api_version=arm.NETWORK_API_VERSION)
                if str(doc.get("name") or "").lower() == name.lower()]
            if theirs and (theirs[0].get("tags") or {}).get(REQUEST_TAG) != tags.get(REQUEST_TAG):
                raise NovaError(Code.NAME_TAKEN, f"network interface {name}",
                                f"{template.resource_group} already has one of that name; "
                                "change nic_name or the VM's name")
            poller = await arm.begin(client, "PUT", nic_id, api_version=arm.NETWORK_API_VERSION,
                                     body=nic_body(template, tags),
                                     polling_interval=self.config.poll_interval_s)
            async with asyncio.timeout(self.operation_timeout_s):
                made = await poller.result()
        except NovaError:
            raise
        except Exception as exc:
            raise translate(exc, f"network interface {name}", retries=self.retries) from exc
        return str((made or {}).get("id") or nic_id)

    async def _delete_nic(self, client: Any, nic_id: str) -> None:
        try:
            poller = await arm.begin(client, "DELETE", nic_id,
                                     api_version=arm.NETWORK_API_VERSION,
                                     polling_interval=self.config.poll_interval_s)
            async with asyncio.timeout(self.operation_timeout_s):
                await poller.result()
        except Exception as exc:
            raise translate(exc, f"delete network interface {nic_id.rsplit('/', 1)[-1]}",
                            retries=self.retries) from exc

    async def _put_vm(self, vm_id: str, body: dict[str, Any], put: PutState) -> None:
        """The PUT, followed to its end. A VM that Azure accepted and then failed to make is
        deleted (reported as the undoing of this step) so its interface can go too; one still
        being made when the console stops watching (timeout, quit) is left to Azure and to
        the resume that follows its token."""
        try:
            await self._run("create", vm_id, accepted=put.accepted, args={
                "parameters": body, "match_condition": MatchConditions.IfMissing})
        except NovaError as err:
            if put.accepted and err.kind is not Code.TIMEOUT:
                await report_step("vm", "undoing", f"delete the failed VM {vm_id}")
                try:
                    await self._run("delete", vm_id)
                except Exception as exc:
                    await report_step("vm", "failed", f"undo of {vm_id}: {exc}")
                else:
                    put.removed = True
                    await report_step("vm", "undone", vm_id)
            raise

    async def _undo_nic(self, client: Any, nic_id: str, put: PutState) -> None:
        if put.accepted and not put.removed:
            raise NovaError(Code.OPERATION_IN_PROGRESS, f"kept {nic_id.rsplit('/', 1)[-1]}",
                            "the VM Azure accepted may still be using it (the console resumes "
                            "watching the VM; delete both if it is not wanted)")
        await self._delete_nic(client, nic_id)

    async def _listed(self, client: Any, template: AzureTemplate, name: str) -> VM:
        try:
            listed = await self._group_vms(client, template)
        except Exception as exc:
            raise translate(exc, f"list {template.resource_group}", retries=self.retries) from exc
        for doc in listed:
            if str(doc.get("name") or "").lower() == name.lower():
                return await self._as_vm(doc, template)
        raise NovaError(Code.VM_NOT_FOUND, name, f"made, but {template.resource_group} no "
                        "longer lists it")

    async def _as_vm(self, doc: Mapping[str, Any], template: AzureTemplate) -> VM:
        try:
            sizes = await self.region_sizes(template.subscription,
                                            str(doc.get("location") or template.location))
        except Exception:  # the VM is made; its vCPU/memory figures are a nicety
            sizes = {}
        return vm_from_arm(doc, backend=self.name, sizes=sizes)
