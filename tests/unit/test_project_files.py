"""Pulumi.yaml and the stack files agree with the settings models."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bluegreen.config.settings import StackSettings
from lab.paths import ROOT

PULUMI_TYPES = {"string": str, "integer": int, "boolean": bool}


def project() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    return data


def test_project_identity() -> None:
    data = project()
    assert data["name"] == "bluegreen"
    assert data["runtime"]["name"] == "python"
    assert data["runtime"]["options"]["virtualenv"] == ".venv"
    assert data["description"]


def test_declared_keys_match_the_model() -> None:
    fields = {(f.alias or n): f for n, f in StackSettings.model_fields.items()}
    declared = project()["config"]
    assert declared, "Pulumi.yaml declares no config"
    for key, decl in declared.items():
        assert key in fields, f"Pulumi.yaml declares {key}, which the model does not know"
        assert decl["description"]
        field = fields[key]
        if "default" in decl:
            assert decl["default"] == field.default, f"default of {key} drifted"
            assert isinstance(decl["default"], PULUMI_TYPES[decl["type"]])
        else:
            assert field.is_required(), f"{key} has a model default that Pulumi.yaml does not declare"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_files_use_the_project_namespace(stack: str) -> None:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert all(key.startswith("bluegreen:") for key in config), config.keys()
