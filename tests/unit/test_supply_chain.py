"""The supply chain: every install comes from the hashed lock, and the Pulumi CLI is checked before it runs."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from lab.paths import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)", re.MULTILINE)


def make_n(target: str, *extra: str) -> str:
    """The recipe of `target` alone: the lock and the venv it needs count as made (-o)."""
    keep = [a for t in ("requirements.lock", ".venv/.installed") if t != target for a in ("-o", t)]
    done = subprocess.run(["make", "-n", "-B", *keep, target, *extra], cwd=ROOT, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return " ".join(done.stdout.replace("\\\n", " ").split())


def test_the_hashed_lock_pins_exactly_the_constraints_and_hashes_every_one() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    constraints = (ROOT / "constraints.txt").read_text()
    assert dict(PIN.findall(lock)) == dict(PIN.findall(constraints)), "make lock writes both from one resolution"
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock.split("\n", 2)[2])
    unhashed = [e.split(" ", 1)[0] for e in entries if PIN.match(e) and "--hash=sha256:" not in e]
    assert len(entries) > 100 and unhashed == []


def test_the_venv_installs_only_hashed_files_and_the_project_without_fetching_a_build_backend() -> None:
    recipe = make_n(".venv/.installed")
    assert "pip install --progress-bar off --require-hashes --no-deps -r requirements.lock" in recipe
    assert "--no-build-isolation -e ." in recipe, "setuptools comes from the lock, not from an unhashed download"
    installs = [part.split(";")[0] for part in recipe.split("pip install")[1:]]
    assert installs and not any("constraints.txt" in part for part in installs), installs
    assert "setuptools==" in (ROOT / "requirements.lock").read_text()


def test_the_apps_wheels_are_downloaded_against_the_hashes() -> None:
    recipe = make_n("app/wheels/.complete", "WHEEL_ARCH=x86_64")
    assert "pip download --quiet --require-hashes -c requirements.lock" in recipe


def test_every_workflow_installs_through_make_and_keeps_no_token_in_git_config() -> None:
    import yaml

    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        text = path.read_text()
        assert "pip install" not in text, f"{path.name}: installs go through make venv (the hashed lock)"
        for job in yaml.safe_load(text)["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{path.name}: {job.get('name')}"


# --- the Pulumi CLI ------------------------------------------------------------------------------------------


def fake_release(tmp_path: Path, version: str, tamper: bool = False) -> str:
    """A release directory as Pulumi publishes it: the archive (pulumi/ inside) and its checksums file."""
    platform = {"x86_64": "linux-x64", "aarch64": "linux-arm64"}[os.uname().machine]
    releases = tmp_path / "releases" / f"v{version}"
    releases.mkdir(parents=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        script = b"#!/bin/sh\necho v" + version.encode() + b"\n"
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    archive = f"pulumi-v{version}-{platform}.tar.gz"
    (releases / archive).write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue() + (b"x" if tamper else b"")).hexdigest()
    (releases / f"pulumi-{version}-checksums.txt").write_text(f"{'0' * 64}  other.zip\n{digest}  {archive}\n")
    return f"file://{tmp_path / 'releases'}"


def run_installer(tmp_path: Path, releases: str) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "pulumi-cli.sh").write_text((ROOT / "scripts" / "pulumi-cli.sh").read_text())
    env = {"PATH": "/usr/bin:/bin", "PULUMI_CLI_RELEASES": releases, "PULUMI_CLI_VERSION": "3.272.0"}
    if subprocess.run(["sh", "-c", "command -v pulumi"], env=env, capture_output=True).returncode == 0:
        pytest.skip("a pulumi on /usr/bin:/bin: the installer would use it")
    return subprocess.run(["bash", str(project / "scripts" / "pulumi-cli.sh")], env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_the_cli_is_installed_only_when_its_sha256_matches_the_published_one(tmp_path: Path) -> None:
    done = run_installer(tmp_path, fake_release(tmp_path, "3.272.0"))
    assert done.returncode == 0, done.stderr
    installed = Path(done.stdout.strip())
    assert installed == tmp_path / "project" / ".pulumi-cli" / "bin" / "pulumi"
    assert subprocess.run([str(installed)], capture_output=True, text=True).stdout.strip() == "v3.272.0"


def test_a_tampered_archive_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    done = run_installer(tmp_path, fake_release(tmp_path, "3.272.0", tamper=True))
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert "the release publishes" in line and line.endswith("refused, nothing was installed"), done.stderr
    assert not (tmp_path / "project" / ".pulumi-cli" / "bin" / "pulumi").exists()
