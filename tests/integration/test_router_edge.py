"""The router at the edge on a real nginx: TLS from a throwaway CA, rotation and maintenance under load,
a canary cookie no client can forge.

One deployment for the module (2 blue + 2 green); each test starts from blue
at 100% over plain HTTP and says what it changes. Every request goes to
127.0.0.1 (the router's published ports) and is counted.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trustme

from bluegreen.router.layout import TLS_PORT
from lab.deployment import Stack
from lab.dockercli import Container, docker, get
from lab.prober import BackgroundProbe
from lab.tls import client_context, fetch, issue, served_fingerprint

pytestmark = pytest.mark.docker
LAB_NAME = "edge"  # the deployment the module's `stack` fixture builds (conftest.py)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def install(stack: Stack, cert: Path, key: Path) -> str:
    done = stack.cli("tls", "install", "--certificate", str(cert), "--key", str(key))
    assert done.returncode == 0, done.stderr
    return done.stdout


def tls_plan(stack: Stack, **tls: Any) -> dict[str, Any]:
    port = Container(stack.net).host_port(TLS_PORT)  # the host port the redirect names
    return stack.plan("blue", tls={"port": port, **tls})


def test_https_verifies_against_the_test_ca_and_plain_http_redirects_with_308(
    blue_live: Stack, ca: trustme.CA, tmp_path: Path
) -> None:
    stack = blue_live
    cert, key, fingerprint = issue(ca, tmp_path, "first")
    assert "serving the certificate for 127.0.0.1" in install(stack, cert, key)
    assert stack.switch(tls_plan(stack, hsts=True)).returncode == 0
    context = client_context(ca)
    status, headers, _ = fetch(stack.https_url() + "/", context)
    assert status == 200 and headers["x-bluegreen-color"] == "blue", (status, headers)
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert served_fingerprint(stack.https_url(), context) == fingerprint
    status, headers, _ = fetch(stack.url() + "/health/ready?probe=1")
    assert status == 308 and headers["location"] == f"{stack.https_url()}/health/ready?probe=1", headers
    with pytest.raises(ssl.SSLCertVerificationError):
        fetch(stack.https_url() + "/", ssl.create_default_context())  # trusts the system CAs only
    preview = fetch(stack.https_url(preview=True) + "/", context)
    assert preview[0] == 200 and preview[1]["x-bluegreen-color"] == "green", "the preview speaks TLS too"
    smoke = stack.cli("smoke", "--path", "/health/ready", "--tries", "3", "--interval", "0.5")
    assert smoke.returncode == 0, smoke.stderr
    report = json.loads(stack.cli("status", "--json").stdout)
    assert report["certificate"]["fingerprint"] == fingerprint and report["certificate"]["subject"] == "127.0.0.1"
    # Without the redirect, plain HTTP serves as before.
    assert stack.switch(tls_plan(stack, redirectHttp=False)).returncode == 0
    assert fetch(stack.url() + "/")[0] == 200


def test_ten_rotations_under_load_fail_no_request_and_reload_nothing(
    blue_live: Stack, ca: trustme.CA, tmp_path: Path
) -> None:
    stack = blue_live
    cert, key, _ = issue(ca, tmp_path, "start")
    install(stack, cert, key)
    assert stack.switch(tls_plan(stack)).returncode == 0
    context = client_context(ca)
    before = stack.reloads()
    seen = set()
    # Every connection closes after 5 requests: handshakes keep happening while certificates change.
    with BackgroundProbe(stack.https_url(), connections=16, tls=context, reconnect_every=5, settle_seconds=1) as load:
        for i in range(10):
            cert, key, fingerprint = issue(ca, tmp_path, f"rotation-{i}")
            install(stack, cert, key)
            assert served_fingerprint(stack.https_url(), context) == fingerprint, "the next handshake serves it"
            seen.add(fingerprint)
        load.keep_until(500)
    stats = load.stats
    assert len(seen) == 10
    assert stats.failed == 0 and not stats.errors, (stats.requests, stats.errors)
    assert stack.reloads() == before, "a rotation reloads nothing"


def test_an_expiring_certificate_is_a_warning_in_status(blue_live: Stack, ca: trustme.CA, tmp_path: Path) -> None:
    cert, key, _ = issue(ca, tmp_path, "short", days=5)
    done = blue_live.cli("tls", "install", "--certificate", str(cert), "--key", str(key))
    assert done.returncode == 0, done.stderr
    assert re.search(r"warning: the TLS certificate for 127\.0\.0\.1 expires in (4\.9|5\.0) days", done.stderr)
    status = blue_live.cli("status")
    assert "warning: the TLS certificate for 127.0.0.1 expires in" in status.stderr, status.stderr
    other = trustme.CA().issue_cert("127.0.0.1")
    key_file = tmp_path / "other.key"
    key_file.write_bytes(other.private_key_pem.bytes())
    refused = blue_live.cli("tls", "install", "--certificate", str(cert), "--key", str(key_file))
    assert refused.returncode == 2 and "tls.key: got '[not shown]'; allowed: the private key of tls.certificate" in (
        refused.stderr
    ), refused.stderr


def test_maintenance_on_and_off_under_load_breaks_no_request(blue_live: Stack) -> None:
    stack = blue_live
    before = stack.reloads()
    slow: dict[str, int] = {}
    caller = threading.Thread(target=lambda: slow.update(status=fetch(stack.url() + "/slow?seconds=2")[0]))
    with BackgroundProbe(stack.url(), connections=16, settle_seconds=1) as load:
        caller.start()
        time.sleep(0.3)  # the slow request is in flight at the app when maintenance begins
        on = stack.cli("maintenance", "on", "--retry-after", "30", "--message", "Back at 10:00")
        assert on.returncode == 0, on.stderr
        caller.join(timeout=15)
        assert slow == {"status": 200}, "a request in flight finishes"
        status, headers, body = fetch(stack.url() + "/")
        assert status == 503 and headers["retry-after"] == "30", (status, headers)
        assert json.loads(body) == {"error": "maintenance", "message": "Back at 10:00", "retryAfterSeconds": 30}
        html = fetch(stack.url() + "/", headers={"Accept": "text/html"})
        assert html[1]["content-type"].startswith("text/html") and b"Back at 10:00" in html[2]
        assert fetch(stack.url(preview=True) + "/")[0] == 200, "the preview keeps serving the candidate"
        assert "MAINTENANCE: live answers 503 (Retry-After 30)" in stack.cli("status").stdout
        off = stack.cli("maintenance", "off")
        assert off.returncode == 0, off.stderr
        assert fetch(stack.url() + "/")[0] == 200
    statuses = Counter(s.status for s in load.stats.samples)
    assert set(statuses) == {200, 503} and not load.stats.errors, (statuses, load.stats.errors)
    assert statuses[503] > 50 and statuses[200] > 50, statuses
    assert stack.reloads() == before, "entering and leaving maintenance publish state only"


def test_a_forged_bucket_cookie_does_not_choose_the_colour(blue_live: Stack) -> None:
    stack = blue_live
    assert stack.switch(stack.plan("green", 50, stickiness="cookie")).returncode == 0
    status, headers, _ = fetch(stack.url() + "/")
    real = headers["set-cookie"].split(";")[0]
    cookie_id, _, mac = real.removeprefix("bg_bucket=").partition(".")
    assert status == 200 and len(mac) == 22
    color = headers["x-bluegreen-color"]
    kept = Counter(fetch(stack.url() + "/", headers={"Cookie": real})[1]["x-bluegreen-color"] for _ in range(10))
    assert kept == Counter({color: 10}), "a signed cookie keeps its colour"
    forged = f"bg_bucket={cookie_id}x.{mac}"
    answers = [fetch(stack.url() + "/", headers={"Cookie": forged})[1] for _ in range(40)]
    assert {a["x-bluegreen-color"] for a in answers} == {"blue", "green"}, "a forged cookie decides nothing"
    assert all(a.get("set-cookie", "").startswith("bg_bucket=") for a in answers), "and is replaced"


def test_the_preview_refuses_containers_of_the_stack_network_and_serves_the_host(blue_live: Stack) -> None:
    """An SSRF in the live app must not reach the unreleased colour through the router."""
    stack = blue_live
    assert stack.switch(stack.plan("blue")).returncode == 0
    fetch_from_app = (
        "import urllib.request, urllib.error\n"
        "for port in (8080, 8081):\n"
        "    try:\n"
        f"        print(port, urllib.request.urlopen('http://{stack.net}:%d/' % port, timeout=5).status)\n"
        "    except urllib.error.HTTPError as e:\n"
        "        print(port, e.code, e.read().decode())\n"
    )
    out = docker("exec", stack.containers["blue"][0], "python", "-c", fetch_from_app).stdout.splitlines()
    assert out[0] == "8080 200", out
    assert out[1].startswith("8081 403") and "not for containers of the stack network" in out[1], out
    status, headers, _ = get(stack.url(preview=True) + "/")
    assert status == 200 and headers["X-Bluegreen-Color"] == "green", "through the published port it serves"
