"""The hosts screen over real sshd servers: a hypervisor whose host key changed is shown as
"host key changed" on its own row, with the offered fingerprint and the one on file under the
table, while the host beside it (same bastion) is up with its /proc figures; no login was
made on the refused host."""

from __future__ import annotations

import pytest

from console.app import NovaApp
from console.fleet.polling import Fleet
from screens.hosts import HostsScreen
from tests import wait_for
from tests.integration.sshd_fixture import SshLab, fingerprint, keygen, sshlab

__all__ = ["sshlab"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def lines(screen: HostsScreen) -> list[str]:
    table = screen.table
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_changed_host_key_is_named_on_the_hosts_screen(sshlab: SshLab) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    impostor = keygen(lab.root / "impostor_key", "what known_hosts believes")
    config = lab.config(known_hosts=lab.known_hosts_line(lab.bastion)
                        + lab.known_hosts_line(kvm1, key=impostor)
                        + lab.known_hosts_line(lab.hypervisors["kvm2"]))
    logins = kvm1.logins()
    backends = [lab.backend(name, config, timeout_s=5) for name in ("kvm1", "kvm2")]
    app = NovaApp(Fleet("ssh", backends, interval_s=1.0, timeout_s=5.0))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        screen = app.screen
        assert isinstance(screen, HostsScreen)

        def shown() -> bool:
            text = "\n".join(lines(screen))
            return "kvm1 (host key changed)" in text and any(
                line.split()[:2] == ["kvm2", "up"] for line in lines(screen) if line.strip())

        await wait_for(pilot, shown, 60, "kvm1 refused for its key, kvm2 up")
        summary = str(screen.query_one("#host-summary").content)
        assert "1 refused for their host key" in summary
        await pilot.press("home")  # kvm1 sorts first
        detail = str(screen.query_one("#host-detail").content)
        assert detail.startswith("kvm1: NOVA-2005: Host key changed: kvm1 (127.0.0.1 port")
        assert kvm1.fingerprint in detail and fingerprint(impostor) in detail
        await pilot.press("down")
        await wait_for(pilot, lambda: "(its /proc, over SSH)" in str(
            screen.query_one("#host-detail").content), 20, "kvm2's /proc figures")
        assert str(screen.query_one("#host-detail").content).startswith("kvm2  load ")
    assert kvm1.logins() == logins  # (the app closed the backends on exit)
