"""The real `pulumi up` / flip / `pulumi destroy` through the Automation API.

Runs only where the Pulumi CLI is installed (it cannot be downloaded on the
machines this project is built on; the test engine covers the same ground
there). Works on a copy of the project, on a local file backend, so the
repository's stack files and state are never touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.dockergate import BASE_IMAGE, ROUTER_IMAGE
from tests.support.dockerutil import docker, get
from tests.support.paths import ROOT

PULUMI = shutil.which("pulumi")

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(PULUMI is None, reason="the Pulumi CLI is not installed; tests/e2e/test_dev_stack.py covers it"),
]


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


@pytest.mark.usefixtures("stand_in_images")
def test_real_pulumi_up_flip_destroy(tmp_path: Path) -> None:
    from pulumi import automation as auto

    work = project_copy(tmp_path)
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "PULUMI_CONFIG_PASSPHRASE": "test-only"}
    (tmp_path / "state").mkdir()
    stack = auto.create_or_select_stack(
        stack_name="autotest", work_dir=str(work), opts=auto.LocalWorkspaceOptions(env_vars=env)
    )
    for key, value in {
        "router.port": "18280", "router.previewPort": "18281",
        "router.image": ROUTER_IMAGE, "image.baseImage": BASE_IMAGE,
    }.items():  # fmt: skip
        stack.set_config(key, auto.ConfigValue(value), path=True)
    try:
        result = stack.up(on_output=print)
        assert result.outputs["url"].value == "http://127.0.0.1:18280"
        assert get("http://127.0.0.1:18280/")[1]["X-Bluegreen-Color"] == "blue"

        stack.set_config("activeColor", auto.ConfigValue("green"))
        preview = stack.preview()
        assert preview.change_summary.get(auto.OpType.UPDATE) == 1  # the Switch, nothing else
        stack.up(on_output=print)
        assert get("http://127.0.0.1:18280/")[1]["X-Bluegreen-Color"] == "green"
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack("autotest")
    assert docker("ps", "-aq", "--filter", "label=bluegreen.deployment=bluegreen-autotest").stdout.strip() == ""
