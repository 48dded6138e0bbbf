"""CloudFormation YAML, loaded the one way the whole repository reads template.yaml.

PyYAML's safe loader refuses CloudFormation's short-form tags (``!Ref X``, ``!Sub ...``,
``!GetAtt A.B``). This loader turns each into the long form CloudFormation itself uses in
JSON templates, so code and tests handle one shape: ``{"Ref": X}``, ``{"Fn::Sub": ...}``,
``{"Fn::GetAtt": [A, B]}``, ``{"Condition": X}``. The local stack's wiring
(``local/template_wiring.py``), the template tests and anything else that reads a template
use it; nothing else in the repository registers YAML constructors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form intrinsics, as their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def loads(text: str) -> Any:
    """A YAML document with CloudFormation tags, as plain data."""
    return yaml.load(text, Loader=CfnLoader)


def load(path: Path) -> dict[str, Any]:
    """A CloudFormation template file; ValueError when it is not a mapping."""
    data = loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return data
