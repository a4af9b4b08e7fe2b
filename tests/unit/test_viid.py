from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams.gateway import viid

NOW = datetime(2026, 3, 1, 0, 30, 15, tzinfo=UTC)


def test_local_time_is_beijing_wall_clock() -> None:
    assert viid.local_time(NOW) == "20260301083015"


def test_batch_ids_of_each_list_kind() -> None:
    body = {
        "MotorVehicleListObject": {
            "MotorVehicleObject": [
                {"MotorVehicleID": "a", "DeviceID": "33010200001310000001"},
                {"MotorVehicleID": "b"},
            ]
        }
    }
    assert viid.batch_ids("/VIID/MotorVehicles", body) == (["a", "b"], "33010200001310000001")
    faces = {"FaceListObject": {"FaceObject": {"FaceID": "f"}}}  # one object, not a list
    assert viid.batch_ids("/VIID/Faces", faces) == (["f"], None)
    assert viid.batch_ids("/VIID/Faces", {"FaceListObject": 3}) == ([], None)
    assert viid.batch_ids("/VIID/Other", body) == ([], None)


def test_list_status_has_one_status_per_record() -> None:
    answer = orjson.loads(viid.list_status("/VIID/Faces", NOW, ["x", "y"]))
    statuses = answer["ResponseStatusListObject"]["ResponseStatusObject"]
    assert [s["Id"] for s in statuses] == ["x", "y"]
    assert all(s["StatusCode"] == "0" and s["LocalTime"] == "20260301083015" for s in statuses)


def test_register_device_reads_the_object_named_by_the_action() -> None:
    assert viid.register_device({"RegisterObject": {"DeviceID": "d1"}}, "RegisterObject") == "d1"
    assert viid.register_device({"KeepaliveObject": {}}, "KeepaliveObject") is None
    assert viid.register_device(None, "RegisterObject") is None
