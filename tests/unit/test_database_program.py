"""The program's database and hook resources under Pulumi mocks: what Pulumi would be asked to create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from bluegreen.config.hooks import CommandHook
from bluegreen.release.hooks import run_key
from lab.pulumi_harness import ProgramRun, Registered, run_program
from lab.stacks import stack_raw, with_changes
from tests.unit.test_program import (
    COMMAND,
    CONTAINER,
    DriftMocks,
    _everything_but_secret_inputs,
    app_containers,
    by_name,
    changed,
    labels,
    switch_of,
)

MIGRATE: dict[str, Any] = {"name": "migrate", "command": ["python", "-m", "bluegreen_app", "migrate"]}
HOOK_LISTS: dict[str, Any] = {
    "preSwitch": [MIGRATE],
    "smoke": [{"name": "ready", "path": "/health/ready"}],
    "postPromote": [{"name": "notify", "command": ["python", "-c", "print(1)"]}],
}
HOOKS: dict[str, Any] = {"database.mode": "container", "hooks": HOOK_LISTS}
URL = "postgresql://app:an-external-secret-password@db.internal:5432/app"


def run(changes: dict[str, Any], stack: str = "dev", **kwargs: Any) -> ProgramRun:
    return run_program(with_changes(stack_raw(stack), changes), stack=stack, **kwargs)


def env_of(resource: Registered) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in resource.plain("envs"))


def hook(result: ProgramRun, name: str) -> Registered:
    return by_name(result)[f"{COMMAND}::{name}"]


def test_a_database_container_on_a_kept_volume_and_its_url_only_as_a_secret() -> None:
    result = run(HOOKS)
    found = by_name(result)
    (password,) = result.by_type("random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] == 32 and password.inputs["special"] is False
    volume = found["docker:index/volume:Volume::app-db-data"]
    assert volume.inputs["name"] == "bluegreen-dev-db-data"
    db = found[f"{CONTAINER}::app-db"]
    assert db.inputs["name"] == "bluegreen-dev-db" and db.inputs["user"] == "999:999"
    assert labels(db)["bluegreen.role"] == "database" and db.is_secret("envs")
    assert db.inputs["volumes"] == [
        {"containerPath": "/var/lib/postgresql/data", "volumeName": "bluegreen-dev-db-data"}
    ]
    assert db.inputs["readOnly"] is True and "/var/run/postgresql" in db.inputs["tmpfs"]
    secret = env_of(db)["POSTGRES_PASSWORD"]
    for app in app_containers(result):
        assert app.is_secret("envs")
        assert env_of(app)["APP_DATABASE_URL"] == f"postgresql://app:{secret}@bluegreen-dev-db:5432/app"
    assert secret not in _everything_but_secret_inputs(result)
    assert f"{COMMAND}::app-db-pids" in found, "the database gets a pids limit like every container"
    # On a kept data directory the role gets the current password before the server starts: from the
    # environment, never from an argument (tests/e2e/test_database_lifecycle.py runs it).
    command = db.inputs["command"]
    assert command[:2] == ["sh", "-c"] and "postgres --single" in command[2] and secret not in str(command)
    assert command[2].rstrip().endswith("exec docker-entrypoint.sh postgres")


def test_an_external_database_url_reaches_the_colours_only_as_a_secret() -> None:
    result = run({"database": {"mode": "external", "url": URL}}, secret_keys=["database"])
    assert not [c for c in result.by_type(CONTAINER) if c.name == "app-db"]
    assert all(env_of(app)["APP_DATABASE_URL"] == URL for app in app_containers(result))
    assert URL not in _everything_but_secret_inputs(result)
    other = run({"database": {"mode": "external", "url": URL + "2"}}, secret_keys=["database"])
    names = {c.inputs["name"] for c in app_containers(result)}
    assert names.isdisjoint({c.inputs["name"] for c in app_containers(other)}), "a new URL replaces the colours"


def test_a_plain_database_password_is_refused_with_its_key() -> None:
    with pytest.raises(pulumi.RunError, match=r"database\.password: got '\[not shown\]'; allowed: a secret"):
        run({"database": {"mode": "container", "password": "long-enough-password-1"}})


def test_pre_switch_hooks_run_per_image_and_definition_and_smoke_reaches_the_switch() -> None:
    result = run(HOOKS)
    blue, green = hook(result, "app-hooks-blue-migrate"), hook(result, "app-hooks-green-migrate")
    image = blue.inputs["environment"]["BLUEGREEN_HOOK_IMAGE"]
    assert blue.inputs["triggers"] == [run_key(CommandHook.model_validate(MIGRATE), image)]
    assert blue.inputs["environment"]["BLUEGREEN_HOOK"] == CommandHook.model_validate(MIGRATE).model_dump_json(
        by_alias=True
    )
    assert "hook run --stack dev --project bluegreen --stage preSwitch --color green" in green.inputs["create"]
    assert 'hook remove --stack dev --project bluegreen --run "$BLUEGREEN_HOOK_RUN"' in green.inputs["delete"]
    smoke = switch_of(result).inputs["environment"]["BLUEGREEN_SMOKE"]
    assert smoke == '[{"name": "ready", "path": "/health/ready", "expectStatus": 200}]'
    # A traffic change touches no hook; a release to green changes green's hook and the switch, not blue's.
    canary = run({**HOOKS, "activeColor": "green", "trafficWeight": 50})
    assert changed(result, canary) == {f"{COMMAND}::app-switch"}
    release = run({**HOOKS, "green.version": "1.1.0"})
    assert f"{COMMAND}::app-hooks-green-migrate" in changed(result, release)
    assert f"{COMMAND}::app-hooks-blue-migrate" not in changed(result, release)
    longer = run({**HOOKS, "hooks": {**HOOK_LISTS, "preSwitch": [{**MIGRATE, "timeoutSeconds": 60}]}})
    assert {f"{COMMAND}::app-hooks-blue-migrate", f"{COMMAND}::app-hooks-green-migrate"} <= changed(result, longer)


def test_post_promote_follows_the_colour_at_100_percent() -> None:
    at_blue = run(HOOKS)
    notify = hook(at_blue, "app-post-promote-notify")
    assert "--stage postPromote --color blue" in notify.inputs["create"]
    canary = run({**HOOKS, "activeColor": "green", "trafficWeight": 50})
    assert hook(canary, "app-post-promote-notify").inputs == notify.inputs, "a canary step runs nothing"
    promoted = run({**HOOKS, "activeColor": "green"})
    assert "--color green" in hook(promoted, "app-post-promote-notify").inputs["create"]
    assert not [r for r in run({"database.mode": "container"}).by_type(COMMAND) if "hook" in r.name]


class LiveColorMocks(DriftMocks):
    def __init__(self, active: str) -> None:
        super().__init__("aaaa", "aaaa")
        self.report["live"] = {"planHash": "aaaa", "active": active}


CONTRACT = {**HOOKS, "hooks": {"preSwitch": [MIGRATE, {"name": "contract-notes", "command": ["true"]}]}}


def test_a_contract_hook_and_a_colour_change_are_refused_in_one_update() -> None:
    with pytest.raises(pulumi.RunError, match="a contract step, and activeColor changes from blue to green"):
        run({**CONTRACT, "activeColor": "green"}, mocks=LiveColorMocks("blue"))
    kept = run(CONTRACT, mocks=LiveColorMocks("blue"))
    (component,) = kept.by_type("bluegreen:index:PreSwitchHooks")
    assert component.inputs == {"contractHooks": ["contract-notes"], "liveActiveColor": "blue"}
    (plain,) = run(HOOKS, mocks=LiveColorMocks("blue")).by_type("bluegreen:index:PreSwitchHooks")
    assert plain.inputs == {}, "without a contract step the component has no inputs to diff"


def test_a_hook_runs_again_only_on_its_trigger_never_on_another_input_change(tmp_path: Path) -> None:
    """Without an update command pulumi-command runs `create` again for any input change (a new docker.host):
    a migration would run as an "update". Through the test engine's command handler, as pulumi-command runs it."""
    from lab.engine import CommandHandler

    migrate = hook(run(HOOKS), "app-hooks-blue-migrate")
    sent = {k: migrate.plain(k) for k in migrate.inputs}
    assert sent["update"] == "echo 'hook migrate: run key unchanged, nothing to run'" != sent["create"]
    ran = tmp_path / "ran"
    old = {**sent, "create": f"echo migrated >> {ran}", "environment": {"DOCKER_HOST": "unix:///a.sock"}}
    new = {**old, "environment": {"DOCKER_HOST": "unix:///b.sock"}}
    handler = CommandHandler()
    _, created = handler.create("migrate", old)
    updated = handler.update("migrate-1", old, new, created)
    assert updated is not None and updated["stdout"] == "hook migrate: run key unchanged, nothing to run"
    assert ran.read_text() == "migrated\n", "the hook ran once, at create"
    assert handler.update("migrate-1", old, {**new, "triggers": ["another run key"]}, created) is None, "replaced"


def test_the_name_key_survives_an_update_of_its_inputs() -> None:
    from components.name_key import CREATE, UPDATE
    from lab.engine import CommandHandler

    handler = CommandHandler()
    sent = {"create": CREATE, "update": UPDATE, "logging": "none"}
    _, first = handler.create("name-key", sent)
    assert len(first["stdout"]) == 64 and int(first["stdout"], 16) >= 0
    upgraded = {**sent, "addPreviousOutputInEnv": True}  # a new pulumi-command's default input
    assert handler.update("name-key-1", sent, upgraded, first)["stdout"] == first["stdout"]  # type: ignore[index]
    fresh = handler.update("name-key-1", sent, upgraded, {"stdout": ""})
    assert fresh is not None and len(fresh["stdout"]) == 64, "a key it never had: a new one, never an empty one"


def test_the_databases_image_and_limits_never_replace_the_colours_its_name_and_user_do() -> None:
    base = run(HOOKS)
    names = {c.inputs["name"] for c in app_containers(base)}
    bigger = run({**HOOKS, "database.resources.memoryMb": 2048, "database.image": "postgres:17.3-bookworm"})
    assert {c.inputs["name"] for c in app_containers(bigger)} == names
    assert f"{CONTAINER}::app-db" in changed(base, bigger)
    renamed = run({**HOOKS, "database.name": "shop"})
    assert {c.inputs["name"] for c in app_containers(renamed)}.isdisjoint(names), "a new URL: new containers"


def test_a_rotated_database_password_is_a_new_spec_so_no_live_colour_keeps_the_old_one() -> None:
    """An app.env change may be held on the live colour (it keeps running what it runs); a new database password
    may not: once the database has it, the old one no longer logs in (tests/e2e/test_database_lifecycle.py)."""
    from bluegreen.config.settings import parse_settings
    from bluegreen.engine.topology import Topology

    def label(changes: dict[str, Any]) -> str:
        raw = with_changes(stack_raw("dev"), {**HOOKS, **changes})
        return Topology("bluegreen", "dev", parse_settings(raw, "dev", {"database"})).spec_label("blue")

    first = label({"database.password": "a-first-password-of-length"})
    assert label({"database.password": "a-first-password-of-length", "app.env.X": "1"}) == first, "env: held"
    assert label({"database.password": "a-second-password-of-length"}) != first, "a rotation: not held"
    assert "a-first-password" not in first


def test_a_database_image_of_another_major_version_is_refused_before_anything_with_the_way_across() -> None:
    mocks = DriftMocks("0000aaaa1111bbbb", "0000aaaa1111bbbb")
    live = {"container": "bluegreen-dev-db", "image": "postgres:15.8", "state": "running", "dataVersion": "15"}
    mocks.report.update(deployment="bluegreen-dev", database=live)
    with pytest.raises(pulumi.RunError) as refused:
        run({**HOOKS, "database.image": "postgres:17.2-bookworm"}, mocks=mocks)
    assert str(refused.value) == (
        "database.image: got 'postgres:17.2-bookworm'; allowed: an image of PostgreSQL 15, the version of the data "
        "directory bluegreen-dev-db runs on: a 17 server does not open it. To move: `bluegreen db backup`, "
        "`pulumi destroy`, `docker volume rm bluegreen-dev-db-data`, set database.image, `pulumi up`, "
        "`bluegreen db restore` (docs/database.md); nothing was changed"
    )
    assert not [r for r in mocks.resources if r.type == CONTAINER], "refused before anything was registered"
    same = DriftMocks("0000aaaa1111bbbb", "0000aaaa1111bbbb")
    same.report.update(database={"container": "bluegreen-dev-db", "dataVersion": "17"})
    assert run({**HOOKS, "database.image": "postgres:17.2-bookworm"}, mocks=same).by_type(CONTAINER)


def test_the_preview_warns_before_the_database_container_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    from bluegreen.config.settings import parse_settings
    from bluegreen.engine.topology import Topology

    config = {**HOOKS, "database.password": "a-first-password-of-length"}
    running = Topology("bluegreen", "dev", parse_settings(with_changes(stack_raw("dev"), config), "dev", {"database"}))

    def preview(changes: dict[str, Any]) -> list[str]:
        mocks = DriftMocks("0000aaaa1111bbbb", "0000aaaa1111bbbb")
        mocks.report.update(database={"container": "bluegreen-dev-db", "spec": running.database_spec(),
                                      "dataVersion": "17"})  # fmt: skip
        caplog.clear()
        with caplog.at_level("WARNING"):
            run({**config, **changes}, mocks=mocks, secret_keys=["database"])
        return [r.getMessage() for r in caplog.records if "the database container" in r.getMessage()]

    assert preview({}) == [], "nothing of the database changes: nothing said"
    rotated = preview({"database.password": "a-second-password-of-length"})
    assert rotated == ["the database container bluegreen-dev-db is replaced, old one first: a few seconds in which "
                       "requests that need it fail; its data stays on its volume (docs/database.md, 'What survives "
                       "what')."]  # fmt: skip
    assert preview({"database.resources.cpus": 2.0}) == rotated
    assert preview({"database.resources.memoryMb": 1024}) == [], "memory is updated in place: no replacement"
    assert "a-second-password" not in running.database_spec()
