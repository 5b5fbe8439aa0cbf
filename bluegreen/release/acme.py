"""Certificates through ACME (RFC 8555): one order, its HTTP-01 challenges answered by the router itself.

The router serves `/.well-known/acme-challenge/` on its plain listener from a
folder of its routing volume (bluegreen/router/render.py, ACME_LOCATION), so
a challenge is a file written and removed, never a reload. The certificate
that comes back is served through the same reload-free rotation as
`bluegreen tls install`; until then, and whenever an order fails, the router
keeps serving the certificate it had.

The account key lives in the routing volume beside the certificates (readable
by the router's user only, served by no listener); the certificate's key is
made here, for each order, and travels only to the router. Neither is logged
or written to Pulumi state: the program runs `bluegreen tls renew` with the
settings on stdin.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from bluegreen.config.tls import RENEW_DAYS_BEFORE, Acme, Certificate
from bluegreen.errors import AcmeError, RouterError

USER_AGENT = "bluegreen"
ORDER_TIMEOUT_SECONDS = 90


class AcmeRouter(Protocol):
    """What an order needs of the router (bluegreen.router.adapter.LiveRouter)."""

    def put_challenges(self, answers: Mapping[str, str]) -> None: ...

    def clear_challenges(self, tokens: Sequence[str]) -> None: ...

    def acme_account(self) -> str | None: ...

    def save_acme_account(self, text: str) -> None: ...


@dataclass(frozen=True)
class Issued:
    certificate: str  # PEM chain, leaf first
    key: str  # PEM private key, made for this order
    seconds: float


def renewal_reason(served: Certificate | None, acme: Acme, now: datetime) -> str | None:
    """Why a certificate is due now (none served, a name missing, fewer than RENEW_DAYS_BEFORE days left), or None."""
    if served is None:
        return "the router serves no certificate yet"
    missing = sorted(set(acme.hosts) - set(served.names))
    if missing:
        return f"the served certificate does not name {', '.join(missing)}"
    if now >= served.renew_after:
        return f"{served.days_left(now):.1f} days left (renewed from {RENEW_DAYS_BEFORE} days before expiry)"
    return None


def issue(acme: Acme, router: AcmeRouter, timeout: float = ORDER_TIMEOUT_SECONDS) -> Issued:
    """Order a certificate for acme.hosts and prove each name through the router; AcmeError in one line."""
    from acme import client, errors, messages
    from requests.exceptions import RequestException

    started = time.monotonic()
    try:
        net = client.ClientNetwork(
            _account_key(router), user_agent=USER_AGENT, verify_ssl=cast(Any, acme.ca_bundle or True)
        )
        directory = client.ClientV2.get_directory(acme.directory_url, net)
        server = client.ClientV2(directory, net)
        _register(server, net, acme.email)
        key_pem, csr = _key_and_csr(acme.hosts)
        order = server.new_order(csr)
        finished = _validate(server, net, router, order, timeout)
    except errors.ValidationError as exc:
        raise AcmeError(
            f"the ACME server refused the challenge ({_failed(exc)}); the served certificate is kept"
        ) from None
    except (errors.Error, messages.Error, RequestException, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AcmeError(
            f"ACME order at {acme.directory_url} failed ({detail}); the served certificate is kept"
        ) from None
    return Issued(str(finished.fullchain_pem), key_pem.decode(), time.monotonic() - started)


def _account_key(router: AcmeRouter) -> Any:
    """The account key the router keeps, or a new one saved there (a replaced routing volume starts a new one)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from josepy.jwk import JWK, JWKRSA

    kept = router.acme_account()
    if kept:
        return JWK.json_loads(kept)
    key = JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    router.save_acme_account(key.json_dumps())
    return key


def _register(server: Any, net: Any, email: str) -> None:
    from acme import errors, messages

    try:
        server.new_account(messages.NewRegistration.from_data(email=email, terms_of_service_agreed=True))
    except errors.ConflictError as exc:  # the key has an account already: use it
        net.account = server.query_registration(
            messages.RegistrationResource(uri=exc.location, body=messages.Registration())
        )


def _key_and_csr(hosts: Sequence[str]) -> tuple[bytes, bytes]:
    from acme import crypto_util
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, crypto_util.make_csr(pem, list(hosts))


def _validate(server: Any, net: Any, router: AcmeRouter, order: Any, timeout: float) -> Any:
    """Write every pending HTTP-01 answer, tell the server to look, wait for the certificate; the answers go after."""
    from acme import challenges, messages

    answers: dict[str, str] = {}
    responses = []
    for authz in order.authorizations:
        if authz.body.status == messages.STATUS_VALID:
            continue  # proven recently: CAs reuse a valid authorization (Let's Encrypt for 30 days)
        found = [c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)]
        if not found:
            raise RouterError(f"the ACME server offers no HTTP-01 challenge for {authz.body.identifier.value}")
        response, validation = found[0].response_and_validation(net.key)
        answers[found[0].chall.encode("token")] = validation
        responses.append((found[0], response))
    router.put_challenges(answers)
    try:
        for challenge, response in responses:
            server.answer_challenge(challenge, response)
        # The library compares naive local times (datetime.now()).
        deadline = datetime.now(UTC).astimezone().replace(tzinfo=None) + timedelta(seconds=timeout)
        return server.poll_and_finalize(order, deadline=deadline)
    finally:
        router.clear_challenges(sorted(answers))


def _failed(exc: Any) -> str:
    """`host: type: detail` of each refused authorization."""
    lines = []
    for authz in getattr(exc, "failed_authzrs", []) or []:
        for challenge in authz.body.challenges:
            if challenge.error is not None:
                kind = str(challenge.error.typ or "").rsplit(":", 1)[-1]
                lines.append(f"{authz.body.identifier.value}: {kind}: {challenge.error.detail}")
    return "; ".join(lines) or "no detail"
