"""Headless Chromium, offline: screenshots, PDFs and rendered DOMs of local HTML files.

Flags follow ECOSYSTEM.md §5 (verified inside ``unshare -n``): no sandbox, no GPU, no background networking,
component updates, sync or first-run UI, a fresh throw-away profile, and a virtual-time budget so plotly's
JavaScript has finished drawing before the capture. The quarterly report reuses :func:`print_pdf`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from detcov.errors import DetcovError
from detcov.fileio import atomic_path

INSTALL_HINT = "install it with `apt-get install chromium` (Debian/Ubuntu) or set DETCOV_CHROMIUM to its path"
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")
_ENV_VARS = ("DETCOV_CHROMIUM", "BROWSER_PATH")
DEFAULT_BUDGET_MS = 5000
DEFAULT_TIMEOUT_S = 120.0


def find_chromium() -> Path | None:
    """The Chromium executable: ``$DETCOV_CHROMIUM``, ``$BROWSER_PATH``, then the usual names on PATH."""
    for var in _ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file() and os.access(value, os.X_OK):
            return Path(value)
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def require_chromium() -> Path:
    """Like :func:`find_chromium`, but a clear :class:`DetcovError` when there is none."""
    found = find_chromium()
    if found is None:
        raise DetcovError("headless Chromium is needed for this output but was not found", hint=INSTALL_HINT)
    return found


# Networking off, not just quiet: every host name resolves to "not found" (DNS is never asked), every request
# that still starts goes to a proxy on a closed loopback port (refused there; measured without these flags:
# clients2.google.com, update.googleapis.com, accounts.google.com, redirector.gvt1.com), and the background
# services that phone home are switched off.
DEAD_PROXY = "127.0.0.1:9"  # the discard port: nothing listens there
OFFLINE_FEATURES = ("NetworkTimeServiceQuerying", "NetworkPrediction", "OptimizationHints", "MediaRouter",
                    "DialMediaRouteProvider", "Translate", "AutofillServerCommunication",
                    "CertificateTransparencyComponentUpdater", "HttpsUpgrades", "InterestFeedContentSuggestions",
                    "PrivacySandboxSettings4", "SafeBrowsingEnhancedProtection")


def offline_flags(proxy: str | None = None) -> list[str]:
    """The flags that keep headless Chromium off the network (tests/test_chromium_offline.py traces them)."""
    return [
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--proxy-server=http://{proxy or DEAD_PROXY}",
        "--proxy-bypass-list=<-loopback>",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--disable-breakpad",
        "--no-pings", "--dns-prefetch-disable", "--metrics-recording-only", "--safebrowsing-disable-auto-update",
        "--disable-field-trial-config", "--disable-remote-fonts", "--no-service-autorun",
        f"--disable-features={','.join(OFFLINE_FEATURES)}",
    ]


def headless_command(executable: Path, user_data_dir: str, budget_ms: int, extra: Sequence[str]) -> list[str]:
    """The full command line for one headless run (the URL or file comes last in ``extra``)."""
    return [
        str(executable), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        *offline_flags(), "--disable-extensions", "--disable-default-apps", "--no-first-run",
        "--no-default-browser-check", "--mute-audio", "--hide-scrollbars", f"--user-data-dir={user_data_dir}",
        f"--virtual-time-budget={budget_ms}", *extra,
    ]


def _file_url(html_path: str | Path) -> str:
    path = Path(html_path).resolve()
    if not path.is_file():
        raise DetcovError(f"{path}: no such HTML file to render")
    return path.as_uri()


def _run(extra: Sequence[str], *, budget_ms: int, timeout: float) -> str:
    executable = require_chromium()
    with tempfile.TemporaryDirectory(prefix="detcov-chromium-") as profile:
        cmd = headless_command(executable, profile, budget_ms, extra)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DetcovError(f"headless Chromium did not finish within {timeout:.0f} s",
                              hint="try again on a less loaded machine or raise the timeout") from exc
        except OSError as exc:
            raise DetcovError(f"cannot run {executable}: {exc}", hint=INSTALL_HINT) from exc
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise DetcovError(f"headless Chromium failed (exit {done.returncode}): {tail}")
    return done.stdout


def _check_written(path: Path, what: str) -> Path:
    if not path.is_file() or path.stat().st_size == 0:
        raise DetcovError(f"headless Chromium wrote no {what} to {path}",
                          hint="check the free disk space; rerun with --debug for Chromium's messages")
    return path


def _capture(flag: str, html_path: str | Path, out_path: str | Path, what: str, extra: Sequence[str],
             budget_ms: int, timeout: float) -> Path:
    """Chromium writes ``flag=<temporary file>``; it replaces ``out_path`` only when complete (fileio)."""
    url = _file_url(html_path)
    out = Path(out_path).resolve()
    with atomic_path(out) as tmp:
        tmp.unlink()  # Chromium creates it; an empty leftover would pass for output
        _run([*extra, f"{flag}={tmp}", url], budget_ms=budget_ms, timeout=timeout)
        _check_written(tmp, what)
    return out


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1600, height: int = 1000, *,
               scale: float = 1.0, budget_ms: int = DEFAULT_BUDGET_MS, timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """A PNG of the page's first ``width`` x ``height`` CSS pixels (``scale`` device pixels per CSS pixel)."""
    return _capture("--screenshot", html_path, png_path, "screenshot",
                    [f"--window-size={width},{height}", f"--force-device-scale-factor={scale:g}"], budget_ms, timeout)


def print_pdf(html_path: str | Path, pdf_path: str | Path, *, budget_ms: int = DEFAULT_BUDGET_MS,
              timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """The page printed to PDF (no header/footer), after its scripts ran."""
    return _capture("--print-to-pdf", html_path, pdf_path, "PDF", ["--no-pdf-header-footer"], budget_ms, timeout)


def dump_dom(html_path: str | Path, *, budget_ms: int = DEFAULT_BUDGET_MS,
             timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """The serialised DOM after the page's scripts ran (plotly's SVG included)."""
    return _run(["--dump-dom", _file_url(html_path)], budget_ms=budget_ms, timeout=timeout)
