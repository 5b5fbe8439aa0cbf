"""`python -m bluegreen validate`: exit codes, output shapes, unreadable files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen.cli.main import main
from lab.paths import ROOT


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def project_copy(tmp_path: Path, stack: str, text: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


def test_prod_is_valid_as_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bluegreen", "validate", "Pulumi.prod.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "stack prod: valid" in lines[0]
    assert done.stderr == ""


def test_purple_exits_2_and_names_active_color(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace("activeColor: blue", "activeColor: purple")
    path = project_copy(tmp_path, "prod", text)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and out == ""
    first = err.splitlines()[0]
    assert first == f"{path}: activeColor: got 'purple'; allowed: 'blue' or 'green'"


def test_reads_pulumi_yaml_from_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project_copy(tmp_path, "dev", (ROOT / "Pulumi.dev.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert run("validate", path.name)[0] == 0


def test_json_report_valid() -> None:
    code, out, _ = run("validate", str(ROOT / "Pulumi.dev.yaml"), "--project-file", str(ROOT / "Pulumi.yaml"), "--json")
    report = json.loads(out)
    assert code == 0 and report["valid"] is True and report["problems"] == []
    assert report["settings"]["activeColor"] == "blue"
    assert report["settings"]["router"]["previewPort"] == 8081


def test_json_report_invalid(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text().replace("trafficWeight: 100", "trafficWeight: 300")
    path = project_copy(tmp_path, "dev", text)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"), "--json")
    report = json.loads(out)
    assert code == 2 and err == ""
    assert report["valid"] is False and report["settings"] is None
    assert report["problems"] == [
        {
            "key": "trafficWeight",
            "value": 300,
            "missing": False,
            "unknownKey": False,
            "allowed": "an integer from 0 to 100",
        }
    ]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("Pulumi.dev.yaml", "config: [1, 2\n", "not valid YAML at line 2, column 1: expected ',' or ']'"),
        ("Pulumi.dev.yaml", "- just\n- a list\n", "expected a YAML mapping"),
        ("Pulumi.dev.yaml", "config: 5\n", "'config' must be a mapping"),
        ("stack.yaml", "config: {}\n", "a stack file is named Pulumi.<stack>.yaml"),
    ],
)
def test_unreadable_files_exit_2_with_one_line(tmp_path: Path, name: str, text: str, expected: str) -> None:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    path = tmp_path / name
    path.write_text(text)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and expected in err and str(path) in err


def test_missing_stack_file(tmp_path: Path) -> None:
    code, _, err = run("validate", str(tmp_path / "Pulumi.nope.yaml"), "--project-file", str(ROOT / "Pulumi.yaml"))
    assert code == 2 and err.strip() == f"{tmp_path / 'Pulumi.nope.yaml'}: no such file"


def test_missing_project_file(tmp_path: Path) -> None:
    code, _, err = run("validate", str(ROOT / "Pulumi.dev.yaml"), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and "Pulumi.yaml: no such file" in err


def test_secure_values_validate_as_opaque_strings(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text()
    text = text.replace(
        "    profile: development\n",
        "    profile: development\n    env:\n      API_TOKEN:\n        secure: v1:abc\n",
    )
    path = project_copy(tmp_path, "dev", text)
    code, out, _ = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"), "--json")
    assert code == 0
    assert json.loads(out)["settings"]["app"]["env"] == {"API_TOKEN": "[secret]"}


def test_the_documented_secure_setups_validate_and_a_plain_bad_value_is_still_refused(tmp_path: Path) -> None:
    """A secret docker.host or notifications.webhookUrl cannot be read offline: the program checks it once
    decrypted, with the same pattern. A plain one is checked here."""
    secure = "  bluegreen:docker:\n    host:\n      secure: v1:abc\n" \
             "  bluegreen:notifications:\n    webhookUrl:\n      secure: v1:def\n"  # fmt: skip
    path = project_copy(tmp_path, "dev", (ROOT / "Pulumi.dev.yaml").read_text() + secure)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 0 and "valid" in out, err
    plain = "  bluegreen:docker:\n    host: -oProxyCommand=x\n"
    path = project_copy(tmp_path, "dev", (ROOT / "Pulumi.dev.yaml").read_text() + plain)
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and "docker.host: got '-oProxyCommand=x'; allowed: a Docker host" in err


@pytest.mark.parametrize("argv", [["validate"], ["frobnicate"], ["validate", "a", "b"]])
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bluegreen") and err.rstrip().endswith("(see --help)"), err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["rollback", "--stack", "dev", "--successes", "0"], "--successes: got '0'; allowed: an integer >= 1"),
        (["rollback", "--stack", "dev", "--successes", "x"], "--successes: got 'x'; allowed: an integer >= 1"),
        (["image", "list", "shop", "--bucket", "b", "--endpoint-url", "localhost:9000"], "--endpoint-url: got"),
        (["image", "list", "shop", "--bucket", "b", "--endpoint-url", "http://"], "allowed: an http:// or https://"),
        (["pids-limit", "--limit", "0", "c1"], "--limit: got '0'; allowed: an integer >= 1"),
        (
            ["seed-routing", "--volume", "v", "--image", "i", "--user", "nginx"],
            "--user: got 'nginx'; allowed: numeric uid:gid, e.g. 101:101",
        ),
    ],
)
def test_bad_values_are_one_line_naming_the_option(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2 and needle in err and err.count("\n") == 1, err


def test_rollback_successes_zero_exits_2_as_a_process() -> None:
    """The issue's own words: `python -m bluegreen rollback --stack dev --successes 0` exits 2 naming --successes."""
    done = subprocess.run(
        [sys.executable, "-m", "bluegreen", "rollback", "--stack", "dev", "--successes", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--successes" in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_engine_is_bad_input_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    done = subprocess.run(
        [sys.executable, "-m", "bluegreen", "status", "--stack", "dev"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("status bluegreen-dev: no Docker engine answers at unix://")
    assert done.stderr.count("\n") == 1, done.stderr


def test_switch_refuses_unreadable_and_invalid_plans(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    code, _, err = run("switch", "--stack", "dev", "--plan", str(missing))
    assert code == 2 and err.strip() == f"bluegreen switch: plan {missing}: no such file"
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"deployment": "café"}'.encode("latin-1"))
    code, _, err = run("switch", "--stack", "dev", "--plan", str(latin))
    assert (
        code == 2
        and err.strip() == f"bluegreen switch: plan {latin}: not UTF-8 text (byte 0xe9 at offset 19); save it as UTF-8"
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    code, _, err = run("switch", "--stack", "dev", "--plan", str(broken))
    assert code == 2 and "not valid JSON (line 1" in err
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"deployment": "bluegreen-dev", "active": "blue", "weights": {"blue": 100}}))
    code, _, err = run("switch", "--stack", "dev", "--plan", str(invalid))
    assert code == 2
    assert "plan: weights.green: missing" in err and "plan: colors: missing" in err
    assert err.strip().endswith("plan refused; routing unchanged")


def test_a_latin1_stack_file_is_one_line(tmp_path: Path) -> None:
    path = project_copy(tmp_path, "dev", "")
    path.write_bytes((ROOT / "Pulumi.dev.yaml").read_bytes() + "# café\n".encode("latin-1"))
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and out == ""
    offset = len((ROOT / "Pulumi.dev.yaml").read_bytes()) + len("# caf")
    assert err == f"{path}: not UTF-8 text (byte 0xe9 at offset {offset}); save it as UTF-8\n"


def test_a_misspelled_namespace_is_refused_with_a_hint(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text() + "  bluegren:trafficWeight: 10\n  acme:color: red\n"
    path = project_copy(tmp_path, "dev", text)
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2
    assert "bluegren:trafficWeight: unknown key (value 10)" in err and "(did you mean bluegreen:trafficWeight?)" in err
    assert "acme:color: unknown key" in err and "'acme' is neither this project's nor a provider's" in err


def test_provider_namespaces_stay_allowed(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text() + "  docker:caCerts: x\n  aws:region: eu-west-1\n"
    path = project_copy(tmp_path, "dev", text)
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 0, err


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text() + "  bluegreen:activeColor: green\n"
    path = project_copy(tmp_path, "dev", text)
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and "not valid YAML at line" in err and "duplicate key 'bluegreen:activeColor'" in err
    assert err.count("\n") == 1


def _dev_with(changes: dict[str, object]) -> str:
    import yaml

    data = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for key, value in changes.items():
        top, _, rest = key.partition(".")
        node = data["config"].setdefault(f"bluegreen:{top}", {})
        *parents, leaf = rest.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return str(yaml.safe_dump(data, sort_keys=False))


def test_typed_path_values_are_accepted(tmp_path: Path) -> None:
    """`pulumi config set --path app.env.WORKERS 4` and `--path green.version 2` store typed values; both are meant."""
    path = project_copy(tmp_path, "dev", _dev_with({"app.env.WORKERS": 4, "app.env.DEBUG": True, "green.version": 2}))
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"), "--json")
    assert code == 0, err + out
    settings = json.loads(out)["settings"]
    assert settings["green"]["version"] == "2"
    assert settings["app"]["env"]["WORKERS"] == "4" and settings["app"]["env"]["DEBUG"] == "true"


def test_a_secret_where_the_program_cannot_keep_it_is_refused(tmp_path: Path) -> None:
    path = project_copy(tmp_path, "dev", _dev_with({"blue.version": {"secure": "v1:abc"}}))
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2
    assert err.splitlines()[0] == (
        f"{path}: blue.version: got '[secret]'; allowed: a plain value; secrets are kept secret only in "
        "app.env.<NAME>, docker.host, registryAuth.password, tls.{certificate,key}, notifications.webhookUrl and "
        "database.{password,url}"
    )


@pytest.mark.parametrize("user", ["0:0", "00", "root", "root:root", "000:1000"])
def test_every_spelling_of_root_is_refused(tmp_path: Path, user: str) -> None:
    text = (
        (ROOT / "Pulumi.dev.yaml").read_text().replace("  bluegreen:app:\n", f'  bluegreen:app:\n    user: "{user}"\n')
    )
    path = project_copy(tmp_path, "dev", text)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and out == ""
    assert err.splitlines()[0] == f"{path}: app.user: got {user!r}; allowed: a non-root user, e.g. 10001:10001"


def test_relaxed_hardening_is_listed_by_validate(tmp_path: Path) -> None:
    relaxed = "  bluegreen:app:\n    security:\n      readOnlyRootFilesystem: false\n      capAdd: [NET_RAW]\n"
    text = (ROOT / "Pulumi.dev.yaml").read_text().replace("  bluegreen:app:\n", relaxed)
    path = project_copy(tmp_path, "dev", text)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 0, err
    assert out.splitlines()[1:] == [
        f"{path}: relaxed: app.security.readOnlyRootFilesystem false (default true): the root filesystem is writable",
        f"{path}: relaxed: app.security.capAdd NET_RAW (default none): capabilities added back",
    ]
    code, out, _ = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"), "--json")
    assert len(json.loads(out)["relaxed"]) == 2
    bad = text.replace("capAdd: [NET_RAW]", "capAdd: [net_raw]")
    code, _, err = run("validate", str(project_copy(tmp_path, "dev", bad)), "--project-file",
                       str(tmp_path / "Pulumi.yaml"))  # fmt: skip
    assert code == 2 and err.splitlines()[0].endswith(
        "app.security.capAdd[0]: got 'net_raw'; allowed: a Linux capability name such as NET_BIND_SERVICE (uppercase)"
    ), err


def test_pids_limit_without_a_container_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """The program passes the id through the environment; an empty one must not pass for "all done"."""
    assert main(["pids-limit", "--limit", "256", ""]) == 2
    assert capsys.readouterr().err == "pids-limit: CONTAINER: got none; allowed: one or more container names or ids\n"


def test_an_ssh_host_that_smuggles_an_option_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text() + "  bluegreen:docker:\n    host: ssh://-oProxyCommand=x@h\n"
    path = project_copy(tmp_path, "dev", text)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and out == ""
    assert err.splitlines()[0] == (
        f"{path}: docker.host: got 'ssh://-oProxyCommand=x@h'; allowed: a Docker host: unix:///PATH, "
        "tcp://HOST:PORT or ssh://[USER@]HOST[:PORT] (letters, digits, '.', '_', '-'; no leading '-')"
    )


def test_the_providers_own_docker_host_key_is_refused_with_the_right_key(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text() + "  docker:host: ssh://deploy@h\n"
    path = project_copy(tmp_path, "dev", text)
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2
    assert err.splitlines()[0].startswith(
        f"{path}: docker:host: got 'ssh://deploy@h'; allowed: bluegreen:docker.host instead"
    ), err


def test_a_non_dev_stack_must_name_its_engine(tmp_path: Path) -> None:
    """Without a host, deploy.yml's `pulumi up -s staging` would deploy onto the throwaway CI runner."""
    text = (ROOT / "Pulumi.staging.yaml").read_text().replace("    host: ssh://deploy@staging-1.internal\n", "")
    path = project_copy(tmp_path, "staging", text.replace("  bluegreen:docker:\n", ""))
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{path}: docker.host: missing; required: the engine stack 'staging' deploys to (ssh://user@host, "
        "tcp://host:2376), a docker.context, or docker.local: true when it runs on the machine that runs pulumi; "
        "otherwise a CI runner deploys to itself",
        f"{path}: 1 problem(s); nothing was changed",
    ]
    original = (ROOT / "Pulumi.staging.yaml").read_text()
    local = project_copy(tmp_path, "staging", original.replace("host: ssh://deploy@staging-1.internal", "local: true"))
    assert run("validate", str(local), "--project-file", str(tmp_path / "Pulumi.yaml"))[0] == 0


@pytest.mark.parametrize(
    ("docker", "line"),
    [
        ("    host: ssh://deploy@staging-1.internal\n    context: staging-box\n",
         "docker.context: got 'staging-box'; allowed: unset while docker.host is set (one engine)"),
        ("    host: ssh://deploy@staging-1.internal\n    certPath: /etc/engine-tls\n",
         "docker.certPath: got '/etc/engine-tls'; allowed: set only with a tcp:// docker.host (or docker.context)"),
        ("    context: -oProxyCommand=x\n",
         "docker.context: got '-oProxyCommand=x'; allowed: a Docker context name as `docker context ls` shows it "
         "(letters, digits, '_', '.', '+', '-')"),
    ],
)  # fmt: skip
def test_one_engine_per_stack_and_tls_only_where_it_applies(tmp_path: Path, docker: str, line: str) -> None:
    original = (ROOT / "Pulumi.staging.yaml").read_text()
    text = original.replace("    host: ssh://deploy@staging-1.internal\n", docker)
    assert text != original
    path = project_copy(tmp_path, "staging", text)
    code, out, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == f"{path}: {line}"


def test_a_context_names_a_non_dev_stacks_engine(tmp_path: Path) -> None:
    original = (ROOT / "Pulumi.staging.yaml").read_text()
    text = original.replace("    host: ssh://deploy@staging-1.internal\n", "    context: staging-box\n")
    path = project_copy(tmp_path, "staging", text)
    assert run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))[0] == 0


def test_yaml_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    """A billion laughs in 400 bytes cost 7.6 s of CPU before; refused at the first alias now."""
    lines = ["config:", "  bluegreen:activeColor: blue", '  x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = project_copy(tmp_path, "dev", "\n".join(lines) + "\n")
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and err.count("\n") == 1, err
    assert "not valid YAML at line 4, column 12: an alias (*name); allowed: no YAML aliases or anchors" in err


PROD_SAFE = [
    ({"app": {"security": {"capAdd": ["SYS_ADMIN"]}}}, "app.security.capAdd: got [\"SYS_ADMIN\"]; allowed: none of "
     "SYS_ADMIN on production stack 'prod'"),
    ({"app": {"security": {"capAdd": ["ALL"]}}}, "app.security.capAdd: got [\"ALL\"]; allowed: none of ALL"),
    ({"app": {"security": {"readOnlyRootFilesystem": False}}}, "app.security.readOnlyRootFilesystem: got false; "
     "allowed: true on production stack 'prod'"),
    ({"docker": {"host": "tcp://10.0.0.7:2375"}}, "docker.host: got 'tcp://10.0.0.7:2375'; allowed: ssh://, or "
     "tcp:// with docker.certPath"),
    ({"image": {"source": "build", "context": "app"}}, "image.runtimeImage: missing; required: a runtime base "
     "without shell, pip or apt in production"),
    ({"image": {"source": "s3", "bucket": "acme-images"}}, "blue.imageId: missing; required: the image id "
     "`bluegreen image push` printed"),
    ({"image": {"source": "s3", "bucket": "acme-images", "endpointUrl": "http://minio.internal:9000"},
      "blue": {"version": "1.4.2", "imageId": "sha256:" + "4" * 64},
      "green": {"version": "1.4.2", "imageId": "sha256:" + "4" * 64}},
     "image.endpointUrl: got 'http://minio.internal:9000'; allowed: an https:// URL (or http:// to a loopback"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "line"), PROD_SAFE, ids=[c[1].split(":")[0] for c in PROD_SAFE])
def test_prod_refuses_each_unsafe_setting_in_one_line_naming_the_key(
    tmp_path: Path, changes: dict[str, object], line: str
) -> None:
    import yaml

    data = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    for key, value in changes.items():
        current = data["config"].get(f"bluegreen:{key}")
        merged = (
            {**current, **value} if isinstance(current, dict) and isinstance(value, dict) and key != "image" else value
        )
        data["config"][f"bluegreen:{key}"] = merged
    path = project_copy(tmp_path, "prod", yaml.safe_dump(data))
    code, _, err = run("validate", str(path), "--project-file", str(tmp_path / "Pulumi.yaml"))
    assert code == 2 and any(line in said for said in err.splitlines()), err
    assert err.splitlines()[-1].endswith("problem(s); nothing was changed")
