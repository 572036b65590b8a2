"""Headless Chromium runs with no network at all (issue 15): traced with strace, and a loopback sentinel proxy.

* strace follows every Chromium process and records connect/sendto/sendmsg: no DNS (port 53) and no TCP/UDP
  traffic to a non-loopback address may appear, even for a page that references remote scripts and images.
  The one thing allowed is a UDP ``connect`` without data (Chromium's IPv6 reachability probe of
  2001:4860:4860::8888, a routing-table look-up: no packet leaves the machine).
* A sentinel HTTP server on 127.0.0.1 plays the proxy: for detcov's own pages (heatmaps, PDF) it must see no
  request for any page asset (everything is inlined). Chromium 156 still starts two background requests of its
  own whatever the flags say (the component updater's update.googleapis.com and accounts.google.com); with the
  dead proxy they are refused on loopback, and the strace test shows they never leave the machine.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest

from detcov.outputs import chromium
from detcov.outputs.heatmap import write_html
from tests.conftest import IN_CI

HOSTILE_PAGE = """<!doctype html><html><head>
<script src="https://cdn.plot.ly/plotly-2.35.2.min.js"></script>
<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">
<link rel="dns-prefetch" href="//updates.example.com">
</head><body><h1>offline?</h1><img src="http://tracker.example.net/pixel.gif">
<script>fetch("https://api.example.org/beacon").catch(() => {});</script></body></html>
"""
_CALL = re.compile(r"^\d+\s+(connect|sendto|sendmsg)\((\d+)<([A-Za-z0-9]+):")
_INET = re.compile(r'inet_(?:addr|pton)\((?:AF_INET6, )?"([^"]+)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")


def _strace() -> str:
    found = shutil.which("strace")
    if found is None:
        message = "strace is not installed (apt-get install strace; .ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def _outside_traffic(trace: str) -> list[str]:
    """Trace lines that put something on a network other than loopback (the IPv6 probe excepted)."""
    bad = []
    for line in trace.splitlines():
        match = _CALL.match(line)
        if match is None or not match.group(3).startswith(("TCP", "UDP")):
            continue
        call, kind = match.group(1), match.group(3)
        addresses, ports = _INET.findall(line), _PORT.findall(line)
        if "53" in ports:
            bad.append(line)  # a DNS query, whatever the server
            continue
        if addresses and all(a.startswith("127.") or a == "::1" for a in addresses):
            continue
        if call == "connect" and kind.startswith("UDP"):
            continue  # a UDP connect sends nothing (route probe); any datagram would show as sendto/sendmsg
        if call == "connect" or addresses:
            bad.append(line)
        elif kind.startswith("UDP") and not addresses:
            bad.append(line)  # a datagram on a connected non-loopback UDP socket
    return bad


def _traced_run(browser: Path, extra: list[str], tmp: Path) -> str:
    trace = tmp / "trace.txt"
    with tempfile.TemporaryDirectory(prefix="detcov-chromium-") as profile:
        cmd = chromium.headless_command(browser, profile, 3000, extra)
        done = subprocess.run([_strace(), "-f", "-qq", "-yy", "-e", "trace=connect,sendto,sendmsg", "-o",
                               str(trace), *cmd], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    return trace.read_text(errors="replace")


def test_the_trace_parser_sees_dns_and_outside_connections() -> None:
    """The assertion below is only as good as its parser: it must flag what an online Chromium does."""
    online = "\n".join([
        '1 connect(22<UDP:[1]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.53")}, 16) = 0',
        '1 connect(23<TCP:[2]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("142.250.1.1")}, 16 '
        '<unfinished ...>',
        '1 sendto(24<UDP:[3]>, "x", 1, 0, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("8.8.8.8")}'
        ', 16) = 1',
    ])
    offline = "\n".join([
        '1 connect(23<UDPv6:[9]>, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2001:4860:4860::8888", &sin6_addr), sin6_scope_id=0}, 28) = 0',
        '1 connect(25<TCP:[4]>, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = -1',
        '1 connect(5<UNIX:[7]>, {sa_family=AF_UNIX, sun_path="/run/dbus"}, 110) = -1 ENOENT',
    ])
    assert len(_outside_traffic(online)) == 3
    assert _outside_traffic(offline) == []


def test_chromium_sends_nothing_outside_even_for_a_hostile_page(browser: Path, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(HOSTILE_PAGE, encoding="utf-8")
    trace = _traced_run(browser, [f"--screenshot={tmp_path / 'shot.png'}", page.as_uri()], tmp_path)
    assert _outside_traffic(trace) == [], "\n".join(_outside_traffic(trace)[:5])
    assert (tmp_path / "shot.png").stat().st_size > 0


class _Sentinel:
    """A loopback HTTP 'proxy' that records every connection it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.seen.append(conn.recv(4096))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    self.seen.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def sentinel(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Sentinel]:
    s = _Sentinel()
    monkeypatch.setattr(chromium, "DEAD_PROXY", f"127.0.0.1:{s.port}")
    try:
        yield s
    finally:
        s.close()


def test_the_sentinel_proxy_sees_a_hostile_pages_requests(browser: Path, tmp_path: Path,
                                                          sentinel: _Sentinel) -> None:
    """Control: the sentinel does see requests when a page asks for remote assets (so silence below means
    something), and they stop there."""
    page = tmp_path / "hostile.html"
    page.write_text(HOSTILE_PAGE, encoding="utf-8")
    chromium.screenshot(page, tmp_path / "shot.png", 400, 300, budget_ms=3000)
    assert {"tracker.example.net", "cdn.plot.ly", "api.example.org"} & _hosts(sentinel.seen), sentinel.seen


CHROMIUM_OWN = frozenset({"update.googleapis.com", "accounts.google.com"})
_HOST = re.compile(rb"^(?:CONNECT |[A-Z]+ https?://)([^/:\s]+)")


def _hosts(seen: list[bytes]) -> set[str]:
    return {m.group(1).decode() for s in seen if (m := _HOST.match(s))}


def test_detcovs_pages_request_nothing(browser: Path, tmp_path: Path, sentinel: _Sentinel) -> None:
    fig = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]))
    page = write_html(tmp_path / "heatmaps.html", [("matrix", fig)], title="offline")
    chromium.screenshot(page, tmp_path / "shot.png", 600, 400, budget_ms=3000)
    chromium.print_pdf(page, tmp_path / "page.pdf", budget_ms=3000)
    assert _hosts(sentinel.seen) <= CHROMIUM_OWN, sentinel.seen
    assert (tmp_path / "shot.png").stat().st_size > 0 and (tmp_path / "page.pdf").read_bytes()[:4] == b"%PDF"
