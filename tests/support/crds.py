"""Checks against upstream CRDs: the v1 schema, strict validation (no field the API server would
prune), and server-side apply's merge of list-maps keyed by name."""

from __future__ import annotations

import functools

import jsonschema
import yaml

from support.upstream import upstream_file


@functools.cache
def v1_schema(path: str) -> dict:
    """The openAPIV3Schema of the CRD's v1 version (v1alpha1 is still served by some and differs).
    Parsed once per session, with libyaml: the RayCluster CRD alone took pure-Python YAML 3 s a read.
    Callers only read it."""
    crd = yaml.load(upstream_file(path).read_text(), Loader=yaml.CSafeLoader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


@functools.cache
def _validator(path: str) -> jsonschema.protocols.Validator:
    # Without checking the schema itself: the CRDs hold Go regular expressions ("^(?i)...") that
    # Python's `re` rejects; a pattern is compiled only for a field that is present.
    schema = v1_schema(path)
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(schema)(schema)
    return validator


def unknown_fields(value, schema: dict, path: str = "") -> list[str]:
    """Fields the API server would prune: not declared by the structural schema (strict validation)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                found += unknown_fields(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += unknown_fields(item, extra, f"{path}.{key}")
            elif properties is not None or extra is False:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


def assert_strictly_valid(body: dict, path: str) -> None:
    """Valid against the CRD at `path`, and no field unknown to it (metadata is the API server's)."""
    schema = v1_schema(path)
    body = {k: v for k, v in body.items() if k != "metadata"}
    _validator(path).validate(body)
    assert unknown_fields({k: v for k, v in body.items() if k not in ("apiVersion", "kind")}, schema) == []


def merge_list_map(existing: list, patch: list) -> list:
    """Server-side apply of a list-map keyed by name, as the API server does for these fields."""
    merged = {item["name"]: dict(item) for item in existing}
    for item in patch:
        merged[item["name"]] = {**merged.get(item["name"], {}), **item}
    return list(merged.values())
