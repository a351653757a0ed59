"""The Azure template (what the config accepts and refuses, `novacron template list`) and the
pure halves of create and of the IP join: what ARM would be sent and what the listing shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from backends.azure.addresses import join
from backends.azure.create import REQUEST_TAG, arm_tags, read_ssh_key
from backends.azure.template import AzureTemplate
from console.errors import Code, NovaError

SUB = "00000000-0000-0000-0000-000000000000"
SUBNET = (f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/"
          "virtualNetworks/vnet/subnets/default")
BASE = {"image": "Canonical:ubuntu-24_04-lts:server:latest", "resource_group": "rg-web",
        "location": "westeurope", "subnet_id": SUBNET}


def test_a_template_names_image_place_and_network() -> None:
    t = AzureTemplate.model_validate(BASE)
    assert t.image_ref.as_arm() == {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                    "sku": "server", "version": "latest"}
    assert t.subscription == SUB and t.nic_for("web-1") == "web-1-nic"
    assert t.admin_user == "azureuser" and t.ssh_public_key == "~/.ssh/id_rsa.pub"


@pytest.mark.parametrize(("change", "says"), [
    ({"image": "Canonical:ubuntu"}, "publisher:offer:sku:version"),
    ({"subnet_id": "default"}, "subnets resource id"),
    ({"nic_id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/"
                "networkInterfaces/n"}, "exactly one of subnet_id"),
    ({"subnet_id": ""}, "exactly one of subnet_id"),
    ({"vm_size": "Standard_B2s"}, "Extra inputs"),
])
def test_a_bad_template_says_what_to_write(change: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError) as err:
        AzureTemplate.model_validate({**BASE, **change})
    assert says in str(err.value)


def test_a_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as err:
        AzureTemplate.model_validate({**BASE, "admin_password": "Hunter2!secret"})
    assert "ssh_public_key" in str(err.value) and "Hunter2" not in str(err.value)


def test_tags_become_arm_tags_with_the_request_id() -> None:
    assert arm_tags(["role=web", "blue", "azure:power=running"], "r-1") == {
        "role": "web", "blue": "", REQUEST_TAG: "r-1"}


def test_the_ssh_key_must_be_a_public_key(tmp_path: Path) -> None:
    private = tmp_path / "id_rsa"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", encoding="utf-8")
    with pytest.raises(NovaError) as err:
        read_ssh_key(str(private))
    assert err.value.kind is Code.CONFIG_INVALID and "never the private key" in err.value.cause
    with pytest.raises(NovaError) as err:
        read_ssh_key(str(tmp_path / "absent.pub"))
    assert "ssh-keygen" in err.value.cause


def _nic(vm: str, private: str, public_id: str = "", *, primary: bool = True,
         extra: tuple[str, ...] = ()) -> dict[str, object]:
    configs = [{"properties": {"privateIPAddress": private, "primary": True,
                               **({"publicIPAddress": {"id": public_id}} if public_id else {})}}]
    configs += [{"properties": {"privateIPAddress": a, "primary": False}} for a in extra]
    props: dict[str, object] = {"primary": primary, "ipConfigurations": configs[::-1]}
    if vm:
        props["virtualMachine"] = {"id": vm}
    return {"properties": props}


def test_addresses_join_interfaces_and_public_ips_by_id() -> None:
    vm = f"/subscriptions/{SUB}/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/a"
    pip = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/p"
    nics = [_nic(vm, "10.0.1.4", primary=False),
            _nic(vm, "10.0.0.4", pip.upper(), extra=("10.0.0.5",)),  # ARM ids differ in case
            _nic("", "10.9.9.9")]
    got = join(nics, [{"id": pip, "properties": {"ipAddress": "20.1.2.3"}}])
    assert got == {vm.lower(): ("10.0.0.4", "20.1.2.3", "10.0.0.5", "10.0.1.4")}


def test_template_list_shows_the_azure_template(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[contexts.az]
[[contexts.az.backends]]
kind = "azure"
name = "azure-prod"
subscriptions = ["{SUB}"]
[contexts.az.templates.az-tpl]
kind = "azure"
vcpus = 2
memory = "4GiB"
image = "{BASE['image']}"
resource_group = "rg-web"
location = "westeurope"
subnet_id = "{SUBNET}"
""", encoding="utf-8")
    env = {**os.environ, "NOVACRON_CONFIG": str(config), "NOVACRON_STATE_DIR": str(tmp_path)}
    listed = subprocess.run([str(Path(sys.executable).with_name("novacron")), "--context", "az",
                             "template", "list", "--json"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [(t["name"], t["kind"], t["vcpus"], t["source"]) for t in json.loads(listed.stdout)] == [
        ("az-tpl", "azure", 2, BASE["image"])]
