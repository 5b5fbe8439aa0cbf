"""Several apps behind one router, without Docker: settings, the owner's config, the app's files, the
program's resources under mocks, the test engine's StackReference and the join's outcomes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from bluegreen.cli.main import main
from bluegreen.config.settings import parse_settings
from bluegreen.config.tls import covers
from bluegreen.errors import HostTakenError, LockHeldError, RouterError, SettingsError
from bluegreen.plan.model import parse_plan
from bluegreen.release import join
from bluegreen.router.apps import JoinedApp, parse_names
from bluegreen.router.render import render
from bluegreen.router.scripts import ScriptExit
from lab import engine
from lab.pulumi_harness import RecordingMocks, run_program
from lab.stacks import stack_raw, with_changes

BASE = {"activeColor": "blue", "blue": {"version": "1.0.0"}, "green": {"version": "1.0.1"}}
OWNER_REF = "organization/bluegreen/front"
EDGE = {"deployment": "bluegreen-front", "network": "bluegreen-front-edge", "scheme": "https", "port": 443}


def problems(router: dict[str, Any], **top: Any) -> list[str]:
    with pytest.raises(SettingsError) as refused:
        parse_settings({**BASE, "router": router, **top}, "dev")
    return [f"{p.key}: {p.allowed}" for p in refused.value.problems]


def test_a_joined_app_names_its_hosts_and_sets_nothing_the_owner_does() -> None:
    assert problems({"hosts": ["shop.test"]}) == ["router.hosts: empty unless router.join is set"]
    assert problems({"join": OWNER_REF}) == ["router.hosts: the host names the shared router sends to this app"]
    assert problems({"join": OWNER_REF, "hosts": ["a.test", "A.test"]}) == ["router.hosts: each host name once"]
    refused = problems({"join": OWNER_REF, "hosts": ["a.test"], "shared": True, "edge": {"proxyProtocol": True,
                        "trustedProxies": ["10.0.0.0/8"]}}, orchestrator="swarm")  # fmt: skip
    assert [line.split(":")[0] for line in refused] == ["router.shared", "router.edge.proxyProtocol", "orchestrator"]
    assert problems({"join": "not a stack"})[0].startswith("router.join: the owner's stack as Pulumi names it")
    settings = parse_settings({**BASE, "router": {"join": OWNER_REF, "hosts": ["*.shop.test"]}}, "dev")
    assert settings.router.hosts == ["*.shop.test"]


def test_an_apps_files_name_its_hosts_its_group_and_its_router() -> None:
    app = JoinedApp("bluegreen-shop", ("Shop.test", "www.shop.test"), "bluegreen-shop-router-net:8080")
    files = app.files()
    assert parse_names(files["apps/bluegreen-shop.names"]) == ["shop.test", "www.shop.test"]
    assert files["apps/bluegreen-shop.map"] == f"shop.test {app.upstream};\nwww.shop.test {app.upstream};\n"
    assert "server bluegreen-shop-router-net:8080 resolve;" in files["apps/bluegreen-shop.upstream"]
    assert JoinedApp("bluegreen-shop", ("shop.test",), app.target).upstream != app.upstream, "a change is seen"


def plan_of(**router: Any) -> Any:
    settings = parse_settings({**BASE, "router": router}, "dev")
    from bluegreen.plan.derive import plan_from_settings

    return plan_from_settings(settings, "bluegreen-x", {"blue": ["b1"], "green": ["g1"]}, {"blue": "a", "green": "g"})


def test_a_shared_router_serves_its_apps_from_their_files_and_a_joined_one_believes_the_edge() -> None:
    plain = render(plan_of(), "now").http_conf
    assert "apps/" not in plain and "bg_forwarded_proto" not in plain
    shared = render(plan_of(shared=True), "now").http_conf
    assert "include /etc/nginx/bluegreen/apps/*.upstream;" in shared
    assert "include /etc/nginx/bluegreen/apps/*.names;" in shared and "proxy_pass http://$bg_app;" in shared
    assert shared.count("server_name bluegreen-no-app.invalid;") == 1
    joined = render(plan_of(join=OWNER_REF, hosts=["shop.test"]), "now", edge_networks=["172.23.0.0/16"]).http_conf
    assert "set_real_ip_from 172.23.0.0/16;" in joined and "real_ip_header X-Forwarded-For;" in joined
    assert "proxy_set_header X-Forwarded-Proto $bg_forwarded_proto;" in joined
    assert "    172.23.0.0/16 1;" in joined
    # Unset, sharing stays out of the plan's hash: an upgrade is no change.
    assert "shared" not in plan_of().canonical() and '"shared":true' in plan_of(shared=True).canonical()


def test_a_shared_router_with_tls_redirects_its_apps_and_serves_them_with_its_certificate() -> None:
    raw = json.loads(plan_of(shared=True).model_dump_json(by_alias=True))
    raw["tls"] = {"port": 443, "redirectHttp": True, "hsts": True, "minVersion": "TLSv1.2", "hostNames": []}
    conf = render(parse_plan(raw), "now").http_conf
    apps = conf[conf.index("include /etc/nginx/bluegreen/apps/*.upstream;") :]
    assert "return 308 https://$host$request_uri;" in apps and "location ^~ /.well-known/acme-challenge/" in apps
    assert "listen 8443 ssl;" in apps and 'add_header Strict-Transport-Security "max-age=31536000" always;' in apps


def run(raw: dict[str, Any], stack: str, mocks: RecordingMocks | None = None) -> Any:
    return run_program(with_changes(stack_raw("dev"), {"docker.local": True, **raw}), stack=stack, mocks=mocks)


def test_the_owner_exports_its_edge_and_an_app_joins_it_by_reference() -> None:
    owner = run({"router.shared": True}, "front")
    assert owner.outputs["edge"] == {**EDGE, "scheme": "http", "port": 8080, "names": []}
    net = next(r for r in owner.resources if r.name == "app-router-net")
    assert net.inputs["networksAdvanced"] == [{"name": "bluegreen-front-net"}, {"name": "bluegreen-front-edge"}]

    mocks = RecordingMocks(stack_outputs={OWNER_REF: {"edge": EDGE}})
    app = run({"router.join": OWNER_REF, "router.hosts": ["shop.test"]}, "shop", mocks)
    assert app.outputs["url"] == "https://shop.test" and "edge" not in app.outputs
    assert [r.name for r in app.by_type("pulumi:pulumi:StackReference")] == [OWNER_REF]
    net = next(r for r in app.resources if r.name == "app-router-net")
    assert net.inputs["networksAdvanced"] == [{"name": "bluegreen-shop-net"}, {"name": "bluegreen-front-edge"}]
    assert [int(p["internal"]) for p in net.inputs["ports"]] == [8081], "no live port of its own"
    entry = next(r for r in app.resources if r.name == "app-join")
    assert entry.inputs["create"].endswith("router join --stack shop --project bluegreen --owner bluegreen-front "
                                           "--hosts shop.test")  # fmt: skip
    assert " router leave " in entry.inputs["delete"] and entry.inputs["update"] == entry.inputs["create"]
    assert entry.inputs["triggers"] == ["bluegreen-front"], "another owner replaces the entry; new hosts update it"
    assert any(d.endswith("command:local:Command::app-switch") for d in entry.dependencies), "after its switch"


@pytest.mark.parametrize(("name", "host", "served"), [
    ("shop.test", "shop.test", True), ("SHOP.test.", "shop.TEST", True), ("*.test", "shop.test", True),
    ("*.test", "a.shop.test", False), ("*.test", "test", False), ("blog.test", "shop.test", False),
])  # fmt: skip
def test_a_certificate_name_covers_itself_or_one_label_under_a_wildcard(name: str, host: str, served: bool) -> None:
    assert covers(name, host) is served


def test_an_app_whose_hosts_the_owners_certificate_does_not_name_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    owner = run({"router.shared": True, "tls": {"acme": {"directoryUrl": "https://acme.test/dir", "email": "ops@a.test",
                 "hosts": ["front.test", "shop.test"]}}}, "front")  # fmt: skip
    assert owner.outputs["edge"]["names"] == ["front.test", "shop.test"]
    for names, scheme, warned in ((["front.test"], "https", True), (["*.test"], "https", False),
                                  (["front.test"], "http", False)):  # fmt: skip
        caplog.clear()
        mocks = RecordingMocks(stack_outputs={OWNER_REF: {"edge": {**EDGE, "scheme": scheme, "names": names}}})
        with caplog.at_level("WARNING"):
            run({"router.join": OWNER_REF, "router.hosts": ["shop.test"]}, "shop", mocks)
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("router.hosts:")]
        assert len(said) == warned, (names, scheme, said)
        assert all(f"shop.test not among the names of {OWNER_REF}'s certificate (front.test)" in line for line in said)


def test_joining_a_stack_that_shares_nothing_stops_before_any_change() -> None:
    mocks = RecordingMocks(stack_outputs={OWNER_REF: {"edge": "nothing"}})
    with pytest.raises(pulumi.RunError, match="exports no shared router"):
        run({"router.join": OWNER_REF, "router.hosts": ["shop.test"]}, "shop", mocks)


def test_the_test_engine_reads_a_reference_from_the_other_stacks_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "STATE_DIR", tmp_path)
    assert engine.stack_outputs(OWNER_REF) == {}
    engine.state_file("front").write_text(json.dumps({"seq": 1, "resources": {}, "outputs": {"edge": EDGE}}))
    assert engine.stack_outputs(OWNER_REF) == {"edge": EDGE}


class FakeOwner:
    container = "bluegreen-front-router"

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def run(self, name: str, args: list[str]) -> tuple[int, str]:
        self.calls.append(args)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


APP = JoinedApp("bluegreen-shop", ("*.shop.test",), "bluegreen-shop-router-net:8080")


def test_a_join_waits_for_the_lock_and_says_whose_host_it_wanted() -> None:
    owner = FakeOwner((ScriptExit.LOCK_LOST, "held x"), (ScriptExit.OK, ""))
    assert "served by the shared router" in join.join(owner, APP)  # type: ignore[arg-type]
    assert len(owner.calls) == 2 and owner.calls[0][7] == "bluegreen-check.shop.test"
    with pytest.raises(HostTakenError, match=r"shop\.test is already served by bluegreen-blog"):
        join.join(FakeOwner((ScriptExit.HOST_TAKEN, "taken shop.test bluegreen-blog\n")), APP)  # type: ignore[arg-type]
    with pytest.raises(RouterError, match=r"is not a shared router: set router\.shared: true"):
        join.leave(FakeOwner((ScriptExit.NOT_SHARED, "")), APP)  # type: ignore[arg-type]
    ticks = iter(range(0, 1000, 30))
    with pytest.raises(LockHeldError, match="held by someone"):
        join._apps_script(FakeOwner((ScriptExit.LOCK_LOST, "held by someone")), "join", APP, [],  # type: ignore[arg-type]
                          clock=lambda: next(ticks))  # fmt: skip


def test_bad_hosts_on_the_command_line_are_refused_before_any_engine_is_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["router", "join", "--stack", "shop", "--owner", "bluegreen-front", "--hosts", "shop.test,bad host"])
    assert code == 2
    assert "--hosts: got 'shop.test,bad host'; allowed: comma-separated host names" in capsys.readouterr().err


def test_a_shared_router_may_not_stop_sharing_while_apps_are_joined() -> None:
    from components.drift import LiveStatus, unshare_problem

    settings = parse_settings(BASE, "dev")
    joined = LiveStatus("", "", {"apps": {"bluegreen-shop": ["shop.test"]}})
    problem = unshare_problem(settings, joined)
    assert problem is not None and problem.line() == (
        "router.shared: got false; allowed: true while apps are joined (bluegreen-shop: shop.test); take them out "
        "first (pulumi destroy, or router.join removed, on each)"
    )
    assert unshare_problem(settings, LiveStatus("", "", {"apps": {}})) is None
    assert unshare_problem(parse_settings({**BASE, "router": {"shared": True}}, "dev"), joined) is None
