"""One line per bad config value: the key, the value given, and what is allowed.

pydantic's own messages name neither the allowed range nor the user's key
spelling; this module turns a ValidationError into `Problem`s by walking the
settings models along each error's location, so the message is derived from
the same constraint that refused the value and cannot drift from it.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Problem:
    """A refused value. `key` is the path users type: `router.previewPort`."""

    key: str
    value: Any
    allowed: str
    unknown_key: bool = False

    def line(self) -> str:
        if self.unknown_key:
            return f"{self.key}: unknown key (value {show_value(self.value)}); {self.allowed}"
        if self.value is MISSING:
            return f"{self.key}: missing; required: {self.allowed}"
        return f"{self.key}: got {show_value(self.value)}; allowed: {self.allowed}"

    def as_dict(self) -> dict[str, Any]:
        value = None if self.value is MISSING else self.value
        return {
            "key": self.key,
            "value": value,
            "missing": self.value is MISSING,
            "unknownKey": self.unknown_key,
            "allowed": self.allowed,
        }


def show_value(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- walking the models -------------------------------------------------------


def _strip_optional(ann: Any) -> Any:
    if get_origin(ann) in (Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return ann


def _unannotate(ann: Any) -> tuple[Any, list[Any]]:
    """Split `Annotated[T, *meta]` (possibly Optional) into T and its metadata."""
    meta: list[Any] = []
    ann = _strip_optional(ann)
    while get_origin(ann) is Annotated:
        args = get_args(ann)
        ann, meta = args[0], [*meta, *args[1:]]
        ann = _strip_optional(ann)
    return ann, meta


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _union_members(ann: Any) -> list[type[BaseModel]]:
    if get_origin(ann) in (Union, types.UnionType):
        members = [a for a in get_args(ann) if _is_model(a)]
        if len(members) == len(get_args(ann)):
            return members
    return []


def _tag_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("source")
    if field is None:
        return None
    args = get_args(field.annotation)
    return str(args[0]) if args else None


def _fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {(f.alias or name): f for name, f in model.model_fields.items()}


@dataclass
class _Spot:
    """Where an error location points: the user's key path and the type there."""

    path: list[str]
    ann: Any
    meta: list[Any]
    parent: type[BaseModel] | None
    known: bool = True


def _locate(root: type[BaseModel], loc: Sequence[str | int]) -> _Spot:
    ann: Any = root
    meta: list[Any] = []
    parent: type[BaseModel] | None = None
    path: list[str] = []
    dict_key_ann: Any = None
    for part in loc:
        if part == "[key]" and dict_key_ann is not None:
            # pydantic puts "[key]" after the offending key: the key, not its value, is bad.
            ann, meta = dict_key_ann, []
            continue
        dict_key_ann = None
        ann, more = _unannotate(ann)
        meta = more
        members = _union_members(ann)
        if members:
            # A discriminated union puts the tag value in the location: skip it.
            chosen = next((m for m in members if _tag_of(m) == part), None)
            if chosen is not None:
                ann = chosen
                continue
        if _is_model(ann):
            parent = ann
            field = _fields_by_key(ann).get(str(part))
            path.append(str(part))
            if field is None:
                return _Spot(path, None, [], parent, known=False)
            ann, meta = field.annotation, list(field.metadata)
            inner, inner_meta = _unannotate(ann)
            ann, meta = inner, [*meta, *inner_meta]
        elif get_origin(ann) is dict:
            dict_key_ann, ann = get_args(ann)
            path.append(str(part))
            meta = []
        elif get_origin(ann) is list:
            path[-1] = f"{path[-1]}[{part}]"
            ann = get_args(ann)[0]
            meta = []
        else:
            path.append(str(part))
    ann, more = _unannotate(ann)
    return _Spot(path, ann, [*meta, *more], parent)


def _bounds(meta: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for m in meta:
        for attr in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(m, attr, None)
            if value is not None:
                found[attr] = value
    return found


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _range(meta: list[Any]) -> str:
    """ "from 1 to 300", "at least 0", "> 0": a number's bounds in words ("" without any)."""
    b = _bounds(meta)
    low = b.get("ge", b.get("gt"))
    high = b.get("le", b.get("lt"))
    if low is not None and high is not None:
        if "ge" in b and "le" in b:
            return f"from {_num(low)} to {_num(high)}"
        lo_text = f"at least {_num(low)}" if "ge" in b else f"greater than {_num(low)}"
        hi_text = f"at most {_num(high)}" if "le" in b else f"less than {_num(high)}"
        return f"{lo_text} and {hi_text}"
    if low is not None:
        return f">= {_num(low)}" if "ge" in b else f"> {_num(low)}"
    return ""


def describe(ann: Any, meta: list[Any]) -> str:
    """What a value of this (annotated) type may be, in words."""
    ann, more = _unannotate(ann)
    meta = [*meta, *more]
    for m in meta:
        text = getattr(m, "text", None)
        if isinstance(text, str) and type(m).__name__ == "Allowed":
            return text.replace("{range}", _range(meta)) if "{range}" in text else text
    if get_origin(ann) is Literal:
        values = [repr(v) for v in get_args(ann)]
        return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
    members = _union_members(ann)
    if members:
        tags = [repr(_tag_of(m)) for m in members]
        return "a mapping whose 'source' is " + ", ".join(tags[:-1]) + " or " + tags[-1]
    if ann is bool:
        return "true or false"
    if ann in (int, float):
        kind = "an integer" if ann is int else "a number"
        return f"{kind} {_range(meta)}".rstrip()
    if ann is str:
        b = _bounds(meta)
        if b.get("min_length"):
            return "a non-empty string"
        return "a string"
    if get_origin(ann) is dict:
        key_ann, value_ann = get_args(ann)
        return f"a mapping from {describe(key_ann, [])} to {describe(value_ann, [])}"
    if get_origin(ann) is list:
        size = " (at least one)" if _bounds(meta).get("min_length") else ""
        return f"a list{size}, each {describe(get_args(ann)[0], [])}"
    if _is_model(ann):
        return "a mapping with keys: " + ", ".join(_fields_by_key(ann))
    return getattr(ann, "__name__", str(ann))


def problems_from_validation_error(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for err in exc.errors():
        loc = err["loc"]
        spot = _locate(root, loc)
        key = ".".join(spot.path) or "(root)"
        value = err.get("input", MISSING)
        kind = err["type"]
        if kind == "extra_forbidden" or not spot.known:
            allowed_keys = list(_fields_by_key(spot.parent)) if spot.parent else []
            guess = difflib.get_close_matches(spot.path[-1], allowed_keys, n=1, cutoff=0.6)
            hint = f" (did you mean {'.'.join([*spot.path[:-1], guess[0]])}?)" if guess else ""
            problems.append(Problem(key, value, "known keys here: " + ", ".join(allowed_keys) + hint, unknown_key=True))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            key = ".".join([*spot.path, "source"])
            tag = err.get("ctx", {}).get("tag", MISSING)
            problems.append(
                Problem(key, tag, describe(spot.ann, spot.meta).replace("a mapping whose 'source' is ", ""))
            )
        elif kind == "missing":
            problems.append(Problem(key, MISSING, describe(spot.ann, spot.meta)))
        else:
            allowed = describe(spot.ann, spot.meta)
            if kind == "value_error":
                allowed = f"{allowed} ({err['msg'].removeprefix('Value error, ')})"
            problems.append(Problem(key, value, allowed))
        if key in seen:
            problems.pop()
        seen.add(key)
    return problems
