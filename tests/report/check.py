"""Checks reports of `preflight report` in a real browser.

    python tests/report/check.py CHROMIUM SHOTS_DIR REPORT.html...

For each report: the document parses as HTML5 with no parse error
(html5lib, strict); every <svg> has a <title>, every <table> header cells
and a caption. Then headless Chromium opens it (Chrome DevTools Protocol
over a WebSocket): no console message of level warning or error and no
exception; no request other than the file itself (the page is
self-contained); every SVG drawn with a non-empty size; at 1280 px and at
390 px wide, the page no wider than the window (wide tables scroll inside
their box); and a full-page screenshot of each width is saved in SHOTS_DIR.
Exit 1 naming every failure.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import html5lib
import websocket

failures = []


def fail(report, what):
    failures.append(f"{report}: {what}")
    print(f"FAIL {report}: {what}")


def static_checks(path):
    text = Path(path).read_text(encoding="utf-8")
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    try:
        doc = parser.parse(text)
    except html5lib.html5parser.ParseError as e:
        fail(path, f"not well-formed HTML5: {e}")
        return
    svg_ns = "{http://www.w3.org/2000/svg}"
    svgs = doc.findall(f".//{svg_ns}svg")
    if not svgs:
        fail(path, "no plot")
    for i, svg in enumerate(svgs):
        title = svg.find(f"{svg_ns}title")
        if title is None or not (title.text or "").strip():
            fail(path, f"svg {i} has no <title>")
        if not svg.get("aria-label"):
            fail(path, f"svg {i} has no aria-label")
    for i, table in enumerate(doc.findall(".//table")):
        if table.find("caption") is None:
            fail(path, f"table {i} has no caption")
        if not table.findall(".//thead//th"):
            fail(path, f"table {i} has no header cells")
    for tag, attr in [("script", "src"), ("link", "href"), ("img", "src")]:
        for el in doc.findall(f".//{tag}"):
            fail(path, f"<{tag} {attr}={el.get(attr)!r}>: a report fetches nothing")
    print(f"{path}: HTML5 well-formed, {len(svgs)} plots titled, {len(doc.findall('.//table'))} tables with headers")


class Browser:
    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="preflight-report-chromium-")
        port_file = Path(self.profile) / "DevToolsActivePort"
        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars",
                f"--user-data-dir={self.profile}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while not port_file.exists():
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10))
        page = next(p for p in pages if p.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def drain(self, seconds):
        self.ws.settimeout(seconds)
        try:
            while True:
                self.events.append(json.loads(self.ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self.ws.settimeout(30)

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


def browser_checks(browser, path, shots):
    url = Path(path).resolve().as_uri()
    browser.events.clear()
    for domain in ["Page", "Runtime", "Log", "Network"]:
        browser.call(f"{domain}.enable")
    for width, name in [(1280, "wide"), (390, "narrow")]:
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        browser.call("Page.navigate", url=url)
        browser.drain(2.0)
        state = browser.call(
            "Runtime.evaluate",
            returnByValue=True,
            expression="""(() => {
                const svgs = [...document.querySelectorAll('svg')].map(s => {
                    const r = s.getBoundingClientRect();
                    return [r.width, r.height];
                });
                return {
                    ready: document.readyState,
                    svgs,
                    scrollWidth: document.documentElement.scrollWidth,
                    innerWidth: window.innerWidth,
                    height: document.documentElement.scrollHeight,
                };
            })()""",
        )["result"]["value"]
        if state["ready"] != "complete":
            fail(path, f"{width}px: not loaded ({state['ready']})")
        empty = [i for i, (w, h) in enumerate(state["svgs"]) if w <= 0 or h <= 0]
        if empty:
            fail(path, f"{width}px: svgs {empty} have an empty size")
        if state["scrollWidth"] > state["innerWidth"] + 1:
            fail(path, f"{width}px: the page is {state['scrollWidth']}px wide, wider than the window")
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=min(int(state["height"]), 16000),
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        out = Path(shots) / f"{Path(path).parent.name}-{name}.png"
        out.write_bytes(base64.b64decode(shot["data"]))
        print(f"{path}: {width}px: {len(state['svgs'])} svgs drawn, {state['scrollWidth']}px wide; screenshot {out}")
    for e in browser.events:
        method = e.get("method", "")
        p = e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            fail(path, f"console {p.get('type')}: {p.get('args')}")
        elif method == "Runtime.exceptionThrown":
            fail(path, f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            fail(path, f"log {p['entry']['level']}: {p['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            req = p.get("request", {}).get("url", "")
            if req != url and not req.startswith("data:"):
                fail(path, f"request leaving the file: {req}")


def main():
    chromium, shots, reports = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not reports:
        raise SystemExit("usage: check.py CHROMIUM SHOTS_DIR REPORT.html...")
    os.makedirs(shots, exist_ok=True)
    for r in reports:
        static_checks(r)
    browser = Browser(chromium)
    try:
        for r in reports:
            browser_checks(browser, r, shots)
    finally:
        browser.close()
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print(f"{len(reports)} reports pass")


if __name__ == "__main__":
    main()
