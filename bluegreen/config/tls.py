"""The router's certificate: checked before anything is changed, and how long it has left.

Pure functions over PEM text. The same check runs in `bluegreen validate`,
in the Pulumi program (stack config `tls`), in `bluegreen tls install` and in
`status` (the certificate the router serves), so a pair that does not match,
has expired or is about to is caught the same way everywhere. Messages name
the key and the certificate's dates and names, never the key material.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from bluegreen.config.problems import Problem
from bluegreen.config.types import Allowed, Model

# cryptography is imported where a certificate is parsed, not here: every CLI start
# (a rollback included) imports this module through the settings, and the import
# alone costs about 30 ms.

EXPIRY_WARNING_DAYS = 14
# `bluegreen tls renew` renews a certificate with fewer days left than this (Let's Encrypt's advice for 90-day
# certificates: two chances a month apart before it expires).
RENEW_DAYS_BEFORE = 30
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
AcmeHost = Annotated[
    str,
    StringConstraints(pattern=rf"^{_LABEL}(\.{_LABEL})+$", max_length=253),
    Allowed("a DNS name that points at this router, such as shop.example.com (HTTP-01: no wildcard, no IP)"),
]


class Acme(Model):
    """Certificates issued and renewed through ACME (RFC 8555), the HTTP-01 challenge answered by the router."""

    email: Annotated[
        str,
        StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254),
        Allowed("an e-mail address for the certificate authority's expiry notices"),
    ] = Field(description="Contact address of the ACME account.")
    hosts: list[AcmeHost] = Field(
        min_length=1, max_length=100, description="Names on the certificate; each must reach the router on port 80."
    )
    directory_url: Annotated[
        str, StringConstraints(pattern=r"^https://[\x21-\x7e]+$"), Allowed("an https:// ACME directory URL")
    ] = Field(LETS_ENCRYPT, description="The ACME server's directory (Let's Encrypt by default).")
    ca_bundle: str | None = Field(
        None,
        description="PEM file that the directory's own TLS certificate chains to, for a private ACME server; "
        "unset: the system's trust store.",
    )


HOW_TO_SET = 'pulumi config set --secret --path tls.{key} -- "$(cat {file})"'


@dataclass(frozen=True)
class Certificate:
    """What an operator needs to know about a served certificate: whose, until when, which one."""

    subject: str
    names: tuple[str, ...]
    not_after: datetime
    fingerprint: str  # sha256 of the leaf's DER, first 16 hex digits: tells two rotations apart
    issuer: str = ""

    @property
    def renew_after(self) -> datetime:
        """From when `bluegreen tls renew` replaces it."""
        return self.not_after - timedelta(days=RENEW_DAYS_BEFORE)

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def expiry_warning(self, now: datetime) -> str | None:
        """A line for `status` and `pulumi preview` when fewer than EXPIRY_WARNING_DAYS days are left."""
        left = self.days_left(now)
        if left >= EXPIRY_WARNING_DAYS:
            return None
        when = self.not_after.strftime("%Y-%m-%d %H:%M UTC")
        if left <= 0:
            return f"the TLS certificate for {self.subject} expired at {when}: clients refuse it; rotate it now"
        return (
            f"the TLS certificate for {self.subject} expires in {left:.1f} days ({when}); rotate it "
            "(docs/edge.md: Rotating the certificate)"
        )

    def summary(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "names": list(self.names),
            "notAfter": self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fingerprint": self.fingerprint,
            "issuer": self.issuer,
            "renewAfter": self.renew_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def read_certificate(pem: str) -> Certificate:
    """The leaf (first certificate) of a PEM chain; ValueError when there is none."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID, NameOID

    chain = x509.load_pem_x509_certificates(pem.encode())
    leaf = chain[0]
    common = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        alt = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = tuple(str(n.value) for n in alt)  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = ()
    subject = str(common[0].value) if common else (names[0] if names else leaf.subject.rfc4514_string())
    fingerprint = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()[:16]
    issuer = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    issued_by = str(issuer[0].value) if issuer else leaf.issuer.rfc4514_string()
    return Certificate(subject, names, leaf.not_valid_after_utc, fingerprint, issued_by)


def covers(name: str, host: str) -> bool:
    """Whether a certificate name serves `host`: itself, or a wildcard for exactly one label (RFC 6125)."""
    name, host = name.lower().rstrip("."), host.lower().rstrip(".")
    if name.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == name[2:]
    return name == host


def uncovered(hosts: list[str], names: list[str]) -> list[str]:
    """The hosts no name of a certificate serves: a browser refuses HTTPS to them."""
    return [h for h in hosts if not any(covers(n, h) for n in names)]


def _public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def pair_problems(certificate: str, key: str, now: datetime | None = None, where: str = "tls") -> list[Problem]:
    """Why the router could not serve this pair: unreadable, mismatched, not yet or no longer valid.

    Values are never shown (they sit under a secret key): each Problem names
    the key and says what is allowed.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = now or datetime.now(UTC)
    shown = "[not shown]"
    try:
        leaf = x509.load_pem_x509_certificates(certificate.encode())[0]
    except ValueError:
        allowed = "a PEM certificate chain, leaf first (-----BEGIN CERTIFICATE-----): " + HOW_TO_SET.format(
            key="certificate", file="fullchain.pem"
        )
        return [Problem(f"{where}.certificate", shown, allowed)]
    try:
        private = serialization.load_pem_private_key(key.encode(), password=None)
    except (ValueError, TypeError):
        allowed = "an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----): " + HOW_TO_SET.format(
            key="key", file="privkey.pem"
        )
        return [Problem(f"{where}.key", shown, allowed)]
    problems = []
    if _public(private.public_key()) != _public(leaf.public_key()):
        problems.append(Problem(f"{where}.key", shown, f"the private key of {where}.certificate (they do not match)"))
    if leaf.not_valid_before_utc > now:
        start = leaf.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")
        problems.append(Problem(f"{where}.certificate", shown, f"a certificate valid now (this one from {start})"))
    elif leaf.not_valid_after_utc <= now:
        end = leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
        problems.append(Problem(f"{where}.certificate", shown, f"a certificate valid now (this one expired {end})"))
    return problems
