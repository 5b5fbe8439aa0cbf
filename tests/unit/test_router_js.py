"""bluegreen/router/router.js, the per-request routing decision, run by node against a fake routing directory.

The same file nginx's njs loads; tests/unit/js/run_router.cjs gives it a fake
`fs` and fake requests. The integration tests run it inside nginx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
from collections import Counter
from typing import Any

import pytest

from bluegreen.plan.model import parse_plan
from bluegreen.router.layout import ROUTING_DIR
from bluegreen.router.render import Rendered, render
from lab.paths import ROOT

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (make tools installs it with npm)")


def rendered_plan(**changes: Any) -> Rendered:
    raw: dict[str, Any] = {
        "deployment": "bluegreen-dev", "active": "blue", "weights": {"blue": 100, "green": 0},
        "colors": {"blue": {"version": "1.0.0", "containers": ["b1", "b2"]},
                   "green": {"version": "1.1.0", "containers": ["g1"], "alias": "green-alias"}},
    }  # fmt: skip
    raw.update(changes)
    return render(parse_plan(raw), "T")


def state_of(**changes: Any) -> str:
    return rendered_plan(**changes).state_json


def run(files: dict[str, str], requests: list[dict[str, Any]]) -> list[Any]:
    tree = {f"{ROUTING_DIR}/{name}": text for name, text in files.items()}
    done = subprocess.run(
        [str(NODE), str(ROOT / "tests" / "unit" / "js" / "run_router.cjs")],
        input=json.dumps({"files": tree, "requests": requests}), capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    result: list[Any] = json.loads(done.stdout)
    return result


KEY = "0123456789abcdef0123456789abcdef"


def signed(cookie_id: str, key: str = KEY) -> str:
    """What the router sets: `<id>.<HMAC-SHA256 under its key, base64url, 22 characters>`."""
    mac = base64.urlsafe_b64encode(hmac.new(key.encode(), cookie_id.encode(), hashlib.sha256).digest())
    return f"{cookie_id}.{mac.decode()[:22]}"


def live(files: dict[str, str], n: int = 1, **variables: str) -> list[str]:
    return [str(v) for v in run(files, [{"fn": "live", "variables": variables}] * n)]


def test_a_single_colour_takes_every_request_on_its_containers() -> None:
    answers = live({"current/state.json": state_of()}, 200)
    assert {a.split()[0] for a in answers} == {"blue"}
    assert {a.split()[1] for a in answers} == {"b1:8000", "b2:8000"}, "spread over the replicas"


@pytest.mark.parametrize("share", [1, 10, 50, 90])
def test_the_split_follows_the_weights(share: int) -> None:
    files = {"current/state.json": state_of(active="green", weights={"green": share, "blue": 100 - share})}
    colors = Counter(a.split()[0] for a in live(files, 10000))
    assert abs(colors["green"] / 100 - share) <= 1.5, colors
    assert set(live(files, 50)) <= {"green green-alias:8000", "blue b1:8000", "blue b2:8000"}


def test_sticky_clients_keep_their_colour_and_the_active_colour_owns_the_low_range() -> None:
    """Raising green's share (10 -> 50) keeps every cookie that already saw green."""

    def colours(share: int, stickiness: str, key: str) -> dict[str, str]:
        files = {"current/state.json": state_of(active="green", weights={"green": share, "blue": 100 - share},
                                                stickiness=stickiness), "cookie.key": KEY}  # fmt: skip
        value = signed if key == "cookie_bg_bucket" else str
        requests = [{"fn": "live", "variables": {key: value(f"client-{i}"), "request_id": f"r{i}-{share}"}}
                    for i in range(400)]  # fmt: skip
        return {f"client-{i}": str(a).split()[0] for i, a in enumerate(run(files, requests))}

    for stickiness, key in (("cookie", "cookie_bg_bucket"), ("ip", "remote_addr")):
        at10, again, at50 = colours(10, stickiness, key), colours(10, stickiness, key), colours(50, stickiness, key)
        assert at10 == again, "the same client, the same colour"
        assert all(at50[c] == "green" for c, color in at10.items() if color == "green")
        assert 20 <= sum(c == "green" for c in at10.values()) <= 70


def test_the_cookie_is_set_only_during_a_cookie_split_and_only_once() -> None:
    split = state_of(active="green", weights={"green": 10, "blue": 90}, stickiness="cookie")
    whole = state_of(stickiness="cookie")
    first, returning = run({"current/state.json": split, "cookie.key": KEY}, [
        {"fn": "setCookie", "variables": {"request_id": "abc"}},
        {"fn": "setCookie", "variables": {"request_id": "def", "cookie_bg_bucket": signed("abc")}},
    ])  # fmt: skip
    assert first == f"bg_bucket={signed('abc')}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax" and returning == ""
    (over_tls,) = run({"current/state.json": split, "cookie.key": KEY},
                      [{"fn": "setCookie", "variables": {"request_id": "abc", "https": "on"}}])  # fmt: skip
    assert over_tls == f"bg_bucket={signed('abc')}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure"
    assert run({"current/state.json": whole}, [{"fn": "setCookie", "variables": {"request_id": "x"}}]) == [""]
    for other in ("none", "ip"):  # the header is always configured: the state alone decides
        split_other = state_of(active="green", weights={"green": 10, "blue": 90}, stickiness=other)
        assert run({"current/state.json": split_other}, [{"fn": "setCookie", "variables": {"request_id": "x"}}]) == [""]


@pytest.mark.parametrize("current", [None, "", '{"weights": {"blue": 1', "not json", '{"unrelated": true}'])
def test_a_missing_torn_or_corrupt_state_falls_back_to_the_last_good_one(current: str | None) -> None:
    files = {"previous/state.json": state_of(active="green", weights={"green": 100, "blue": 0})}
    if current is not None:
        files["current/state.json"] = current
    assert live(files, 20) == ["green green-alias:8000"] * 20
    (status,) = run(files, [{"fn": "status", "variables": {"bg_config_hash": "c1"}}])
    assert status["stateSource"] == "previous" and status["configHash"] == "c1"


def test_no_readable_state_at_all_is_no_route_never_a_guess() -> None:
    assert live({"current/state.json": "torn"}) == [""]
    (status,) = run({}, [{"fn": "status", "variables": {}}])
    assert status["state"] == "no route yet" and status["planHash"] is None


def test_the_preview_serves_the_preview_colour() -> None:
    files = {"current/state.json": state_of(active="green", weights={"green": 10, "blue": 90})}
    assert set(run(files, [{"fn": "preview"}] * 20)) == {"green green-alias:8000"}
    files = {"current/state.json": state_of(colors={"blue": {"containers": ["b1"]}, "green": {"containers": []}})}
    assert run(files, [{"fn": "preview"}]) == [""]


def test_status_reports_the_plan_and_the_loaded_config() -> None:
    files = {"current/state.json": state_of(active="green", weights={"green": 40, "blue": 60})}
    (status,) = run(files, [{"fn": "status", "variables": {"bg_config_hash": "cafe"}}])
    assert status["configHash"] == "cafe" and status["stateSource"] == "current" and status["active"] == "green"
    assert (
        status["weights"] == {"blue": 60, "green": 40}
        and status["planHash"] == json.loads(files["current/state.json"])["planHash"]
    )


def test_a_request_reads_the_state_once_for_its_route_and_its_cookie() -> None:
    """The cookie header is on every live response: its value must not cost a second read of the state."""
    split = state_of(active="green", weights={"green": 10, "blue": 90}, stickiness="cookie")
    tree = {f"{ROUTING_DIR}/current/state.json": split}
    requests = [{"fn": "live", "variables": {"request_id": "a"}}, {"fn": "setCookie", "variables": {"request_id": "a"}},
                {"fn": "live", "variables": {"request_id": "b"}}]  # fmt: skip
    done = subprocess.run(
        [str(NODE), str(ROOT / "tests" / "unit" / "js" / "run_router.cjs")],
        input=json.dumps({"files": tree, "requests": requests}), capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    assert json.loads(done.stderr)["reads"]["current/state.json"] == 2, "one read of the state per request id"


def test_a_forged_or_unsigned_bucket_cookie_is_not_believed() -> None:
    """Editing the cookie cannot choose a colour: the router re-rolls the client and signs a new cookie."""
    files = {"current/state.json": state_of(active="green", weights={"green": 50, "blue": 50}, stickiness="cookie"),
             "cookie.key": KEY}  # fmt: skip
    forged = [signed(f"c{i}", key="not-the-router-key") for i in range(300)] + [f"c{i}" for i in range(300)]
    requests = [
        {"fn": "live", "variables": {"cookie_bg_bucket": f, "request_id": f"r{i}"}} for i, f in enumerate(forged)
    ]
    colours = Counter(str(a).split()[0] for a in run(files, requests))
    assert 200 <= colours["green"] <= 400, f"a forged cookie decides nothing: {colours}"
    again = run(files, [{"fn": "live", "variables": {"cookie_bg_bucket": forged[0], "request_id": f"x{i}"}}
                        for i in range(200)])  # fmt: skip
    assert len({str(a).split()[0] for a in again}) == 2, "the same forged cookie lands on both colours"
    cookie = run(files, [{"fn": "setCookie", "variables": {"cookie_bg_bucket": forged[0], "request_id": "n1"}}])
    assert cookie == [f"bg_bucket={signed('n1')}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"]
    no_key = {"current/state.json": files["current/state.json"]}  # no key: no cookie is set or believed
    assert run(no_key, [{"fn": "setCookie", "variables": {"request_id": "n2"}}]) == [""]


def test_allowlisted_testers_reach_the_active_colour_at_any_weight() -> None:
    state = state_of(active="green", weights={"green": 1, "blue": 99},
                     rollout={"allowlistHeader": "X-Canary-Tester", "allowlist": ["tester-token-1"]})  # fmt: skip
    files = {"current/state.json": state}
    tester = run(files, [{"fn": "live", "headers": {"x-canary-tester": "tester-token-1"}}] * 50)
    assert {str(a).split()[0] for a in tester} == {"green"}
    others = run(files, [{"fn": "live", "headers": {"x-canary-tester": "guess-token-2"}}] * 300)
    assert Counter(str(a).split()[0] for a in others)["green"] < 30


def test_maintenance_routes_nothing_live_and_answers_503_with_retry_after_by_accept() -> None:
    files = {"current/state.json": state_of(active="green", weights={"green": 10, "blue": 90},
                                            maintenance={"enabled": True, "message": "Back <soon>",
                                                         "retryAfterSeconds": 30})}  # fmt: skip
    assert live(files, 5) == [""] * 5
    assert set(run(files, [{"fn": "preview"}] * 5)) == {"green green-alias:8000"}, "the preview keeps serving"
    page, html = run(files, [{"fn": "unavailable"}, {"fn": "unavailable", "headers": {"Accept": "text/html"}}])
    assert page["status"] == 503 and page["headers"]["Retry-After"] == "30"
    assert json.loads(page["body"]) == {"error": "maintenance", "message": "Back <soon>", "retryAfterSeconds": 30}
    assert html["headers"]["Content-Type"].startswith("text/html") and "Back &lt;soon&gt;" in html["body"]
    (status,) = run(files, [{"fn": "status"}])
    assert status["maintenance"] == {"message": "Back <soon>", "retryAfterSeconds": 30}
    off = {"current/state.json": state_of()}
    (none,) = run(off, [{"fn": "unavailable"}])
    assert json.loads(none["body"]) == {"error": "no route"} and "Retry-After" not in none["headers"]


STEADY_CASES: list[tuple[dict[str, Any], str | None]] = [
    ({"colors": {"blue": {"containers": ["b1"]}, "green": {"containers": ["g1"], "alias": "ga"}}}, "blue b1:8000"),
    ({"active": "green", "weights": {"green": 100, "blue": 0}}, "green green-alias:8000"),
    ({"active": "green", "weights": {"green": 0, "blue": 100},
      "colors": {"blue": {"containers": ["b1"], "alias": "ba"}, "green": {"containers": ["g1"]}}}, "blue ba:8000"),
    ({}, None),  # blue has two containers and no alias: router.js spreads over them
    ({"active": "green", "weights": {"green": 10, "blue": 90}}, None),  # a canary
    ({"active": "green", "weights": {"green": 100, "blue": 0},
      "maintenance": {"enabled": True, "message": "x", "retryAfterSeconds": 5}}, None),
    ({"active": "green", "weights": {"green": 0, "blue": 100},
      "colors": {"blue": {"containers": ["b1"], "alias": "ba"}, "green": {"containers": ["g1"]}},
      "rollout": {"allowlistHeader": "X-T", "allowlist": ["tester-token-1"]}}, None),  # a tester still reaches green
    ({"active": "green", "weights": {"green": 0, "blue": 100},
      "colors": {"blue": {"containers": ["b1"], "alias": "ba"}, "green": {"containers": ["g1"]}},
      "rollout": {"match": [{"header": "X-T", "value": "tester-token-1"}]}}, None),  # a header route too
]  # fmt: skip


@pytest.mark.parametrize(("changes", "steady"), STEADY_CASES)
def test_the_steady_route_nginx_takes_without_njs_is_what_router_js_answers(
    changes: dict[str, Any], steady: str | None
) -> None:
    """Rendered.steady is routed by nginx alone (the generation's name): it must be router.js's only answer."""
    rendered = rendered_plan(**changes)
    assert rendered.steady == steady
    files = {"current/state.json": rendered.state_json, "cookie.key": KEY}
    requests = [{"fn": "live", "variables": {"request_id": f"r{i}", "remote_addr": f"10.0.0.{i}"},
                 "headers": {"x-t": "tester-token-1"} if i % 2 else {}} for i in range(200)]  # fmt: skip
    answers = set(run(files, requests))
    if steady is None:
        assert answers != {steady}, "router.js decides: it has more than one answer, or none"
    else:
        assert answers == {steady}
        assert run(files, [{"fn": "setCookie", "variables": {"request_id": "n1"}}]) == [""], "no cookie either"
        assert re.fullmatch(r"g7@[a-z]+@[^/@ ]+", rendered.generation(7))
    assert rendered.generation(7) == "g7" + ("" if steady is None else "@" + steady.replace(" ", "@"))


def test_header_and_cookie_routes_reach_the_candidate_at_any_weight_and_say_so() -> None:
    """rollout.match: a matching request goes to activeColor at 0% too; $bg_rule marks it for the log."""
    match = [{"header": "X-Canary", "value": "1"}, {"cookie": "canary", "value": "always"}]
    for share in (0, 10):
        files = {"current/state.json": state_of(active="green", weights={"green": share, "blue": 100 - share},
                                                rollout={"match": match})}  # fmt: skip
        asks = [{"fn": "live", "headers": {"x-canary": "1"}, "withVariables": True},
                {"fn": "live", "variables": {"cookie_canary": "always"}, "withVariables": True}] * 20  # fmt: skip
        for answer in run(files, asks):
            assert answer["value"] == "green green-alias:8000" and answer["variables"]["bg_rule"] == "match"
        near = [{"fn": "live", "headers": {"x-canary": "2"}, "variables": {"cookie_canary": "Always"},
                 "withVariables": True}] * 300  # fmt: skip
        answers = run(files, near)
        assert all("bg_rule" not in a["variables"] for a in answers), "a near miss is weighted like anyone"
        green = sum(1 for a in answers if a["value"].startswith("green"))
        assert green == 0 if share == 0 else 10 <= green <= 60
    full = {"current/state.json": state_of(rollout={"match": match})}  # blue has 100%: nothing to route apart
    (answer,) = run(full, [{"fn": "live", "headers": {"x-canary": "1"}, "withVariables": True}])
    assert answer["value"].startswith("blue ") and "bg_rule" not in answer["variables"]
