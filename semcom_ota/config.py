"""Configuration as data: YAML validated into typed pydantic objects at the edge.

Every config model derives from :class:`StrictModel` (unknown keys are rejected). Load with
:func:`load_yaml`, which uses ``yaml.safe_load`` only and turns validation failures into a
:class:`ConfigError` naming the file, the key path, the value and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigError(ValueError):
    """A configuration that does not validate; the message names key path, value and expectation."""


class StrictModel(BaseModel):
    """Base for every config object: unknown keys rejected, assignments validated, immutable."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True)


M = TypeVar("M", bound=BaseModel)


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem: ``source: key.path = value -> expected ...``."""
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<root>"
        kind = e["type"]
        value = e.get("input")
        if kind == "extra_forbidden":
            lines.append(f"  {path} = {value!r}: unknown key (expected one of the documented keys)")
        elif kind == "missing":
            lines.append(f"  {path}: required key is missing")
        else:
            lines.append(f"  {path} = {value!r}: {e['msg']}")
    return "\n".join(lines)


def validate_config(model: type[M], data: Any, source: str = "<config>") -> M:
    """Validate a mapping into ``model``; raise :class:`ConfigError` with readable messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"invalid configuration in {source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Read ``path`` with ``yaml.safe_load`` and validate it into ``model``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"configuration file {path}: not found (expected a YAML file)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"configuration file {path}: not valid YAML ({err})") from None
    return validate_config(model, data, str(path))
