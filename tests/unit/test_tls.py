"""bluegreen/config/tls.py: a pair the router could not serve is refused by key, and the key is never shown."""

from __future__ import annotations

import datetime

import pytest
import trustme

from bluegreen.config.settings import parse_settings
from bluegreen.config.tls import pair_problems, read_certificate
from lab.stacks import stack_raw, with_changes
from lab.tls import issue_pem

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_a_matching_current_pair_has_no_problems_and_reads_its_names(ca: trustme.CA) -> None:
    chain, key, fingerprint = issue_pem(ca)
    assert pair_problems(chain, key) == []
    info = read_certificate(chain)
    assert info.subject == "127.0.0.1" and "localhost" in info.names and info.fingerprint == fingerprint
    assert info.expiry_warning(NOW) is None
    assert "expires in 9.0 days" in str(info.expiry_warning(info.not_after - datetime.timedelta(days=9)))
    assert "expired at" in str(info.expiry_warning(info.not_after + datetime.timedelta(seconds=1)))


def test_each_unusable_pair_is_named_by_key_without_its_value(ca: trustme.CA) -> None:
    chain, key, _ = issue_pem(ca)
    _, other_key, _ = issue_pem(trustme.CA())
    cases = {
        "mismatch": (chain, other_key, "tls.key", "the private key of tls.certificate"),
        "not pem": ("hello", key, "tls.certificate", "a PEM certificate chain"),
        "no key": (chain, "-----BEGIN PRIVATE KEY-----\nzzQQ\n", "tls.key", "an unencrypted PEM private key"),
    }
    for name, (cert, private, where, allowed) in cases.items():
        (problem,) = pair_problems(cert, private)
        assert (problem.key, problem.value) == (where, "[not shown]") and allowed in problem.allowed, name
        for given in (cert, private):
            assert all(line not in problem.line() for line in given.splitlines()[1:-1] if line), name
    later = pair_problems(chain, key, now=NOW + datetime.timedelta(days=400))
    assert [p.key for p in later] == ["tls.certificate"] and "expired" in later[0].allowed


def test_stack_settings_check_the_pair_its_secrecy_and_its_port(ca: trustme.CA) -> None:
    chain, key, _ = issue_pem(ca)
    tls = {"certificate": chain, "key": key, "port": 8080}
    with pytest.raises(Exception, match=r"tls\.port: got 8080; allowed: a host port other than router\.port"):
        parse_settings(with_changes(stack_raw("dev"), {"tls": tls}), "dev", ["tls"])
    # A stack file's `secure:` values cannot be read offline: validate checks the rest.
    opaque = {"certificate": "[secret]", "key": "[secret]", "port": 443}
    settings = parse_settings(with_changes(stack_raw("dev"), {"tls": opaque}), "dev", ["tls.certificate", "tls.key"])
    assert settings.tls is not None and settings.tls.listener().port == 443
