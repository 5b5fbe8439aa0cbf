"""The routing plan and its nginx text: pure, so every rule is checked without Docker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.colors import COLORS, Color
from bluegreen.config.settings import parse_settings
from bluegreen.errors import SettingsError
from bluegreen.plan.derive import plan_from_settings, rollback_plan
from bluegreen.plan.model import parse_plan
from bluegreen.router.layout import ROUTING_DIR
from bluegreen.router.render import Rendered, render
from lab.paths import ROOT
from lab.stacks import stack_raw


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


def rendered(**changes: Any) -> Rendered:
    return render(parse_plan(plan(**changes)), "2026-01-01T00:00:00+00:00")


def state(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(rendered(**changes).state_json)
    return data


def test_state_names_targets_weights_and_the_preview() -> None:
    s = state(active="green", weights={"blue": 90, "green": 10}, stickiness="cookie")
    assert s["active"] == "green" and s["weights"] == {"blue": 90, "green": 10} and s["stickiness"] == "cookie"
    assert s["targets"] == {"blue": ["b1:8000", "b2:8000"], "green": ["g1:8000"]} and s["preview"] == "green"
    assert s["planHash"] == parse_plan(plan(active="green", weights={"blue": 90, "green": 10},
                                             stickiness="cookie")).plan_hash()  # fmt: skip


def test_an_alias_is_the_target_when_the_colour_has_one() -> None:
    colors = {"blue": {"containers": ["b1", "b2"], "alias": "blue-1-0-0"}, "green": {"containers": []}}
    s = state(colors=colors)
    assert s["targets"] == {"blue": ["blue-1-0-0:8000"]} and s["preview"] is None


def test_traffic_changes_keep_the_config_and_a_release_adds_its_upstream_groups() -> None:
    """What lets a flip skip the reload: only the router's own settings and the targets change the config hash."""
    base = rendered().config_hash
    assert rendered(active="green", weights={"blue": 10, "green": 90}).config_hash == base
    released = rendered(colors={"blue": {"containers": ["b9"]}, "green": {"containers": ["g7", "g8"]}})
    assert released.config_hash != base, "new targets bring their keep-alive groups"
    off = {"edge": {"upstreamKeepaliveSeconds": 0}}
    assert rendered(colors={"blue": {"containers": ["b9"]}, "green": {"containers": ["g7"]}}, **off).config_hash == (
        rendered(**off).config_hash
    ), "without keep-alive the config names no target"
    assert rendered(stickiness="ip").config_hash == base
    assert rendered(stickiness="cookie").config_hash == base, "stickiness is state: turning it on reloads nothing"
    assert rendered(drainSeconds=45).config_hash != base
    assert rendered(securityHeaders=False).config_hash != base
    assert rendered(rateLimit={"requestsPerSecond": 5}).config_hash != base


def test_config_routes_by_the_njs_decision_through_docker_dns() -> None:
    r = rendered(rateLimit={"requestsPerSecond": 5, "burst": 2})
    conf = r.http_conf
    assert f"js_import bg from {ROUTING_DIR}/current/router.js;" in conf
    assert "js_set $bg_js_route bg.live;" in conf and "js_set $bg_preview_route bg.preview;" in conf
    # The steady route comes from the generation's name, and only an empty one asks router.js.
    assert f"root {ROUTING_DIR}/current;" in conf and 'map $bg_steady_route $bg_route {\n    "" $bg_js_route;' in conf
    assert "resolver 127.0.0.11 valid=1s ipv6=off;" in conf
    assert conf.count("proxy_pass http://$bg_target_pass;") == 1
    assert "proxy_pass http://$bg_preview_target_pass;" in conf
    assert "add_header X-Bluegreen-Color $bg_color always;" not in conf, "live answers never say their colour"
    assert "add_header X-Bluegreen-Color $bg_preview_color always;" in conf, "the preview (the operator's) does"
    debug = rendered(edge={"colorHeader": True})
    assert "add_header X-Bluegreen-Color $bg_color always;" in debug.http_conf and debug.config_hash != r.config_hash
    assert "proxy_next_upstream error timeout http_502 http_503;" in conf
    assert "limit_req zone=bg_rate burst=2 nodelay;" in conf and "limit_req_status 429;" in conf
    assert "listen 127.0.0.1:8082;" in conf and f'set $bg_config_hash "{r.config_hash}";' in conf
    assert 'return 503 \'{"error":"no route"}\';' in conf
    assert "load_module modules/ngx_http_js_module.so;" in r.main_conf
    assert r.router_js == (ROOT / "bluegreen" / "router" / "router.js").read_text() and "export default" in r.router_js


def test_security_headers_toggle() -> None:
    assert 'add_header X-Frame-Options "DENY" always;' in rendered().http_conf
    assert "X-Frame-Options" not in rendered(securityHeaders=False).http_conf


def test_the_cookie_header_is_on_the_live_listener_and_its_value_comes_from_the_state() -> None:
    """router.js (setCookie) answers "" unless the state says cookie; nginx adds no header with an empty value."""
    for stickiness in ("cookie", "ip", "none"):
        assert rendered(stickiness=stickiness).http_conf.count("add_header Set-Cookie $bg_set_cookie always;") == 1


def test_drain_bound_is_a_main_context_directive() -> None:
    assert "worker_shutdown_timeout 45s;" in rendered(drainSeconds=45).main_conf
    assert "worker_shutdown_timeout 1s;" in rendered(drainSeconds=0).main_conf


def test_hash_is_stable_and_ignores_generation_time() -> None:
    p = parse_plan(plan())
    assert render(p, "A").config_hash == render(p, "B").config_hash
    assert render(p, "A").state_json != render(p, "B").state_json, "the state says when it was made"


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


@pytest.mark.parametrize(
    ("active", "weights"), [("green", {"blue": 10, "green": 90}), ("green", {"blue": 0, "green": 100})]
)
def test_rollback_plan_returns_everything_to_the_idle_colour(active: Color, weights: dict[str, int]) -> None:
    live = parse_plan(plan(active=active, weights=weights))
    back = rollback_plan(live)
    assert (back.active, back.weight("blue"), back.weight("green"), back.preview) == ("blue", 100, 0, "green")
    assert back.colors == live.colors


def test_edge_defaults_bound_bodies_and_timeouts_and_never_trust_a_clients_forwarded_for() -> None:
    conf = rendered().http_conf
    assert "client_max_body_size 10m;" in conf and "client_header_timeout 10s;" in conf
    assert (
        "client_body_timeout 30s;" in conf and conf.count("proxy_read_timeout 120s;") == 3
    )  # live, preview, the backup
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf and "$proxy_add_x_forwarded_for" not in conf
    assert "set_real_ip_from" not in conf and "limit_conn" not in conf and "proxy_protocol" not in conf


def test_edge_settings_reach_the_config() -> None:
    edge = {"maxBodyMb": 2, "proxyReadTimeoutSeconds": 600, "maxConnectionsPerClient": 50,
            "trustedProxies": ["10.0.0.0/8", "192.0.2.10"]}  # fmt: skip
    conf = rendered(edge=edge).http_conf
    assert "client_max_body_size 2m;" in conf and conf.count("proxy_read_timeout 600s;") == 3
    assert "limit_conn_zone $binary_remote_addr zone=bg_conn:10m;" in conf
    assert conf.count("limit_conn bg_conn 50;") == 1, "the live listener only"
    assert "set_real_ip_from 10.0.0.0/8;\nset_real_ip_from 192.0.2.10;" in conf
    assert "real_ip_header X-Forwarded-For;" in conf and "real_ip_recursive on;" in conf
    behind = rendered(edge={"trustedProxies": ["10.0.0.0/8"], "proxyProtocol": True}).http_conf
    assert (
        "listen 8080 default_server proxy_protocol reuseport;" in behind and "real_ip_header proxy_protocol;" in behind
    )
    assert rendered(edge=edge).config_hash != rendered().config_hash, "an edge change is a config change"


def test_tls_listens_on_8443_redirects_plain_http_and_reads_the_certificate_per_handshake() -> None:
    out = rendered(tls={"port": 443, "hsts": True})
    http_conf = out.http_conf
    assert "listen 8443 ssl default_server reuseport;" in http_conf and "listen 8081 ssl reuseport;" in http_conf
    assert "return 308 https://$bg_redirect_host$request_uri;" in http_conf, "port 443 is left out of the Location"
    assert "js_set $bg_tls_dir bg.tlsDir;" in http_conf and "ssl_certificate $bg_tls_dir/cert.pem;" in http_conf
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in http_conf
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in http_conf
    assert "return 308 https://$bg_redirect_host:8443$request_uri;" in rendered(tls={"port": 8443}).http_conf
    assert "ssl_session_tickets off;" in http_conf, "ticket keys would never rotate: the router never reloads"
    plain = rendered(tls={"port": 8443, "redirectHttp": False, "minVersion": "TLSv1.3"}).http_conf
    assert "return 308" not in plain and "ssl_protocols TLSv1.3;" in plain and "Strict-Transport" not in plain
    assert "ssl" not in rendered().http_conf, "no TLS unless asked"


def test_acme_challenges_are_answered_on_plain_http_before_the_redirect_and_nowhere_else() -> None:
    """HTTP-01 (tls.acme): files from the routing volume, ahead of the 308; no other listener serves them."""
    conf = rendered(tls={"port": 443}).http_conf
    challenge = f"location ^~ /.well-known/acme-challenge/ {{\n        alias {ROUTING_DIR}/acme-challenge/;"
    assert conf.count(challenge) == 1 and conf.index(challenge) < conf.index("return 308 https://")
    plain_server = conf[conf.index("listen 8080 default_server reuseport;") : conf.index("listen 8443 ssl")]
    assert challenge in plain_server
    assert challenge in rendered(tls={"port": 443, "redirectHttp": False}).http_conf
    assert "acme-challenge" not in rendered().http_conf, "without TLS there is nothing to prove"


def test_the_redirect_names_only_the_certificates_hosts_whatever_the_client_sends() -> None:
    conf = rendered(tls={"port": 443, "hostNames": ["shop.example.com", "*.example.org", "192.0.2.7"]}).http_conf
    assert ('map $host $bg_redirect_host {\n    default "shop.example.com";\n    "shop.example.com" $host;\n'
            '    "~^[^.]+\\.example\\.org$" $host;\n    "192.0.2.7" $host;\n}') in conf  # fmt: skip


def test_a_redirect_host_that_would_write_config_is_refused() -> None:
    from bluegreen.config.router import TlsListener
    from bluegreen.errors import SettingsError

    with pytest.raises((SettingsError, ValueError)):
        TlsListener.model_validate({"hostNames": ['evil.com";\n    default $host']})


def test_maintenance_and_the_allowlist_live_in_the_state_and_never_reload() -> None:
    base = rendered()
    on = rendered(maintenance={"enabled": True, "message": "Back soon", "retryAfterSeconds": 30},
                  rollout={"allowlistHeader": "X-Canary-Tester", "allowlist": ["tester-token-1"]})  # fmt: skip
    assert on.config_hash == base.config_hash and on.plan_hash != base.plan_hash
    state = json.loads(on.state_json)
    assert state["maintenance"] == {"message": "Back soon", "retryAfterSeconds": 30}
    assert state["allowlist"] == {"header": "x-canary-tester", "tokens": ["tester-token-1"]}
    assert json.loads(base.state_json)["maintenance"] is None
    assert "error_page 503 = @bg_unavailable;" in base.http_conf and "js_content bg.unavailable;" in base.http_conf


def test_every_listener_has_a_plain_twin_on_the_routers_loopback_for_smoke_checks() -> None:
    for out in (rendered(), rendered(tls={"port": 443})):
        assert "listen 127.0.0.1:8083;" in out.http_conf and "listen 127.0.0.1:8084;" in out.http_conf


def test_every_target_has_a_kept_alive_group_that_resolves_its_name_and_unknown_targets_fall_through() -> None:
    conf = rendered(colors={"blue": {"containers": ["b1"], "alias": "blue-1"}, "green": {"containers": ["g1"]}},
                    edge={"upstreamKeepaliveSeconds": 3}).http_conf  # fmt: skip
    groups = {line.split()[1] for line in conf.splitlines() if line.startswith("upstream ")}
    assert len(groups) == 2, conf
    for target in ("blue-1:8000", "g1:8000"):
        block = conf.split(f"server {target} resolve;")[0].rsplit("upstream ", 1)[1]
        name = block.split()[0]
        assert name in groups and f"zone {name} 64k;" in block
        assert f'    "{target}" {name};' in conf, "the map sends the target to its group"
    assert conf.count("keepalive 32;") == 2 and conf.count("keepalive_timeout 3s;") == 2
    assert "    default $bg_target;" in conf and "    default $bg_preview_target;" in conf
    assert "keepalive_min_timeout 5s;" in conf


def test_a_group_without_an_address_yet_sends_its_requests_to_the_loopback_that_resolves_per_request() -> None:
    """A fresh nginx (a bridge, a restarted router) or a group new in a reload has no address until its
    worker resolves the name: the backup takes those requests instead of a 502 "no live upstreams"."""
    conf = rendered().http_conf
    groups = [block for block in conf.split("upstream ")[1:] if block.startswith("bg_up_")]
    assert groups and all("    server 127.0.0.1:8085 backup;" in block.split("}")[0] for block in groups)
    assert conf.count("proxy_set_header X-Bluegreen-Target $bg_target;") == 1
    assert conf.count("proxy_set_header X-Bluegreen-Target $bg_preview_target;") == 1
    resolving = conf.split("listen 127.0.0.1:8085 reuseport;")[1].split("\n}")[0]
    assert "proxy_pass http://$http_x_bluegreen_target;" in resolving
    assert 'proxy_set_header X-Bluegreen-Target "";' in resolving, "the header goes no further"


def test_the_kept_alive_client_grace_stays_inside_the_drain_bound() -> None:
    assert "keepalive_min_timeout 2s;" in rendered(drainSeconds=3).http_conf
    assert "keepalive_min_timeout 1s;" in rendered(drainSeconds=1).http_conf


def test_containers_of_the_routers_networks_get_403_from_the_preview_but_not_its_gateway() -> None:
    conf = render(parse_plan(plan()), "t", stack_networks=[("172.30.0.0/16", "172.30.0.1")]).http_conf
    assert "geo $bg_preview_blocked {\n    default 0;\n    172.30.0.0/16 1;\n    172.30.0.1 0;\n}" in conf
    preview = conf.split("listen 8081", 1)[1].split("\n}", 1)[0]
    assert "if ($bg_preview_blocked) {" in preview and "return 403" in preview
    live = conf.split("listen 8080", 1)[1].split("\n}", 1)[0]
    assert "bg_preview_blocked" not in live, "the live listener serves everyone"
    assert "172.30.0.0/16 1;" not in rendered().http_conf, "no network known: nobody is blocked"
