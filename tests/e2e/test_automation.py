"""The real `pulumi up` / flip / release / `pulumi destroy` through the Automation API.

The source of truth wherever the Pulumi CLI exists: the real engine, the real
providers, real secrets. It cannot be downloaded on the machines this project
is built on (the test engine covers the same ground there), so without the CLI
it skips with its reason; BLUEGREEN_REQUIRE_PULUMI=1 (GitHub's docker job sets
it after installing the CLI) turns that skip into a failure. Works on a copy
of the project, on a local file backend, so the repository's stack files and
state are never touched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lab.dockercli import docker, get
from lab.images import BASE_IMAGE, ROUTER_IMAGE, RUNTIME_IMAGE
from lab.paths import ROOT

PULUMI = shutil.which("pulumi")
REQUIRE_PULUMI = os.environ.get("BLUEGREEN_REQUIRE_PULUMI") == "1"
SECRET = "s3cret-4821"

pytestmark = [pytest.mark.docker]


@pytest.fixture(autouse=True)
def _pulumi_cli() -> None:
    if PULUMI is None:
        reason = "the Pulumi CLI is not installed; tests/e2e/test_dev_stack.py covers it with the test engine"
        if REQUIRE_PULUMI:
            pytest.fail(f"BLUEGREEN_REQUIRE_PULUMI=1 but {reason}", pytrace=False)
        pytest.skip(reason)


def project_copy(tmp: Path) -> Path:
    work = tmp / "project"
    work.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py", "requirements.txt"):
        shutil.copy(ROOT / name, work / name)
    for folder in ("components", "bluegreen", "app"):
        shutil.copytree(ROOT / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (work / ".venv").symlink_to(ROOT / ".venv")
    shutil.copy(work / "Pulumi.dev.yaml", work / "Pulumi.autotest.yaml")
    return work


def _text_of(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


@pytest.mark.usefixtures("stand_in_images")
def test_real_pulumi_up_flip_release_destroy(tmp_path: Path) -> None:
    from pulumi import automation as auto

    work = project_copy(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    env = {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": "test-only"}
    stack = auto.create_or_select_stack(
        stack_name="autotest", work_dir=str(work), opts=auto.LocalWorkspaceOptions(env_vars=env)
    )
    for key, value in {
        "router.port": "18280", "router.previewPort": "18281",
        "router.image": ROUTER_IMAGE, "image.baseImage": BASE_IMAGE, "image.runtimeImage": RUNTIME_IMAGE,
        "router.edge.colorHeader": "true",
        "green.version": "1.0.0", "green.replicas": "1", "docker.local": "true",
    }.items():  # fmt: skip
        stack.set_config(key, auto.ConfigValue(value), path=True)
    # What a user types: `pulumi config set --secret --path app.env.DB_PASSWORD ...`
    stack.set_config("app.env.DB_PASSWORD", auto.ConfigValue(SECRET, secret=True), path=True)
    try:
        printed: list[str] = []
        result = stack.up(on_output=printed.append)
        assert result.outputs["url"].value == "http://127.0.0.1:18280"
        assert get("http://127.0.0.1:18280/")[1]["X-Bluegreen-Color"] == "blue"
        assert SECRET not in _text_of(state), "the secret env value is encrypted in the state file"
        assert SECRET not in "".join(printed)

        stack.set_config("activeColor", auto.ConfigValue("green"))
        preview = stack.preview(diff=True)
        assert SECRET not in preview.stdout
        assert preview.change_summary.get(auto.OpType.UPDATE) == 1  # the Switch, nothing else
        stack.up(on_output=print)
        assert get("http://127.0.0.1:18280/")[1]["X-Bluegreen-Color"] == "green"
        second = stack.preview()
        assert set(second.change_summary) <= {auto.OpType.SAME}, second.change_summary  # no ping-pong

        # A release goes to the idle colour (blue) only: its containers and image, and the Switch.
        stack.set_config("blue.version", auto.ConfigValue("1.1.0"), path=True)
        release = stack.preview()
        assert release.change_summary.get(auto.OpType.REPLACE) == 1, release.change_summary  # app-blue-1
        # The Switch, and app-blue-1's pids limit (it follows the new container's id).
        assert release.change_summary.get(auto.OpType.UPDATE) == 2, release.change_summary
        stack.up(on_output=print)
        assert get("http://127.0.0.1:18280/")[1]["X-Bluegreen-Color"] == "green"
        assert get("http://127.0.0.1:18281/")[1]["X-Bluegreen-Color"] == "blue"
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack("autotest")
    assert docker("ps", "-aq", "--filter", "label=bluegreen.deployment=bluegreen-autotest").stdout.strip() == ""
    assert docker("network", "ls", "-q", "--filter", "name=bluegreen-autotest").stdout.strip() == ""


@pytest.mark.usefixtures("stand_in_images")
def test_real_pulumi_up_joins_an_app_to_a_shared_router_by_stack_reference(tmp_path: Path) -> None:
    """router.join read by the real engine's StackReference on a file backend: organization/<project>/<stack>."""
    from pulumi import automation as auto

    work = project_copy(tmp_path)
    shutil.copy(work / "Pulumi.dev.yaml", work / "Pulumi.autofront.yaml")
    shutil.copy(work / "Pulumi.dev.yaml", work / "Pulumi.autoshop.yaml")
    state = tmp_path / "state"
    state.mkdir()
    env = {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": "test-only"}
    images = {"router.image": ROUTER_IMAGE, "image.baseImage": BASE_IMAGE, "image.runtimeImage": RUNTIME_IMAGE,
              "router.edge.colorHeader": "true", "docker.local": "true"}  # fmt: skip
    configs = {
        "autofront": {**images, "router.shared": "true", "router.port": "18290", "router.previewPort": "18291"},
        "autoshop": {**images, "router.join": "organization/bluegreen/autofront", "router.hosts[0]": "shop.test",
                     "router.previewPort": "18292", "blue.version": "2.0.0"},
    }  # fmt: skip
    stacks = {}
    for name, config in configs.items():
        stacks[name] = auto.create_or_select_stack(
            stack_name=name, work_dir=str(work), opts=auto.LocalWorkspaceOptions(env_vars=env)
        )
        for key, value in config.items():
            stacks[name].set_config(key, auto.ConfigValue(value), path=True)
    try:
        stacks["autofront"].up(on_output=print)
        result = stacks["autoshop"].up(on_output=print)
        assert result.outputs["url"].value == "http://shop.test:18290"
        _, headers, _ = get("http://127.0.0.1:18290/", headers={"Host": "shop.test"})
        assert headers.get("x-app-version") == "2.0.0"
        assert get("http://127.0.0.1:18290/")[1].get("x-app-version") == "1.0.0", "other hosts: the owner's app"
    finally:
        for name in ("autoshop", "autofront"):
            stacks[name].destroy(on_output=print)
            stacks[name].workspace.remove_stack(name)
    for name in ("autoshop", "autofront"):
        label = f"label=bluegreen.deployment=bluegreen-{name}"
        assert docker("ps", "-aq", "--filter", label).stdout.strip() == ""
