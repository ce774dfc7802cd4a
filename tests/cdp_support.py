"""Debian's headless ``chromium`` driven over the Chrome DevTools protocol (a websocket, with
aiohttp's client): load a page, read its DOM, take screenshots. Enough for the status page's tests;
nothing is downloaded (Playwright would fetch its own browser build)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless chromium process and one page (tab) in it."""

    def __init__(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="warroom-chromium-")
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.console: list[str] = []
        """Console messages and exceptions of the page (a CSP violation shows up here)."""
        self.process: subprocess.Popen | None = None

    async def __aenter__(self) -> Browser:
        assert CHROMIUM, "chromium is not installed (scripts/setup-services installs it)"
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",  # tests run as root
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--hide-scrollbars",
                "--font-render-hinting=none",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        endpoint = await asyncio.to_thread(self._endpoint)
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(endpoint, max_msg_size=0)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        self.session = attached["sessionId"]
        await self.page("Page.enable")
        await self.page("Runtime.enable")
        return self

    def _endpoint(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:  # the rest is read and dropped, so chromium never blocks on a full pipe
                threading.Thread(target=self.process.stderr.read, daemon=True).start()
                return found.group(1)
        raise RuntimeError("chromium did not start its DevTools endpoint")

    async def __aexit__(self, *exc: object) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await self._ws.close()
        await self._http.close()
        if self.process is not None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
            if self.process.stderr is not None:
                self.process.stderr.close()
        self._profile.cleanup()

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._pending:
                future = self._pending.pop(data["id"])
                if "error" in data:
                    future.set_exception(RuntimeError(data["error"]))
                else:
                    future.set_result(data.get("result", {}))
            elif data.get("method") == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description"))) for a in data["params"]["args"]))
            elif data.get("method") == "Runtime.exceptionThrown":
                self.console.append(data["params"]["exceptionDetails"].get("text", "exception"))
            elif data.get("method") == "Log.entryAdded":
                self.console.append(data["params"]["entry"]["text"])
            else:
                await self._events.put(data)

    async def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self._ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, 30)

    async def page(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.send(method, self.session, **params)

    async def size(self, width: int, height: int, *, mobile: bool = False, scale: float = 1) -> None:
        await self.page(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=scale, mobile=mobile
        )

    async def goto(self, url: str, timeout: float = 15) -> None:
        await self.page("Log.enable")
        await self.page("Page.navigate", url=url)
        async with asyncio.timeout(timeout):
            while True:
                event = await self._events.get()
                if event.get("method") == "Page.loadEventFired":
                    return

    async def js(self, expression: str) -> Any:
        result = await self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text"))
        return result["result"].get("value")

    async def text(self, selector: str = "body") -> str:
        return await self.js(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''")

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            metrics = await self.page("Page.getLayoutMetrics")
            content = metrics["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": content["width"], "height": content["height"], "scale": 1}
        shot = await self.page("Page.captureScreenshot", **params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
