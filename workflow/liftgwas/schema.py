"""Validate a config section against a JSON Schema and fill in its defaults, in one pass.

One filler for every schema of the workflow (workflow/schemas/*.yaml): jsonschema's own
validator, extended so that its ``properties`` keyword also sets each missing property that
declares a ``default`` (the recipe of the jsonschema FAQ). Because the validator itself walks
the schema, defaults inside ``$ref``s, ``additionalProperties`` and the ``then``/``else``
branch that applies (e.g. a trait's kind) are filled exactly where validation goes.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml


@functools.lru_cache(maxsize=None)
def load(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


@functools.lru_cache(maxsize=1)
def _filling_validator():
    import jsonschema

    base = jsonschema.Draft202012Validator
    properties = base.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, schema):
        if validator.is_type(instance, "object"):
            for key, sub in props.items():
                if isinstance(sub, dict) and "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from properties(validator, props, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def validate(instance, schema: dict, key: list[str] | tuple[str, ...] = ()):
    """A validated copy of ``instance`` with defaults filled in.

    Raises ValueError "config key <key>.<path>: <message>" for the first error (in path
    order), so the message names the config key to fix.
    """
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    if errors:
        e = errors[0]
        message = e.message
        if e.validator in ("oneOf", "anyOf") and e.context:
            # say what each alternative lacks, e.g. "'any_of' is a required property"
            options = list(dict.fromkeys(sub.message for sub in e.context))
            message = f"{message}; it needs one of: {' | '.join(options)}"
        raise ValueError(f"config key {'.'.join([*key, *map(str, e.path)]) or '(top level)'}: {message}")
    filled = copy.deepcopy(instance)
    for _ in _filling_validator()(schema).iter_errors(filled):
        pass  # validated above; this pass only fills defaults
    return filled


def settings_from_section(cls, section: dict | None, name: str):
    """A settings dataclass from its config section: unknown keys are an error naming
    ``name.key``; absent keys take the dataclass defaults; then the class's own ``validate``."""
    section = dict(section or {})
    unknown = sorted(set(section) - set(cls.__dataclass_fields__))
    if unknown:
        raise ValueError(f"config key {name}.{unknown[0]}: unknown setting")
    settings = cls(**section)
    settings.validate()
    return settings
