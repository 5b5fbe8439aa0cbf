"""pebble, the ACME test server (Debian's `pebble` package), and its DNS, for tests and the bench.

pebble validates HTTP-01 by fetching http://NAME:PORT/.well-known/acme-challenge/TOKEN. Its DNS is
pebble-challtestsrv, which answers 127.0.0.1 for every name (and what `point` adds), and PORT is the
router's published live port, so every name reaches the router under test.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

ACME_PORT, MANAGEMENT_PORT, DNS_PORT, CHALLTEST_PORT = 14000, 15000, 18053, 18055


def missing() -> str | None:
    """Why pebble cannot run here, or None."""
    if shutil.which("pebble") is None or shutil.which("pebble-challtestsrv") is None:
        return "pebble is not installed (Debian's pebble package; .ci/run installs it)"
    return None


@dataclass(frozen=True)
class Pebble:
    directory: str  # the ACME directory URL
    ca_bundle: str  # the PEM file its API's TLS certificate chains to

    def acme(self, hosts: list[str]) -> dict[str, object]:
        """tls.acme for these hosts, against this server."""
        return {"email": "ops@bluegreen.test", "hosts": hosts, "directoryUrl": self.directory,
                "caBundle": self.ca_bundle}  # fmt: skip

    def point(self, host: str, address: str) -> None:
        """Make `host` resolve to `address` (one that does not reach the router refuses its challenge)."""
        body = json.dumps({"host": host.rstrip(".") + ".", "addresses": [address]}).encode()
        urllib.request.urlopen(f"http://127.0.0.1:{CHALLTEST_PORT}/add-a", data=body, timeout=10).close()


def _wait(url: str, context: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def pebble(http_port: int, folder: Path) -> Iterator[Pebble]:
    """pebble and its DNS for as long as the block runs; challenges go to 127.0.0.1:`http_port`."""
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(folder / "api.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    config = {"pebble": {
        "listenAddress": f"127.0.0.1:{ACME_PORT}", "managementListenAddress": f"127.0.0.1:{MANAGEMENT_PORT}",
        "certificate": str(folder / "api.pem"), "privateKey": str(folder / "api.pem"),
        "httpPort": http_port, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}  # fmt: skip
    (folder / "pebble.json").write_text(json.dumps(config))
    dns = subprocess.Popen(
        ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", f"127.0.0.1:{DNS_PORT}",
         "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{CHALLTEST_PORT}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # No random nonce rejections and no validation delay: a test measures bluegreen, not pebble's chaos. A valid
    # authorization is always reused, as Let's Encrypt does for 30 days: a renewal must not answer it again.
    env = {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "100"}
    server = subprocess.Popen(
        ["pebble", "-config", str(folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{DNS_PORT}"],
        env=env, stdout=(folder / "pebble.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait(f"https://127.0.0.1:{ACME_PORT}/dir", ssl.create_default_context(cafile=str(folder / "ca.pem")))
        yield Pebble(f"https://127.0.0.1:{ACME_PORT}/dir", str(folder / "ca.pem"))
    finally:
        for process in (server, dns):
            process.terminate()
            process.wait(timeout=10)
