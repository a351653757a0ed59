"""`novacron serve --wall` in a real browser: Debian's chromium, headless, drives the page over
the DevTools protocol. What the page receives over its websocket (the wall's terminal output)
says what it shows; keys typed into the page turn pages and do nothing else (read-only, as the
terminal wall); a screenshot is written to the test's directory (its path is printed) for a
person to look at. The page's only outside request (a web font) is refused by the browser's
resolver rules: traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--window-size=1600,900",
         "--remote-debugging-port=0"]
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>78])")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, f"novacron serve exited ({proc.returncode})"
        assert time.monotonic() < deadline, f"nothing listens on {port} after {timeout_s} s"
        time.sleep(0.2)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`novacron serve --wall` on a free loopback port, the demo fleet, its own state."""
    port = free_port()
    state = tmp_path / "state"
    env = {**os.environ, "NOVACRON_CONFIG": str(tmp_path / "none.toml"),
           "NOVACRON_STATE_DIR": str(state),
           "NOVACRON_DEMO_PROMETHEUS": "0"}  # its metrics are tested on their own
    proc = subprocess.Popen([sys.executable, "-m", "console.cli.main", "serve", "--wall",
                             "--bind", f"127.0.0.1:{port}"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc, 60)
        yield f"http://127.0.0.1:{port}/", state
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Page:
    """One browser tab over the DevTools protocol, recording the websocket frames it gets."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.received = ""
        self.replies: dict[int, dict[str, Any]] = {}

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        while ident not in self.replies:
            await self.pump()
        return self.replies.pop(ident)

    async def pump(self) -> None:
        msg = await self.ws.receive_json(timeout=30)
        if "id" in msg:
            self.replies[msg["id"]] = msg.get("result", {})
        elif msg.get("method") == "Network.webSocketFrameReceived":
            frame = msg["params"]["response"]
            data = (base64.b64decode(frame["payloadData"]).decode("utf-8", "replace")
                    if frame.get("opcode") == 2 else frame.get("payloadData", ""))
            self.received += ANSI.sub("", data)

    async def wait_text(self, *words: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(w in self.received for w in words):
            assert time.monotonic() < deadline, f"the page never showed {words}"
            try:
                await asyncio.wait_for(self.pump(), timeout=1)
            except TimeoutError:
                continue

    async def settle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(self.pump(), timeout=deadline - time.monotonic())
            except TimeoutError:
                return

    async def press(self, key: str, code: str, *, ctrl: bool = False) -> None:
        modifiers = 2 if ctrl else 0
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code,
                            text="" if ctrl or kind == "keyUp" else key,
                            modifiers=modifiers, windowsVirtualKeyCode=ord(key.upper()))


@pytest.fixture
def devtools(tmp_path: Path) -> Iterator[str]:
    """Headless chromium with a fresh profile: the port of its DevTools endpoint."""
    browser = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                                "about:blank"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert browser.stderr is not None
        found = None
        for line in browser.stderr:
            if found := re.search(r"DevTools listening on ws://127.0.0.1:(\d+)/", line):
                break
        assert found, "chromium did not start its DevTools endpoint"
        yield found.group(1)
    finally:
        browser.terminate()
        browser.wait(20)


async def browse(port: str, url: str) -> tuple[str, bytes]:
    """Open the wall, check it, type keys into it; what it showed after the action keys, and
    a screenshot (PNG) of its hosts page."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
            target = next(t for t in await resp.json() if t["type"] == "page")
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = Page(ws)
            await page.call("Network.enable")
            await page.call("Page.enable")
            await page.call("Page.navigate", url=url)
            # The summary page of the demo, read-only.
            await page.wait_text("VMs running", "READ-ONLY", "WALL (read-only)", "ctx:demo",
                                 "60 VMs", timeout_s=90)
            await page.call("Runtime.evaluate", expression=(
                "document.querySelector('.xterm-helper-textarea').focus()"))
            # Action keys of the console do nothing on the wall: no dialog, no palette.
            before = len(page.received)
            for key, code, ctrl in (("m", "KeyM", False), ("D", "KeyD", False),
                                    ("p", "KeyP", True), (":", "Semicolon", False),
                                    ("s", "KeyS", False)):
                await page.press(key, code, ctrl=ctrl)
            await page.settle(2)
            after_actions = page.received[before:]
            # Page keys do reach it: 3 is the hosts page.
            await page.press("3", "Digit3")
            await page.wait_text("MEM ALLOC/CAP", timeout_s=30)
            await page.settle(1)
            result = await page.call("Page.captureScreenshot", format="png")
            return after_actions, base64.b64decode(result["data"])


def test_the_wall_in_a_browser_is_the_read_only_wall(served: tuple[str, Path], devtools: str,
                                                       tmp_path: Path) -> None:
    url, _state = served
    after_actions, png = asyncio.run(browse(devtools, url))
    for opened in ("Migrate", "Drain", "Search for commands", "Command", "Sort"):
        assert opened not in after_actions, f"an action key opened {opened!r} on the wall"
    shot = tmp_path / "wall-in-browser.png"
    shot.write_bytes(png)
    assert len(png) > 10_000
    print(f"\nscreenshot of the wall in chromium: {shot}")
