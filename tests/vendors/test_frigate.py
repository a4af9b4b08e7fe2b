"""Frigate adapter on realistic MQTT messages: events new/update/end, tracked_object_update."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    CanonicalEvent,
    FaceCapture,
    ImageKind,
    PlateCapture,
)
from streams.domain.devices import derived_device_id
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload
from streams.vendors.frigate import normalize_frigate
from tests.vendors.checks import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "frigate"
RECEIVED = datetime(2026, 3, 1, 0, 30, 30, 123456, tzinfo=UTC)
CTX = Context()
CAR_ID = "1772325010.118325-k3x9qa"
PERSON_ID = "1772325100.475377-mxklsc"


def _normalize(body: bytes, key: str | None = None) -> Normalized:
    result = normalize_frigate(RawPayload("frigate", body, RECEIVED, key=key), CTX)
    assert_valid(result.events)
    return result


def _run(body: bytes, key: str | None = None) -> list[CanonicalEvent]:
    result = _normalize(body, key)
    assert result.rejected == []
    return result.events


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _doc(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_fixture(name))
    return document


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


# --- frigate/events -----------------------------------------------------------------------------


def test_new_car_with_plate_and_zone() -> None:
    plate, zone = _run(_fixture("events_new_car.json"))
    assert isinstance(plate, PlateCapture)
    assert plate.plate_raw == "浙A12345"
    assert plate.plate_number == "浙A12345"
    assert plate.confidence == pytest.approx(0.933451)
    assert plate.vehicle_type == "car"
    assert plate.source_event_id == CAR_ID
    assert plate.device_id == derived_device_id("frigate", "gate_lpr")
    assert plate.captured_at == datetime(2026, 3, 1, 0, 30, 15, 321000, tzinfo=UTC)
    assert plate.time_source == "epoch"
    # Pixels at an unknown detect resolution: no normalised box, the pixel box is kept.
    assert plate.bbox is None
    assert plate.plate_bbox is None
    assert plate.attributes["box"] == "803,396,1231,702"
    assert plate.attributes["camera"] == "gate_lpr"
    assert plate.attributes["velocity_angle"] == "184"
    assert "thumbnail" not in plate.attributes
    assert isinstance(zone, Alarm)
    assert (zone.alarm_type, zone.state) == (AlarmType.REGION_ENTRANCE, AlarmState.PULSE)
    assert zone.rule_name == "entrance"
    assert zone.target_type == "car"
    assert zone.vendor_event_type == "events:new"
    assert zone.confidence == pytest.approx(0.86)


def test_update_with_same_plate_is_skipped_and_a_changed_read_is_new() -> None:
    document = _doc("events_new_car.json")
    first = _run(_dumps(document))[0]
    document["type"] = "update"
    document["before"] = json.loads(json.dumps(document["after"]))
    document["after"]["frame_time"] = 1772325016.5
    document["after"]["recognized_license_plate_score"] = 0.97
    same = _normalize(_dumps(document))
    assert same.events == []
    assert same.skipped == "events update with no new plate read, face or zone entry"
    document["after"]["recognized_license_plate"] = "浙A12845"
    (changed,) = _run(_dumps(document))
    assert isinstance(changed, PlateCapture)
    assert changed.plate_number == "浙A12845"
    assert changed.event_id != first.event_id
    assert changed.captured_at == datetime(2026, 3, 1, 0, 30, 16, 500000, tzinfo=UTC)


def test_plate_time_prefers_the_read_frame() -> None:
    document = _doc("events_new_car.json")
    document["after"]["recognized_license_plate_frame_time"] = 1772325013.25
    plate, zone = _run(_dumps(document))
    assert plate.captured_at == datetime(2026, 3, 1, 0, 30, 13, 250000, tzinfo=UTC)
    assert zone.captured_at == datetime(2026, 3, 1, 0, 30, 15, 321000, tzinfo=UTC)
    assert "recognized_license_plate_frame_time" not in plate.attributes


def test_update_person_recognised_face_and_new_zone() -> None:
    face, zone = _run(_fixture("events_update_person.json"))
    assert isinstance(face, FaceCapture)
    assert face.track_id == PERSON_ID
    assert face.confidence == pytest.approx(0.79)
    assert face.attributes["sub_label"] == "John Smith"
    assert face.attributes["face_box"] == "442,506,534,524"
    assert face.bbox is None
    assert isinstance(zone, Alarm)
    assert zone.rule_name == "yard"  # "driveway" was entered before
    assert zone.target_type == "person"
    assert zone.vendor_event_type == "events:update"


def test_end_with_nothing_new_is_skipped() -> None:
    result = _normalize(_fixture("events_end_person.json"))
    assert result.events == []
    assert result.rejected == []
    assert result.skipped == "events end with no new plate read, face or zone entry"


def test_thumbnail_becomes_a_hash() -> None:
    document = _doc("events_end_person.json")
    document["before"]["sub_label"] = None
    (face,) = _run(_dumps(document))
    (image,) = face.images
    assert image.kind is ImageKind.BODY
    assert image.sha256 is not None
    assert image.url is None
    assert all(document["after"]["thumbnail"] not in v for v in face.attributes.values())


def test_new_message_ignores_the_unpublished_before() -> None:
    document = _doc("events_new_car.json")
    document["before"] = json.loads(json.dumps(document["after"]))  # same plate "before"
    events = _run(_dumps(document))
    assert [type(e) for e in events] == [PlateCapture, Alarm]


def test_old_style_sub_label_and_face_label() -> None:
    document = _doc("events_update_person.json")
    document["after"]["sub_label"] = "Jane"
    document["after"]["label"] = "face"
    document["after"]["entered_zones"] = document["before"]["entered_zones"]
    (face,) = _run(_dumps(document))
    assert isinstance(face, FaceCapture)
    assert face.confidence is None
    assert face.attributes["sub_label"] == "Jane"


def test_vehicle_sub_label_is_a_known_plate_name_not_a_face() -> None:
    document = _doc("events_new_car.json")
    document["after"]["sub_label"] = ["Neighbour's car", 0.93]
    plate, _zone = _run(_dumps(document))
    assert isinstance(plate, PlateCapture)
    assert plate.attributes["sub_label"] == "Neighbour's car"


def test_false_positive_and_reviews_are_skipped() -> None:
    document = _doc("events_new_car.json")
    document["after"]["false_positive"] = True
    assert _normalize(_dumps(document)).skipped == "false positive"
    assert _normalize(_fixture("reviews_update.json")).skipped == "review message (frigate/reviews)"


def test_demo_style_message_without_before() -> None:
    body = _dumps(
        {
            "type": "new",
            "after": {
                "id": "1772325000.000000-330102",
                "camera": "33010200001320000004",
                "label": "car",
                "frame_time": 1772325000.25,
                "score": 0.9,
                "recognized_license_plate": "粤C0F11G",
            },
        }
    )
    (plate,) = _run(body)
    assert isinstance(plate, PlateCapture)
    assert plate.device_id == "33010200001320000004"  # a camera named by its GB/T 28181 code
    assert plate.plate_number == "粤C0F11G"
    assert plate.attributes["camera"] == "33010200001320000004"


# --- frigate/tracked_object_update ------------------------------------------------------------


def test_lpr_update_shares_the_id_of_the_same_read() -> None:
    (update,) = _run(_fixture("tracked_object_update_lpr.json"))
    assert isinstance(update, PlateCapture)
    from_events = _run(_fixture("events_new_car.json"))[0]
    assert update.event_id == from_events.event_id  # one read, two topics, one id
    assert update.source_event_id == CAR_ID
    assert update.confidence == pytest.approx(0.936)
    assert update.attributes["plate_box"] == "955,640,1061,672"
    assert update.captured_at == datetime(2026, 3, 1, 0, 30, 16, 322000, tzinfo=UTC)
    assert update.plate_bbox is None


@pytest.mark.parametrize(
    ("plate", "canonical"),
    [("251-WW-2075", "251WW2075"), ("6DZG261", "6DZG261"), ("ab 123 cd", "AB123CD")],
)
def test_foreign_plates_are_kept(plate: str, canonical: str) -> None:
    document = _doc("tracked_object_update_lpr.json")
    document["plate"] = plate
    (event,) = _run(_dumps(document))
    assert isinstance(event, PlateCapture)
    assert event.plate_raw == plate
    assert event.plate_number == canonical


def test_lpr_clear_and_other_update_types_are_skipped() -> None:
    clear = {"type": "lpr", "name": None, "plate": None, "camera": "gate_lpr"}
    assert _normalize(_dumps(clear)).skipped is not None
    for kind in ("description", "classification"):
        result = _normalize(_dumps({"type": kind, "id": CAR_ID, "description": "a red car"}))
        assert result.events == []
        assert result.skipped == f"tracked_object_update {kind}"


def test_face_update_shares_the_id_of_the_events_face() -> None:
    (face,) = _run(_fixture("tracked_object_update_face.json"))
    assert isinstance(face, FaceCapture)
    assert face.track_id == PERSON_ID
    assert face.confidence == pytest.approx(0.95)
    assert face.attributes["name"] == "John Smith"
    from_events = _run(_fixture("events_update_person.json"))[0]
    assert face.event_id == from_events.event_id
    assert _normalize(_dumps({"type": "face", "id": PERSON_ID, "name": None})).skipped


# --- devices, skips, unusable payloads --------------------------------------------------------


def test_device_identity() -> None:
    body = _fixture("tracked_object_update_lpr.json")
    assert _run(body, key="33010200001320000007")[0].device_id == "33010200001320000007"
    instance = _run(body, key="frigate-01")[0].device_id
    assert instance == derived_device_id("frigate", "frigate-01", "gate_lpr")
    assert _run(body, key="Gate_LPR")[0].device_id == derived_device_id("frigate", "gate_lpr")
    no_camera = _dumps({"type": "lpr", "id": CAR_ID, "plate": "ABC123", "timestamp": 1772325016})
    with pytest.raises(AdapterError, match="no device identity"):
        _normalize(no_camera)
    assert _run(no_camera, key="gate-2")[0].device_id == derived_device_id("frigate", "gate-2")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"online",
        b"OFF",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        b"3",
        b'{"service": {}, "cameras": {}}',
    ],
)
def test_non_event_messages_are_skipped(body: bytes) -> None:
    result = _normalize(body)
    assert result.events == []
    assert result.rejected == []
    assert result.skipped


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b'"text"', "not a JSON object"),
        (b'{"type": "new", "after": "x"}', "without an 'after' object"),
        (b'{"type": "stale", "after": {"id": "a", "camera": "c"}}', "unknown type"),
        (b'{"type": "new", "after": {"camera": "c", "label": "car"}}', "without an id"),
        (b'{"type": "lpr", "plate": "ABC123", "camera": "c"}', "without an id"),
        (b'{"foo": 1}', "not a frigate/events or tracked_object_update"),
        (
            b'{"type": "lpr", "id": "a", "plate": "ABC123", "camera": "c", "timestamp": "soon"}',
            "timestamp",
        ),
        (
            b'{"type": "new", "after": {"id": "a", "camera": "c", "entered_zones": ["z"],'
            b' "frame_time": 946684700}}',
            "frame_time",
        ),
    ],
)
def test_unusable_payloads(body: bytes, reason: str) -> None:
    with pytest.raises(AdapterError, match=reason):
        normalize_frigate(RawPayload("frigate", body, RECEIVED), CTX)


def test_python_json_nan_is_read() -> None:
    body = _fixture("events_new_car.json").replace(
        b'"velocity_angle": 184', b'"velocity_angle": NaN'
    )
    body = body.replace(
        b'"recognized_license_plate_score": 0.933451', b'"recognized_license_plate_score": Infinity'
    )
    plate, _zone = _run(body)
    assert isinstance(plate, PlateCapture)
    assert plate.confidence is None  # Infinity reads as absent
    assert plate.attributes["velocity_angle"] == "nan"
    with pytest.raises(AdapterError, match="not JSON"):
        _normalize(b'{"type": NaN')


def test_array_rejects_bad_messages_alone() -> None:
    good = _doc("tracked_object_update_lpr.json")
    bad = {"type": "lpr", "plate": "ABC123", "camera": "gate_lpr"}
    result = _normalize(_dumps([good, bad, 7]))
    assert [e.source_event_id for e in result.events] == [CAR_ID]
    assert len(result.rejected) == 2
    assert "without an id" in result.rejected[0].reason
    assert result.rejected[0].record == json.dumps(bad, separators=(",", ":")).encode()


# --- properties -------------------------------------------------------------------------------


def _check(body: bytes, key: str | None = None) -> Normalized | None:
    try:
        result = normalize_frigate(RawPayload("frigate", body, RECEIVED, key=key), CTX)
    except AdapterError:
        return None
    assert_valid(result.events)
    return result


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_adapter_errors(body: bytes) -> None:
    _check(body)
    _check(b"{" + body, key="k")


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from([1772325010.5, "1772325010.5", "car", "person", "浙A12345", "ABC123"]),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=5),
    st.dictionaries(st.text(max_size=6), _SCALARS, max_size=3),
)
_OBJECT_KEYS = [
    "id",
    "camera",
    "label",
    "sub_label",
    "frame_time",
    "start_time",
    "box",
    "score",
    "entered_zones",
    "current_attributes",
    "recognized_license_plate",
    "recognized_license_plate_score",
    "thumbnail",
    "false_positive",
]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["new", "update", "end", None, "lpr"]),
    st.dictionaries(st.sampled_from(_OBJECT_KEYS), _VALUES),
    st.dictionaries(st.sampled_from(_OBJECT_KEYS), _VALUES),
)
def test_mutated_events_never_escape(
    kind: str | None, before: dict[str, Any], after: dict[str, Any]
) -> None:
    base = _doc("events_new_car.json")["after"]
    merged = {**base, **after}
    message = {"type": kind, "before": {**base, **before}, "after": merged}
    result = _check(json.dumps(message, default=str).encode())
    if result is None:
        return
    kinds = [type(e) for e in result.events]
    assert kinds.count(PlateCapture) <= 1
    assert kinds.count(FaceCapture) <= 1
    zones = [e.rule_name for e in result.events if isinstance(e, Alarm)]
    assert len(zones) == len(set(zones))
    entered = merged.get("entered_zones")
    assert all(isinstance(entered, list) and z in [str(v).strip() for v in entered] for z in zones)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["lpr", "face", "description", None, 3]),
    st.dictionaries(
        st.sampled_from(["id", "camera", "plate", "name", "score", "timestamp", "plate_box"]),
        _VALUES,
    ),
)
def test_mutated_updates_never_escape(kind: Any, fields: dict[str, Any]) -> None:
    base = _doc("tracked_object_update_lpr.json")
    _check(json.dumps({**base, "type": kind, **fields}, default=str).encode(), key="frigate-01")
