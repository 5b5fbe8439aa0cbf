"""tls.acme against pebble (Debian's `pebble`, the ACME test server): issue, serve, renew under never-retrying
load, and a refused challenge that keeps the served certificate.

pebble validates HTTP-01 by fetching http://NAME:PORT/.well-known/acme-challenge/TOKEN; its DNS is
pebble-challtestsrv, which answers 127.0.0.1 for every name, and PORT is the router's published live port
(lab/pebble.py, which the bench uses too).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from bluegreen.router.layout import LIVE_PORT, TLS_PORT
from lab.deployment import Stack
from lab.dockercli import Container
from lab.pebble import Pebble, missing, pebble
from lab.prober import BackgroundProbe
from lab.tls import issue, served_fingerprint

pytestmark = pytest.mark.docker
LAB_NAME = "acme"  # the deployment the module's `stack` fixture builds (conftest.py)
HOST = "shop.bluegreen.test"


@pytest.fixture(scope="module")
def acme_server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    with pebble(Container(stack.net).host_port(LIVE_PORT), tmp_path_factory.mktemp("pebble")) as server:
        yield server


def renew(stack: Stack, server: Pebble, hosts: list[str], *extra: str) -> Any:
    return stack.cli("tls", "renew", "--stdin", *extra, stdin=json.dumps(server.acme(hosts)), timeout=180)


def test_pebble_issues_renews_and_a_refused_challenge_keeps_the_certificate_under_load(
    blue_live: Stack, acme_server: Pebble, tmp_path: Path
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
        issued = renew(stack, acme_server, [HOST])
        assert issued.returncode == 0, issued.stderr
        assert "ordering a certificate for shop.bluegreen.test (the served certificate does not name" in issued.stderr
        prints.append(served_fingerprint(stack.https_url(), anyone))
        report = json.loads(stack.cli("status", "--json").stdout)["certificate"]
        assert report["names"] == [HOST] and report["issuer"].startswith("Pebble Intermediate CA"), report
        assert report["fingerprint"] == prints[-1] != first and report["renewAfter"] < report["notAfter"]
        text = stack.cli("status").stdout
        assert f"tls: {HOST} from Pebble Intermediate CA" in text and f"renews from {report['renewAfter']}" in text
        quiet = renew(stack, acme_server, [HOST])  # not due: nothing is ordered
        assert quiet.returncode == 0 and "renews from" in quiet.stdout, quiet.stdout + quiet.stderr
        again = renew(stack, acme_server, [HOST], "--force")
        assert again.returncode == 0, again.stderr
        prints.append(served_fingerprint(stack.https_url(), anyone))
        # A name whose address does not reach this router: the challenge is refused, the served certificate stays.
        acme_server.point("gone.bluegreen.test", "127.0.0.9")
        refused = renew(stack, acme_server, [HOST, "gone.bluegreen.test"], "--force")
        load.keep_until(3000)
    assert prints[2] != prints[1], "a forced renewal serves a new certificate"
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 2, refused.stderr
    assert "the served certificate is kept" in refused.stderr
    assert served_fingerprint(stack.https_url(), anyone) == prints[2]
    stats = load.stats
    assert stats.failed == 0 and not stats.errors and stats.retried == 0, (stats.requests, stats.errors)
    assert stack.reloads() == before, "an order and its challenges reload nothing"
