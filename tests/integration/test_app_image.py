"""The app image on a real engine: non-root, healthy, honest, graceful on SIGTERM."""

from __future__ import annotations

import json
import threading
import time

import pytest

from lab.dockercli import docker, get, run

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("containers")]


def test_image_config_is_non_root_with_healthcheck(app_image: str) -> None:
    config = json.loads(docker("image", "inspect", app_image).stdout)[0]["Config"]
    user = config["User"]
    assert user and user.split(":")[0] not in ("", "0", "root")
    assert config["Healthcheck"]["Test"][0] == "CMD"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "itest"
    assert labels["org.opencontainers.image.revision"]


def test_runs_as_uid_10001_without_pip_or_setuptools(app_image: str) -> None:
    """The runtime stage carries the venv and the app, not the tools that built them (no shell either: python)."""
    probe = "import importlib.util as u, os; print(os.getuid(), u.find_spec('pip'), u.find_spec('setuptools'))"
    done = docker("run", "--rm", "--network", "none", app_image, "python", "-c", probe)
    assert done.stdout.split() == ["10001", "None", "None"]


def test_becomes_healthy_and_answers_with_its_colour(app_image: str) -> None:
    app = run(app_image, "bg-itest-green", "-p", "127.0.0.1::8000", env={"APP_COLOR": "green"})
    app.wait_health("healthy", timeout=60)
    status, headers, body = get(app.url("/"))
    assert status == 200
    assert json.loads(body)["color"] == "green" and json.loads(body)["version"] == "itest"
    assert headers["x-app-color"] == "green" and headers["x-app-version"] == "itest"
    assert "server" not in {k.lower() for k in headers} and "host" not in json.loads(body), "nothing about the host"
    log_line = json.loads(app.logs().strip().splitlines()[-1])
    assert log_line["path"] == "/" and log_line["status"] == 200 and log_line["color"] == "green"
    assert get(app.url("/slow?seconds=0"))[0] == 404, "test endpoints are off in the production profile"


def test_sigterm_during_slow_request_returns_200_and_exits_0(app_image: str) -> None:
    app = run(
        app_image, "bg-itest-term", "-p", "127.0.0.1::8000", env={"APP_COLOR": "blue", "APP_DEBUG_ENDPOINTS": "1"}
    )
    app.wait_health("healthy", timeout=60)
    url = app.url("/slow?seconds=2")
    result: dict[str, object] = {}

    def call() -> None:
        started = time.monotonic()
        result["status"], _, result["body"] = get(url, timeout=15)
        result["seconds"] = time.monotonic() - started

    client = threading.Thread(target=call)
    client.start()
    time.sleep(0.5)
    docker("kill", "--signal", "TERM", app.name)
    client.join(timeout=20)
    assert result.get("status") == 200, (result, app.logs()[-2000:])
    assert float(result["seconds"]) >= 1.9  # type: ignore[arg-type]
    assert app.wait_exit(timeout=30) == 0


def test_bad_config_stops_the_container_with_a_clear_line(app_image: str) -> None:
    app = run(app_image, "bg-itest-bad", env={"APP_PORT": "eighty"})
    assert app.wait_exit(timeout=30) == 2
    assert "config error: APP_PORT: got 'eighty'" in app.logs()
    assert app.health() != "healthy"
