"""The Avro schemas, the pydantic models and the examples agree; versions stay compatible."""

from __future__ import annotations

import hashlib
import itertools
import json
import types
import typing
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.utils import generate_many
from pydantic import BaseModel

from streams.codecs.avro import MODELS, SCHEMA_DIR, SchemaStore, decode, encode
from streams.codecs.compat import problems

STORE = SchemaStore()
SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.avsc"))
EXAMPLES = sorted((SCHEMA_DIR / "examples").glob("*.json"))


def _raw(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _avro_names(schema: Any, names: dict[str, Any]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _avro_names(branch, names)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum"):
            names[schema["name"].split(".")[-1]] = schema
        for field in schema.get("fields", []):
            _avro_names(field["type"], names)
        for key in ("items", "values"):
            if key in schema:
                _avro_names(schema[key], names)


def _check(annotation: Any, avro: Any, names: dict[str, Any], where: str) -> None:
    """Assert that a pydantic annotation and an Avro type describe the same values."""
    if isinstance(avro, str) and avro.split(".")[-1] in names:
        avro = names[avro.split(".")[-1]]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        _check(typing.get_args(annotation)[0], avro, names, where)
        return
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        assert isinstance(avro, list), f"{where}: optional in pydantic, not in Avro"
        assert avro[0] == "null", f"{where}: null must be the first branch (default null)"
        assert len(args) == 1, f"{where}: unions other than optional"
        assert len(avro) == 2, f"{where}: unions other than optional"
        _check(args[0], avro[1], names, where)
        return
    assert not isinstance(avro, list), f"{where}: nullable in Avro, required in pydantic"
    kind = avro["type"] if isinstance(avro, dict) else avro
    if origin is typing.Literal:
        assert kind == "string", where
    elif origin is list:
        assert kind == "array", where
        _check(typing.get_args(annotation)[0], avro["items"], names, f"{where}[]")
    elif origin is dict:
        assert kind == "map", where
        _check(typing.get_args(annotation)[1], avro["values"], names, f"{where}{{}}")
    elif isinstance(annotation, type) and issubclass(annotation, StrEnum):
        assert kind == "enum", where
        assert [m.value for m in annotation] == avro["symbols"], f"{where}: enum symbols"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        assert kind == "record", where
        _check_record(annotation, avro, names)
    elif annotation is datetime:
        assert isinstance(avro, dict), where
        assert avro.get("logicalType") == "timestamp-millis", where
    else:
        expected = {
            str: "string",
            int: ("int", "long"),
            float: ("float", "double"),
            bytes: "bytes",
            bool: "boolean",
        }[annotation]
        assert kind in (expected if isinstance(expected, tuple) else (expected,)), where


def _check_record(model: type[BaseModel], avro: dict[str, Any], names: dict[str, Any]) -> None:
    fields = {f["name"]: f for f in avro["fields"]}
    assert set(model.model_fields) == set(fields), f"{model.__name__}: field names differ"
    for name, info in model.model_fields.items():
        where = f"{model.__name__}.{name}"
        _check(
            info.annotation
            if not info.metadata
            else typing.Annotated[info.annotation, *info.metadata],
            fields[name]["type"],
            names,
            where,
        )
        if not info.is_required():
            assert "default" in fields[name], f"{where}: default in pydantic, not in Avro"
            default = info.get_default(call_default_factory=True)
            assert fields[name]["default"] == default, f"{where}: defaults differ"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_pydantic_model_matches_newest_avro_schema(name: str) -> None:
    version = STORE.latest[name]
    raw = _raw(SCHEMA_DIR / f"{version.file}.v{version.version}.avsc")
    names: dict[str, Any] = {}
    _avro_names(raw, names)
    _check_record(MODELS[name], raw, names)


def test_every_schema_file_has_an_example() -> None:
    assert {p.stem for p in EXAMPLES} == {p.stem for p in SCHEMA_FILES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_decodes_and_round_trips(path: Path) -> None:
    file, version = path.stem.split(".v")
    schema = next(
        v for v in STORE.by_fingerprint.values() if v.file == file and v.version == int(version)
    )
    model = MODELS[schema.name].model_validate_json(path.read_text(encoding="utf-8"))
    encoded = encode(model, STORE)
    assert decode(encoded, STORE) == model
    fastavro.validate(model.model_dump(), schema.schema, raise_errors=True)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_generated_data_round_trips(path: Path) -> None:
    parsed = fastavro.parse_schema(_raw(path))
    name = parsed["name"]
    for datum in generate_many(parsed, 25):
        if name in MODELS:
            datum["kind"] = MODELS[name].model_fields["kind"].default
            _clamp_units(datum)
            model = MODELS[name].model_validate(datum)
            assert decode(encode(model, STORE), STORE) == model


def _clamp_units(datum: dict[str, Any]) -> None:
    """Random floats are not valid confidences or boxes; keep them in 0..1."""
    for key in ("confidence", "quality"):
        if datum.get(key) is not None:
            datum[key] = 0.5
    for key in ("bbox", "plate_bbox"):
        if datum.get(key) is not None:
            datum[key] = {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}
    if datum.get("position") is not None:
        datum["position"] = {"lat": 30.0, "lon": 120.0}


def test_each_version_is_backward_compatible_with_the_previous() -> None:
    checked = 0
    for versions in STORE.versions.values():
        for old, new in itertools.pairwise(versions):
            old_raw = _raw(SCHEMA_DIR / f"{old.file}.v{old.version}.avsc")
            new_raw = _raw(SCHEMA_DIR / f"{new.file}.v{new.version}.avsc")
            assert problems(new_raw, old_raw) == [], f"{new.file} v{new.version}"
            checked += 1
    assert checked == sum(len(v) - 1 for v in STORE.versions.values())


def test_compatibility_check_catches_breaking_changes() -> None:
    old = _raw(SCHEMA_DIR / "alarm.v1.avsc")
    added_required = json.loads(json.dumps(old))
    added_required["fields"].append({"name": "severity", "type": "int"})
    assert problems(added_required, old) == ["severity: new field without a default"]

    added_optional = json.loads(json.dumps(old))
    added_optional["fields"].append({"name": "severity", "type": ["null", "int"], "default": None})
    assert problems(added_optional, old) == []

    narrowed = json.loads(json.dumps(old))
    for field in narrowed["fields"]:
        if field["name"] == "channel":
            field["type"] = "int"
    assert problems(narrowed, old) != []

    fewer_symbols = json.loads(json.dumps(old))
    for field in fewer_symbols["fields"]:
        if field["name"] == "state":
            field["type"]["symbols"] = ["start", "stop"]
            del field["type"]["default"]
    assert any("removed" in p for p in problems(fewer_symbols, old))


# Schema files are immutable: a changed file must become a new version instead.
# A new version file is added here with its hash when it is introduced.
FROZEN = {
    "alarm.v1.avsc": "9c1b71d0d13fab74a461c54ade48d4c7b76fbba2ddc1c9c15fe422232757353b",
    "dead_letter.v1.avsc": "c5d96a2989cc2b9b42ea944bf83044575bab7e48f3948d3a5862706943e9bcd5",
    "face_capture.v1.avsc": "70ba4e7094cf216ff34cbf6b7c77be8091a247394527efe5be022330a5a2b919",
    "plate_capture.v1.avsc": "b8a3f98e30030f9635eff829797372382733541eaefc05cdd4bad502f18e989e",
    # v2: dedup fields (late, absorbed_event_ids); alerts, correlations, watchlist entries.
    "alarm.v2.avsc": "d0370f5b1ea66b2ae61e19c633a6447dc112e297661d431a6eeda1945cb22188",
    "face_capture.v2.avsc": "764b03c7947cd57b1494d6cee7ae3cd23f392794e20b1a59bacdb52c22019497",
    "plate_capture.v2.avsc": "8e483649025242bd94a6963f61b0bce0e3183c03702cc5510f59bdc6f41793a1",
    "alert.v1.avsc": "c6afae3f854772f19c084a47cdefb89f73735eac37cf2ad2aa1a1589b4828fbf",
    "correlation.v1.avsc": "74cd822a893918290b9b3309e51de133a45b868ea57d37b8c6a4a98acee5d918",
    "watchlist_entry.v1.avsc": "b609a9272e9a873d62e956a53310b0bc8c5699fca96b56bd0e01ee05beb54a18",
}


def test_schema_files_are_frozen() -> None:
    present = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SCHEMA_FILES}
    assert set(present) == set(FROZEN), "a new schema version must be pinned in FROZEN"
    changed = sorted(name for name, digest in present.items() if FROZEN[name] != digest)
    assert changed == [], f"schema files changed after release (add a new version): {changed}"
