"""``detcov pull`` as a SOC engineer runs it: exit statuses, one-line errors, TLS verification, and the pulled
rules going through ``detcov rules check`` like any exported file."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
import siem_fakes as fk
from conftest import run_cli
from test_siem_connectors import TSTATS, _splunk_entries


@pytest.fixture
def splunk(monkeypatch: pytest.MonkeyPatch) -> Iterator[fk.FakeApi]:
    monkeypatch.setenv("SPLUNK_TOKEN", fk.SPLUNK_TOKEN)
    monkeypatch.setenv("COLUMNS", "80")
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        yield api


def test_pull_splunk_writes_snapshot_and_flow(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             splunk: fk.FakeApi, bundle18: Path) -> None:
    code, out, err = run_cli(capsys, "pull", "splunk", "--url", splunk.url, "--out", str(tmp_path / "p"))
    assert code == 0, err
    assert "splunk: rules: 5 saved searches → rules/savedsearches.conf" in out
    assert "splunk: flow: 2 index/sourcetype pairs → flow/splunk.csv" in out
    assert fk.SPLUNK_TOKEN not in out + err
    code, out, err = run_cli(capsys, "pull", "splunk", "--url", splunk.url, "--out", str(tmp_path / "p"))
    assert code == 0 and "reusing the pull of" in out  # cached
    code, out, err = run_cli(capsys, "rules", "check", str(tmp_path / "p" / "rules"), "--attack", str(bundle18))
    assert code == 0, err
    assert "1 files: 1 parsed into 3 rules, 0 skipped" in out  # read like an exported savedsearches.conf
    assert "│ disabled │     1 │" in out


def test_pull_partial_failure_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      splunk: fk.FakeApi) -> None:
    splunk.faults.append(fk.Fault("/services/search/jobs", 500, body={"messages": [
        {"type": "FATAL", "text": "Error in 'tstats' command: insufficient privileges"}]}))
    code, out, err = run_cli(capsys, "pull", "splunk", "--url", splunk.url, "--out", str(tmp_path / "p"))
    assert code == 1
    assert "flow: FAILED" in out and "insufficient privileges" in err
    doc = orjson.loads((tmp_path / "p" / "manifest.json").read_bytes())
    assert doc["parts"]["rules"]["status"] == "ok" and doc["parts"]["flow"]["status"] == "failed"


def test_pull_without_credentials_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SPLUNK_TOKEN", "SPLUNK_USERNAME", "SPLUNK_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("detcov.siem.credentials._keyring_lookup", lambda name: None)
    code, _, err = run_cli(capsys, "pull", "splunk", "--url", "https://127.0.0.1:1", "--out", str(tmp_path))
    assert code == 2
    assert err.strip().startswith("error: Splunk: no credentials — set SPLUNK_TOKEN")
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_pull_refuses_cleartext_and_warns_on_insecure(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                      splunk: fk.FakeApi) -> None:
    code, _, err = run_cli(capsys, "pull", "splunk", "--url", "http://splunk.bank.example:8089", "--out",
                           str(tmp_path))
    assert code == 2 and "would send credentials in clear" in err
    code, _, err = run_cli(capsys, "pull", "splunk", "--url", splunk.url, "--out", str(tmp_path / "p"),
                           "--insecure", "--rules-only")
    assert code == 0 and "NOT verified (--insecure)" in err
    assert orjson.loads((tmp_path / "p" / "manifest.json").read_bytes())["tls"] == "NOT verified (--insecure)"


@pytest.fixture
def tls_splunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """The Splunk fake over HTTPS with a self-signed certificate for 127.0.0.1 (made here with openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed: cannot make a test certificate")
    cert, key = tmp_path / "ca.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    api = fk.splunk_api(_splunk_entries(), TSTATS)
    server = ThreadingHTTPServer(("127.0.0.1", 0), fk._handler(api))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    api.url = f"https://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    monkeypatch.setenv("SPLUNK_TOKEN", fk.SPLUNK_TOKEN)
    try:
        yield api.url, cert
    finally:
        server.shutdown()
        server.server_close()


def test_tls_is_verified_and_a_ca_bundle_is_accepted(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     tls_splunk: tuple[str, Path]) -> None:
    url, cert = tls_splunk
    code, _, err = run_cli(capsys, "pull", "splunk", "--url", url, "--out", str(tmp_path / "a"), "--rules-only")
    assert code == 2 and "not trusted" in err and "--ca-bundle" in err
    code, out, err = run_cli(capsys, "pull", "splunk", "--url", url, "--out", str(tmp_path / "b"), "--rules-only",
                             "--ca-bundle", str(cert))
    assert code == 0, err
    assert "5 saved searches" in out
    assert orjson.loads((tmp_path / "b" / "manifest.json").read_bytes())["tls"] == f"verified (CA bundle {cert})"


def test_pull_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for vendor in ("splunk", "elastic", "sentinel", "defender"):
        code, out, _ = run_cli(capsys, "pull", vendor, "--help")
        assert code == 0 and "Examples:" in out and "detcov pull " + vendor in out
