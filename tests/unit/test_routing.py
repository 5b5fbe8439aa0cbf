"""The routing plan and its nginx text: pure, so every rule is checked without Docker."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bluegreen.conventions import COLORS, Color
from bluegreen.problems import SettingsError
from bluegreen.routing import STICKY_COOKIE, parse_plan, plan_from_settings, render, rollback_plan
from bluegreen.settings import parse_settings
from tests.support.stacks import stack_raw

ADDRESSES = {"b1": "10.0.0.2", "b2": "10.0.0.3", "g1": "10.0.0.4"}


def plan(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "deployment": "bluegreen-dev",
        "active": "blue",
        "weights": {"blue": 100, "green": 0},
        "colors": {"blue": {"version": "1.0.0", "containers": ["b1", "b2"]},
                   "green": {"version": "1.1.0", "containers": ["g1"]}},
    }  # fmt: skip
    raw.update(changes)
    return raw


def text(**changes: Any) -> str:
    return render(parse_plan(plan(**changes)), ADDRESSES, "2026-01-01T00:00:00+00:00").http_conf


def status_of(http_conf: str) -> dict[str, Any]:
    body = re.search(r"return 200 '(\{.*\})';", http_conf)
    assert body is not None
    data: dict[str, Any] = json.loads(body.group(1))
    return data


def test_single_colour_has_no_split_and_a_literal_header() -> None:
    conf = text()
    assert "split_clients" not in conf
    assert "proxy_pass http://bg_blue;" in conf
    assert "add_header X-Bluegreen-Color blue always;" in conf


def test_zero_percent_colour_is_left_out_of_live_traffic() -> None:
    conf = text(colors={"blue": {"containers": ["b1", "b2"]}, "green": {"containers": []}})
    assert "upstream bg_green" not in conf and "0%" not in conf
    assert "no preview colour" in conf


def test_canary_split_uses_exact_integer_weights() -> None:
    conf = text(active="green", weights={"blue": 90, "green": 10})
    assert re.search(r'split_clients "\$\{request_id\}" \$bg_color \{\n    10% green;\n    \* blue;\n\}', conf)
    assert "proxy_pass http://bg_$bg_color;" in conf


@pytest.mark.parametrize(("stickiness", "key"), [("none", "${request_id}"), ("ip", "${remote_addr}"),
                                                  ("cookie", "${bg_sticky_key}")])  # fmt: skip
def test_stickiness_picks_the_split_key(stickiness: str, key: str) -> None:
    conf = text(weights={"blue": 50, "green": 50}, stickiness=stickiness)
    assert f'split_clients "{key}"' in conf
    assert ("Set-Cookie $bg_set_cookie" in conf) == (stickiness == "cookie")
    assert (f"$cookie_{STICKY_COOKIE}" in conf) == (stickiness == "cookie")


def test_cookie_is_not_set_without_a_split() -> None:
    assert "Set-Cookie" not in text(stickiness="cookie")


def test_upstreams_list_addresses_with_names_and_keepalive() -> None:
    conf = text()
    assert "server 10.0.0.2:8000 max_fails=1 fail_timeout=2s;  # b1" in conf
    assert conf.count("keepalive 32;") == 2


def test_proxy_settings() -> None:
    conf = text()
    for needle in ("proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $bg_connection;",
                   "proxy_set_header X-Request-ID $bg_request_id;", "X-Forwarded-For $proxy_add_x_forwarded_for",
                   "proxy_next_upstream error timeout http_502 http_503;"):  # fmt: skip
        assert needle in conf
    assert "non_idempotent" not in conf


def test_security_headers_toggle() -> None:
    assert 'add_header X-Frame-Options "DENY" always;' in text()
    assert "X-Frame-Options" not in text(securityHeaders=False)


def test_rate_limit_answers_429() -> None:
    conf = text(rateLimit={"requestsPerSecond": 20, "burst": 5})
    assert "limit_req_zone $binary_remote_addr zone=bg_rate:10m rate=20r/s;" in conf
    assert "limit_req_status 429;" in conf and "limit_req zone=bg_rate burst=5 nodelay;" in conf
    assert "limit_req" not in text()


def test_status_is_loopback_only_and_reports_the_plan() -> None:
    rendered = render(parse_plan(plan(active="green", weights={"blue": 90, "green": 10})), ADDRESSES, "T")
    assert "listen 127.0.0.1:8082;" in rendered.http_conf
    status = status_of(rendered.http_conf)
    assert status["configHash"] == rendered.config_hash and status["planHash"] == rendered.plan_hash
    assert status["weights"] == {"blue": 90, "green": 10} and status["versions"]["green"] == "1.1.0"
    assert status["generatedAt"] == "T" and status["preview"] == "green" and status["active"] == "green"


def test_drain_bound_is_a_main_context_directive() -> None:
    rendered = render(parse_plan(plan(drainSeconds=45)), ADDRESSES, "T")
    assert "worker_shutdown_timeout 45s;" in rendered.main_conf
    assert "worker_shutdown_timeout" not in rendered.http_conf
    assert "worker_shutdown_timeout 1s;" in render(parse_plan(plan(drainSeconds=0)), ADDRESSES, "T").main_conf


def test_hash_is_stable_and_ignores_generation_time() -> None:
    p = parse_plan(plan())
    assert render(p, ADDRESSES, "A").config_hash == render(p, ADDRESSES, "B").config_hash


def test_hash_changes_when_an_address_changes() -> None:
    p = parse_plan(plan())
    moved = {**ADDRESSES, "b1": "10.0.0.9"}
    assert render(p, ADDRESSES, "T").config_hash != render(p, moved, "T").config_hash


def test_hash_changes_when_only_the_gate_changes() -> None:
    a = parse_plan(plan())
    b = parse_plan(plan(healthGate={"timeoutSeconds": 5, "intervalSeconds": 1, "successes": 1}))
    assert render(a, ADDRESSES, "T").config_hash != render(b, ADDRESSES, "T").config_hash


def test_missing_address_is_an_error() -> None:
    with pytest.raises(ValueError, match="no address for container"):
        render(parse_plan(plan()), {"b1": "10.0.0.2"}, "T")


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"weights": {"blue": 60, "green": 60}}, "weights"),
        ({"colors": {"blue": {"containers": []}, "green": {"containers": ["g1"]}}}, "colors.blue.containers"),
        (
            {"active": "green", "weights": {"blue": 90, "green": 10}, "colors": {"blue": {"containers": ["b1"]}}},
            "colors.green.containers",
        ),  # a canary share for an empty colour means nothing
        ({"preview": "green"}, "preview"),  # derived from active and weights, never given
        ({"active": "red"}, "active"),
        ({"stickiness": "sticky"}, "stickiness"),
        ({"colors": {"blue": {"containers": ["bad name"]}}}, "colors.blue.containers[0]"),
        ({"drainSeconds": -1}, "drainSeconds"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_plans_are_refused_by_key(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_plan(plan(**changes))
    assert key in [p.key for p in caught.value.problems], caught.value


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plan_from_each_shipped_stack(stack: str) -> None:
    settings = parse_settings(stack_raw(stack), stack)
    names: dict[Color, list[str]] = {c: [f"{c}-{i}" for i in range(settings.color(c).replicas)] for c in COLORS}
    p = plan_from_settings(settings, f"bluegreen-{stack}", names)
    assert p.weight(settings.active_color) == settings.traffic_weight == 100
    assert p.preview == ("green" if settings.active_color == "blue" else "blue")
    assert p.color("blue").containers == names["blue"]
    assert p.health_gate == settings.health_gate


@pytest.mark.parametrize(
    ("active", "weight", "split", "preview"),
    [
        ("green", 10, {"green": 10, "blue": 90}, "green"),  # canary: the preview shows the candidate
        ("green", 50, {"green": 50, "blue": 50}, "green"),
        ("green", 100, {"green": 100, "blue": 0}, "blue"),  # promoted: the preview shows the idle colour
        ("blue", 0, {"blue": 0, "green": 100}, "blue"),  # released, no traffic yet
    ],
)
def test_active_color_and_weight_mean_the_colour_promoted_to(
    active: Color, weight: int, split: dict[str, int], preview: Color
) -> None:
    raw = {**stack_raw("dev"), "activeColor": active, "trafficWeight": weight}
    settings = parse_settings(raw, "dev")
    p = plan_from_settings(settings, "bluegreen-dev", {"blue": ["b1"], "green": ["g1"]})
    assert {c: p.weight(c) for c in COLORS} == split
    assert (p.active, p.idle, p.preview) == (active, "blue" if active == "green" else "green", preview)


def test_the_active_colour_owns_the_low_hash_range_so_sticky_clients_keep_it_as_it_grows() -> None:
    for share in (10, 50):
        conf = text(active="green", weights={"blue": 100 - share, "green": share})
        assert re.search(rf"\{{\n    {share}% green;\n    \* blue;\n\}}", conf), conf


@pytest.mark.parametrize(
    ("active", "weights"), [("green", {"blue": 10, "green": 90}), ("green", {"blue": 0, "green": 100})]
)
def test_rollback_plan_returns_everything_to_the_idle_colour(active: Color, weights: dict[str, int]) -> None:
    live = parse_plan(plan(active=active, weights=weights))
    back = rollback_plan(live)
    assert (back.active, back.weight("blue"), back.weight("green"), back.preview) == ("blue", 100, 0, "green")
    assert back.colors == live.colors
