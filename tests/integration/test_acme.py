"""tls.acme against pebble (Debian's `pebble`, the ACME test server): issue, serve, renew under never-retrying
load, and a refused challenge that keeps the served certificate.

pebble validates HTTP-01 by fetching http://NAME:PORT/.well-known/acme-challenge/TOKEN; its DNS is
pebble-challtestsrv, which answers 127.0.0.1 for every name, and PORT is the router's published live port.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from bluegreen.router.layout import LIVE_PORT, TLS_PORT
from lab.deployment import Stack
from lab.dockercli import Container
from lab.prober import BackgroundProbe
from lab.tls import issue, served_fingerprint

pytestmark = pytest.mark.docker
LAB_NAME = "acme"  # the deployment the module's `stack` fixture builds (conftest.py)
HOST = "shop.bluegreen.test"
ACME_PORT, MANAGEMENT_PORT, DNS_PORT, CHALLTEST_PORT = 14000, 15000, 18053, 18055


def _wait(url: str, context: ssl.SSLContext | None) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise


@pytest.fixture(scope="module")
def pebble(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if shutil.which("pebble") is None or shutil.which("pebble-challtestsrv") is None:
        pytest.skip("pebble is not installed (Debian's pebble package; .ci/run installs it)")
    folder = tmp_path_factory.mktemp("pebble")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(folder / "api.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    live_port = Container(stack.net).host_port(LIVE_PORT)
    config = {"pebble": {
        "listenAddress": f"127.0.0.1:{ACME_PORT}", "managementListenAddress": f"127.0.0.1:{MANAGEMENT_PORT}",
        "certificate": str(folder / "api.pem"), "privateKey": str(folder / "api.pem"),
        "httpPort": live_port, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}  # fmt: skip
    (folder / "pebble.json").write_text(json.dumps(config))
    dns = subprocess.Popen(
        ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", f"127.0.0.1:{DNS_PORT}",
         "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{CHALLTEST_PORT}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    server = subprocess.Popen(
        ["pebble", "-config", str(folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{DNS_PORT}"],
        env=env, stdout=(folder / "pebble.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait(f"https://127.0.0.1:{ACME_PORT}/dir", ssl.create_default_context(cafile=str(folder / "ca.pem")))
        yield {"folder": folder, "directory": f"https://127.0.0.1:{ACME_PORT}/dir", "ca": str(folder / "ca.pem")}
    finally:
        for process in (server, dns):
            process.terminate()
            process.wait(timeout=10)


def renew(stack: Stack, pebble: dict[str, Any], hosts: list[str], *extra: str) -> Any:
    acme = {"email": "ops@bluegreen.test", "hosts": hosts, "directoryUrl": pebble["directory"],
            "caBundle": pebble["ca"]}  # fmt: skip
    return stack.cli("tls", "renew", "--stdin", *extra, stdin=json.dumps(acme), timeout=180)


def test_pebble_issues_renews_and_a_refused_challenge_keeps_the_certificate_under_load(
    blue_live: Stack, pebble: dict[str, Any], tmp_path: Path
) -> None:
    stack = blue_live
    port = Container(stack.net).host_port(TLS_PORT)
    assert stack.switch(stack.plan("blue", tls={"port": port})).returncode == 0
    cert, key, first = issue(trustme.CA(), tmp_path, "start")  # something to serve before the first order
    assert stack.cli("tls", "install", "--certificate", str(cert), "--key", str(key)).returncode == 0
    anyone = ssl.create_default_context()
    anyone.check_hostname, anyone.verify_mode = False, ssl.CERT_NONE  # pebble's root changes every run
    before = stack.reloads()
    prints = [first]
    with BackgroundProbe(stack.https_url(), connections=16, retry=False, tls=anyone, reconnect_every=5) as load:
        issued = renew(stack, pebble, [HOST])
        assert issued.returncode == 0, issued.stderr
        assert "ordering a certificate for shop.bluegreen.test (the served certificate does not name" in issued.stderr
        prints.append(served_fingerprint(stack.https_url(), anyone))
        report = json.loads(stack.cli("status", "--json").stdout)["certificate"]
        assert report["names"] == [HOST] and report["issuer"].startswith("Pebble Intermediate CA"), report
        assert report["fingerprint"] == prints[-1] != first and report["renewAfter"] < report["notAfter"]
        quiet = renew(stack, pebble, [HOST])  # not due: nothing is ordered
        assert quiet.returncode == 0 and "renews from" in quiet.stdout, quiet.stdout + quiet.stderr
        again = renew(stack, pebble, [HOST], "--force")
        assert again.returncode == 0, again.stderr
        prints.append(served_fingerprint(stack.https_url(), anyone))
        # A name whose address does not reach this router: the challenge is refused, the served certificate stays.
        gone = json.dumps({"host": "gone.bluegreen.test.", "addresses": ["127.0.0.9"]}).encode()
        urllib.request.urlopen(f"http://127.0.0.1:{CHALLTEST_PORT}/add-a", data=gone, timeout=10).close()
        refused = renew(stack, pebble, [HOST, "gone.bluegreen.test"], "--force")
        load.keep_until(3000)
    assert prints[2] != prints[1], "a forced renewal serves a new certificate"
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 2, refused.stderr
    assert "the served certificate is kept" in refused.stderr
    assert served_fingerprint(stack.https_url(), anyone) == prints[2]
    stats = load.stats
    assert stats.failed == 0 and not stats.errors and stats.retried == 0, (stats.requests, stats.errors)
    assert stack.reloads() == before, "an order and its challenges reload nothing"
