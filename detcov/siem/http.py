"""A small, careful HTTP client for the SIEM connectors (standard library only).

* TLS verification is on; ``ca_bundle`` adds an internal CA; ``verify=False`` is an explicit opt-out (the CLI
  warns). Plain ``http://`` is refused except to the loopback address, since it would send credentials in clear.
* 429 and 503 are retried after ``Retry-After`` (seconds or an HTTP date, capped by ``max_wait``), otherwise with
  exponential back-off; timeouts and dropped connections are retried too, then reported with the fix.
* Credentials travel only in headers to the host the client was made for: a ``nextLink`` to another host is
  refused. Every error message is scrubbed of the secrets the client holds and names the URL without its query.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from detcov import __version__
from detcov.errors import DetcovError, Issue

RETRY_STATUS = frozenset({429, 502, 503, 504})
USER_AGENT = f"detcov/{__version__} (+read-only coverage pull)"


class SiemError(DetcovError):
    """A pull step failed: one clear line naming the SIEM, the URL and what to do; never a secret."""

    def __init__(self, message: str, hint: str, status: int | None = None) -> None:
        super().__init__(issues=[Issue(message, None, hint)])
        self.status = status


@dataclass(frozen=True, slots=True)
class TlsOptions:
    verify: bool = True
    ca_bundle: Path | None = None

    def context(self) -> ssl.SSLContext:
        return _ssl_context(self)

    @property
    def describe(self) -> str:
        if not self.verify:
            return "NOT verified (--insecure)"
        return f"verified (CA bundle {self.ca_bundle})" if self.ca_bundle else "verified (system CAs)"


@functools.lru_cache(maxsize=8)
def _ssl_context(tls: TlsOptions) -> ssl.SSLContext:
    """One context per TLS setting (loading the system CAs takes a tenth of a second)."""
    if not tls.verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=str(tls.ca_bundle) if tls.ca_bundle else None)


@dataclass
class HttpClient:
    """Requests to one SIEM base URL with fixed auth headers; ``secrets`` are scrubbed from every message."""

    base_url: str
    name: str  # "Splunk", "Kibana", ... for messages
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()
    tls: TlsOptions = field(default_factory=TlsOptions)
    timeout: float = 30.0
    retries: int = 4
    max_wait: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    auth_hint: str = "check the credentials"
    requests: int = 0  # how many HTTP requests were sent (for the manifest)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        check_url(self.base_url, self.tls)
        self._context = self.tls.context()

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
        return url

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params)

    def post_json(self, path: str, body: Any, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, params, orjson.dumps(body), "application/json")

    def post_form(self, path: str, form: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> Any:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        return self.request("POST", path, params, data, "application/x-www-form-urlencoded")

    def request(self, method: str, path: str, params: Mapping[str, Any] | None = None, data: bytes | None = None,
                content_type: str | None = None) -> Any:
        """Send, retry what can be retried, decode JSON; :class:`SiemError` otherwise."""
        url = self.url(path, params)
        self._same_host(url)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **self.headers}
        if content_type:
            headers["Content-Type"] = content_type
        attempt = 0
        while True:
            attempt += 1
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            self.requests += 1
            try:
                with urllib.request.urlopen(req, timeout=self.timeout, context=self._context) as resp:
                    return self._decode(resp.read(), url)
            except urllib.error.HTTPError as exc:
                body = exc.read()
                if exc.code in RETRY_STATUS and attempt <= self.retries:
                    self.sleep(self._wait(exc.headers.get("Retry-After"), attempt, exc.code, url))
                    continue
                raise self._http_error(exc.code, body, url) from None
            except TimeoutError as exc:
                if attempt <= min(self.retries, 1):
                    self.sleep(1.0)
                    continue
                raise SiemError(f"{self.name}: no answer within {self.timeout:g} s from {self.redact(url)}",
                                "raise --timeout, or narrow the pull (a shorter --window)") from exc
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError) and attempt <= min(self.retries, 1):
                    self.sleep(1.0)
                    continue
                raise self._connect_error(reason, url) from None
            except (ConnectionError, OSError) as exc:
                raise self._connect_error(exc, url) from None

    # ----- helpers ------------------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """The text with every secret replaced and URL queries dropped."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text.split("?", 1)[0] if text.startswith(("http://", "https://")) else text

    def _same_host(self, url: str) -> None:
        base, target = urllib.parse.urlsplit(self.base_url), urllib.parse.urlsplit(url)
        if (base.scheme, base.netloc.lower()) != (target.scheme, target.netloc.lower()):
            raise SiemError(f"{self.name}: refusing to follow a link to {target.scheme}://{target.netloc} "
                            f"(credentials are only sent to {base.scheme}://{base.netloc})",
                            "point --url at the host the SIEM's links name")

    def _wait(self, retry_after: str | None, attempt: int, status: int, url: str) -> float:
        wait = retry_after_seconds(retry_after)
        if wait is None:
            wait = float(2 ** (attempt - 1))
        if wait > self.max_wait:
            raise SiemError(f"{self.name}: {status} from {self.redact(url)} asks to retry in {wait:.0f} s, longer "
                            f"than the {self.max_wait:.0f} s detcov waits", "pull again later", status)
        return wait

    def _decode(self, raw: bytes, url: str) -> Any:
        if not raw.strip():
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise SiemError(f"{self.name}: {self.redact(url)} did not answer JSON ({raw[:60]!r}…)",
                            "check that --url points at the API (management port, not the web UI)") from None

    def _http_error(self, status: int, body: bytes, url: str) -> SiemError:
        detail = self.redact(vendor_message(body))[:200]
        where = f"{self.name}: {status} from {self.redact(url)}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            return SiemError(f"{where} (authentication or permission refused)", self.auth_hint, status)
        if status == 404:
            return SiemError(where, "check --url and the workspace / space / app names", status)
        if status in RETRY_STATUS:
            return SiemError(f"{where} (still failing after {self.retries} retries)", "pull again later", status)
        return SiemError(where, "see the SIEM's own logs for the cause; rerun with --debug for details", status)

    def _connect_error(self, reason: object, url: str) -> SiemError:
        text = self.redact(str(getattr(reason, "strerror", None) or reason))
        if isinstance(reason, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            return SiemError(f"{self.name}: TLS certificate of {self.redact(url)} not trusted ({text})",
                             "give the internal CA with --ca-bundle FILE (or, knowingly, --insecure)")
        if isinstance(reason, TimeoutError):
            return SiemError(f"{self.name}: no answer within {self.timeout:g} s from {self.redact(url)}",
                             "raise --timeout, or narrow the pull (a shorter --window)")
        return SiemError(f"{self.name}: cannot connect to {self.redact(url)} ({text})",
                         "check --url, the port, and that this machine may reach the SIEM")


def check_url(url: str, tls: TlsOptions) -> None:
    """https, or http to the loopback address only (credentials must not travel in clear)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiemError(f"not an http(s) URL: {parts.scheme}://{parts.netloc}{parts.path}",
                        "write it as https://host:port")
    if parts.username or parts.password:
        raise SiemError("credentials in the URL are not accepted", "pass them through the environment or keyring")
    if parts.scheme == "http" and not _loopback(parts.hostname) and tls.verify:
        raise SiemError(f"plain http:// to {parts.hostname} would send credentials in clear",
                        "use https:// (or, knowingly, --insecure)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def vendor_message(body: bytes) -> str:
    """The human part of a vendor's error body: Splunk ``messages[].text``, Azure/Graph ``error.message``,
    Elastic ``error.reason`` / ``message``, Entra ``error_description``."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip().splitlines()[0] if body.strip() else ""
    if not isinstance(doc, Mapping):
        return ""
    messages = doc.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
        return str(messages[0].get("text", ""))
    error = doc.get("error")
    if isinstance(error, Mapping):
        return str(error.get("message") or error.get("reason") or error.get("code") or "")
    if isinstance(doc.get("error_description"), str):
        return str(doc["error_description"]).splitlines()[0]
    return str(doc.get("message") or (error if isinstance(error, str) else ""))
