"""Certificates from a throwaway CA, and a client that trusts only that CA: the TLS tests' tools."""

from __future__ import annotations

import datetime
import hashlib
import http.client
import ssl
import urllib.parse
from pathlib import Path

import trustme


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client that trusts only the test CA (given cadata, no system CA is loaded) and checks the name."""
    return ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())


def issue_pem(ca: trustme.CA, days: float = 90) -> tuple[str, str, str]:
    """A leaf for 127.0.0.1 signed by `ca`: (certificate chain PEM, key PEM, fingerprint as status shows it)."""
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue_cert("127.0.0.1", "localhost", not_before=now - datetime.timedelta(hours=1),
                         not_after=now + datetime.timedelta(days=days))  # fmt: skip
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems).decode()
    return chain, leaf.private_key_pem.bytes().decode(), hashlib.sha256(der).hexdigest()[:16]


def issue(ca: trustme.CA, folder: Path, name: str, days: float = 90) -> tuple[Path, Path, str]:
    """issue_pem() written to `<name>.crt` and `<name>.key` in `folder`."""
    chain, key, fingerprint = issue_pem(ca, days)
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_text(chain)
    key_file.write_text(key)
    return cert_file, key_file, fingerprint


def fetch(
    url: str, context: ssl.SSLContext | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One GET, redirects not followed; header names in lowercase."""
    parts = urllib.parse.urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, context=context, timeout=10)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def served_fingerprint(url: str, context: ssl.SSLContext) -> str:
    """The fingerprint of the certificate a new handshake with `url` gets."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, context=context, timeout=10)
    try:
        conn.connect()
        der = conn.sock.getpeercert(binary_form=True)
        return hashlib.sha256(der or b"").hexdigest()[:16]
    finally:
        conn.close()
