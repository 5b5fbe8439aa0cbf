"""The configuration reference, generated from the settings models.

docs/configuration.md holds this text between markers; a test regenerates it
and fails when the two differ, so the reference cannot drift from the code.
`python -m bluegreen reference` prints it.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bluegreen.config.problems import _is_model, _unannotate, _union_members, describe
from bluegreen.config.settings import StackSettings
from bluegreen.errors import StackFileError

START = "<!-- reference:start -->"
END = "<!-- reference:end -->"

EXAMPLES: dict[str, str] = {
    "activeColor": "green",
    "trafficWeight": "10",
    "stickiness": "cookie",
    "blue.version": '"1.4.2"',
    "blue.replicas": "3",
    "app.env": "{APP_LOG_LEVEL: info}",
    "router.bindAddress": str(ipaddress.IPv4Address(0)),  # every interface: an example value in the docs
    "router.rateLimit": "{requestsPerSecond: 50, burst: 100}",
    "image.repository": "acme/shop",
    "docker.host": "ssh://deploy@app-1.internal",
}


def _default_value(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def _default(field: FieldInfo, value: Any) -> str:
    if field.is_required():
        return "required"
    if value is PydanticUndefined or value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{json.dumps(value)}`"


def _rows(model: type[BaseModel], prefix: str, parent: Any = None) -> list[tuple[str, str, str, str, str]]:
    """One row per key; nested defaults come from the parent's default (green has 0 replicas)."""
    rows: list[tuple[str, str, str, str, str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}{key}"
        value = getattr(parent, name) if isinstance(parent, BaseModel) else _default_value(field)
        ann, meta = _unannotate(field.annotation)
        meta = [*field.metadata, *meta]
        members = _union_members(ann)
        doc = field.description or ""
        example = EXAMPLES.get(path, "")
        if members:
            rows.append((path, _default(field, value), describe(ann, meta), doc, example))
            for member in members:
                tag = member.model_fields["source"].annotation.__args__[0]  # type: ignore[union-attr]
                own = value if isinstance(value, member) else None
                rows += [(f"{r[0]} ({tag})", *r[1:]) for r in _rows(member, path + ".", own)
                         if not r[0].endswith(".source")]  # fmt: skip
        elif _is_model(ann):
            rows.append((path, _default(field, value), "a mapping", doc, example))
            rows += _rows(ann, path + ".", value)
        else:
            rows.append((path, _default(field, value), describe(field.annotation, meta), doc, example))
    return rows


def reference() -> str:
    lines = ["| key | default | allowed | meaning | example |", "| --- | --- | --- | --- | --- |"]
    for path, default, allowed, doc, example in _rows(StackSettings, ""):
        shown = f"`{example}`" if example else ""
        lines.append(f"| `{path}` | {default} | {allowed.replace('|', '/')} | {doc} | {shown} |")
    return "\n".join(lines)


def with_reference(text: str, name: str) -> str:
    """`text` with the block between START and END replaced by the current reference."""
    if START not in text or END not in text:
        raise StackFileError(f"{name}: no {START} ... {END} markers to write the reference between")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{reference()}\n{END}{tail}"
