"""bluegreen image copy without engines: what a node gets, what is checked, what a failure says."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from bluegreen.cli.main import main
from bluegreen.errors import DockerError, ImageStoreError
from bluegreen.images import nodes

IMAGE = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


class Engine:
    """One engine's images; a load records the bytes it received and adds what the archive holds."""

    def __init__(self, images: set[str], gives: str | None = None, down: bool = False) -> None:
        self.images, self.gives, self.down, self.received = images, gives, down, b""


ENGINES: dict[str, Engine] = {}


class FakeClient:
    def __init__(self, host: str | None = None, timeout: float = 30.0, cert_path: str | None = None) -> None:
        self.host = host or "unix:///var/run/docker.sock"
        self.cert_path = cert_path
        self.engine = ENGINES[self.host]

    def image_id(self, ref: str) -> str | None:
        if self.engine.down:
            raise DockerError("GET /images/json: no Docker engine answers")
        return ref if ref in self.engine.images else None

    def save_image(self, ref: str) -> Iterator[bytes]:
        assert ref in self.engine.images
        yield from (b"layer-1", b"layer-2")

    def load_image(self, archive: Iterable[bytes]) -> str:
        self.engine.received = b"".join(archive)
        self.engine.images.add(self.engine.gives or IMAGE)
        return "Loaded image ID"

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def engines(monkeypatch: pytest.MonkeyPatch) -> None:
    ENGINES.clear()
    ENGINES["unix:///var/run/docker.sock"] = Engine({IMAGE})
    monkeypatch.setattr(nodes, "DockerClient", FakeClient)


def test_each_node_gets_the_image_streamed_and_one_that_has_it_only_an_inspect() -> None:
    ENGINES["ssh://a"], ENGINES["ssh://b"] = Engine(set()), Engine({IMAGE})
    copied = nodes.copy_to_nodes(IMAGE, ["ssh://a", "ssh://b"])
    assert [(c.node, c.had) for c in copied] == [("ssh://a", False), ("ssh://b", True)]
    assert ENGINES["ssh://a"].received == b"layer-1layer-2" and ENGINES["ssh://b"].received == b""
    assert copied[0].line() == f"ssh://a: {IMAGE[:19]} loaded (0.0 MB)"


def test_a_node_that_ends_up_with_another_image_or_none_fails_naming_it() -> None:
    ENGINES["ssh://a"], ENGINES["ssh://b"] = Engine(set(), gives=OTHER), Engine(set(), down=True)
    with pytest.raises(ImageStoreError) as raised:
        nodes.copy_to_nodes(IMAGE, ["ssh://a", "ssh://b"])
    text = str(raised.value)
    assert f"ssh://a: after the load it holds no image by that id, not {IMAGE}" in text
    assert "ssh://b: GET /images/json: no Docker engine answers; the colour's image is not there" in text


def test_an_image_this_engine_lacks_is_refused_before_any_node_is_touched() -> None:
    ENGINES["ssh://a"] = Engine(set())
    with pytest.raises(ImageStoreError, match="not on the deploying engine"):
        nodes.copy_to_nodes(OTHER, ["ssh://a"])
    assert ENGINES["ssh://a"].received == b""


def test_the_cli_names_a_bad_node_address_before_anything_runs() -> None:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        main(["image", "copy", IMAGE, "--to", "ssh://-oProxyCommand=x@n"], out, err)
    assert exited.value.code == 2


def test_the_cli_prints_one_line_per_node_and_exits_with_the_errors_code() -> None:
    ENGINES["ssh://a"] = Engine(set())
    out, err = io.StringIO(), io.StringIO()
    assert main(["image", "copy", IMAGE, "--to", "ssh://a"], out, err) == 0
    assert out.getvalue() == f"ssh://a: {IMAGE[:19]} loaded (0.0 MB)\n"
    ENGINES["ssh://b"] = Engine(set(), down=True)
    code: Any = main(["image", "copy", IMAGE, "--to", "ssh://b"], out, err)
    assert code == ImageStoreError.exit_code and err.getvalue().startswith("image copy: ssh://b: ")
