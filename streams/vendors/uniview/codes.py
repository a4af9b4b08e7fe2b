"""LAPI enum tables: colours, vehicle types, image types, and what an ``AlarmType`` means.

``AlarmType`` strings map through :data:`ALARM_BASES` after removing an ``AlarmOn`` /
``AlarmOff`` / ``On`` / ``Off`` / ``Cleared`` suffix, which also sets the state. Numeric codes
are read with the NETDEV SDK's ``NETDEV_ALARM_TYPE_E`` (assumed to hold for LAPI too).
"""

from __future__ import annotations

from typing import Any

from streams.canonical import AlarmState, AlarmType, ImageKind
from streams.vendors.common import as_str
from streams.vendors.uniview.values import code

# LAPI colour enum (plates and vehicles share it); 100 is unknown.
# fmt: off
COLOR = {
    0: "black", 1: "white", 2: "grey", 3: "red", 4: "blue", 5: "yellow", 6: "orange",
    7: "brown", 8: "green", 9: "purple", 10: "cyan", 11: "pink", 12: "transparent",
    13: "silver", 14: "dark", 15: "light", 16: "colourless", 17: "yellow-green",
    18: "gradient green", 99: "other",
}
VEHICLE_TYPE = {
    0: "tricycle", 1: "bus", 2: "small", 3: "medium", 4: "large", 5: "two-wheeler",
    6: "motorcycle", 7: "tractor", 8: "farm truck", 9: "sedan", 10: "suv", 11: "van",
    12: "small truck", 13: "minibus", 14: "large bus", 15: "heavy truck", 16: "pickup",
    17: "mpv", 18: "sports car", 19: "micro sedan", 20: "hatchback", 21: "three-box sedan",
    22: "light bus", 23: "medium truck", 24: "trailer", 25: "tanker", 26: "sprinkler",
    999: "other",
}
# fmt: on
# ImageInfo.Type -> kind; 2 (the object's own crop) depends on the object.
# fmt: off
IMAGE_KIND = {
    1: ImageKind.SCENE, 3: ImageKind.PLATE, 4: ImageKind.FACE, 5: ImageKind.FACE,
    7: ImageKind.COMPOSITE, 8: ImageKind.COMPOSITE, 9: ImageKind.VEHICLE, 10: ImageKind.FACE,
    11: ImageKind.FACE, 12: ImageKind.BODY, 13: ImageKind.VEHICLE, 14: ImageKind.OTHER,
    15: ImageKind.SCENE, 16: ImageKind.SCENE, 17: ImageKind.SCENE, 18: ImageKind.SCENE,
    19: ImageKind.COMPOSITE, 20: ImageKind.COMPOSITE, 23: ImageKind.COMPOSITE,
    24: ImageKind.PLATE,
}
# fmt: on
OWN_CROP = 2  # ImageInfo.Type of the object's own crop

ALARM_BASES = {
    "fielddetectorobjectsinside": AlarmType.INTRUSION,
    "intrusion": AlarmType.INTRUSION,
    "intrusiondetection": AlarmType.INTRUSION,
    "linedetectorcrossed": AlarmType.LINE_CROSSING,
    "crossline": AlarmType.LINE_CROSSING,
    "crosslinedetection": AlarmType.LINE_CROSSING,
    "enterarea": AlarmType.REGION_ENTRANCE,
    "accesszone": AlarmType.REGION_ENTRANCE,
    "leavearea": AlarmType.REGION_EXIT,
    "leavezone": AlarmType.REGION_EXIT,
    "smartmotiondetect": AlarmType.MOTION,
    "smartmotiondetection": AlarmType.MOTION,
    "motiondetect": AlarmType.MOTION,
    "motiondetection": AlarmType.MOTION,
    "motion": AlarmType.MOTION,
    "motionalarm": AlarmType.MOTION,
    "humanshapedetect": AlarmType.MOTION,
    "vehicledetect": AlarmType.MOTION,
    "objectisrecognized": AlarmType.FACE_MATCH,
    "tamper": AlarmType.TAMPER,
    "tamperdetection": AlarmType.TAMPER,
    "videotamper": AlarmType.TAMPER,
    "videoloss": AlarmType.VIDEO_LOSS,
    "scenechange": AlarmType.SCENE_CHANGE,
    "input": AlarmType.IO_INPUT,
    "inputswitch": AlarmType.IO_INPUT,
}
_SUFFIXES = (
    ("AlarmOn", AlarmState.START),
    ("AlarmOff", AlarmState.STOP),
    ("Cleared", AlarmState.STOP),
    ("On", AlarmState.START),
    ("Off", AlarmState.STOP),
)
_TARGETS = {"humanshapedetect": "human", "vehicledetect": "vehicle"}
OBJECT_TYPES = {"1": "vehicle", "2": "person", "3": "non_motor_vehicle", "4": "face"}
# NETDEV_ALARM_TYPE_E (NETDEV SDK), assumed for numeric LAPI AlarmType values.
ALARM_CODES = {
    1: (AlarmType.MOTION, AlarmState.START),
    2: (AlarmType.VIDEO_LOSS, AlarmState.START),
    3: (AlarmType.TAMPER, AlarmState.START),
    4: (AlarmType.IO_INPUT, AlarmState.START),
    102: (AlarmType.VIDEO_LOSS, AlarmState.START),
    103: (AlarmType.VIDEO_LOSS, AlarmState.STOP),
    503: (AlarmType.LINE_CROSSING, AlarmState.PULSE),
    504: (AlarmType.INTRUSION, AlarmState.PULSE),
    505: (AlarmType.FACE_MATCH, AlarmState.PULSE),
    507: (AlarmType.SCENE_CHANGE, AlarmState.PULSE),
    1001: (AlarmType.MOTION, AlarmState.STOP),
    1002: (AlarmType.VIDEO_LOSS, AlarmState.STOP),
    1003: (AlarmType.TAMPER, AlarmState.STOP),
    1004: (AlarmType.IO_INPUT, AlarmState.STOP),
}


def alarm_type(value: Any) -> tuple[AlarmType, AlarmState, str | None]:
    """Canonical type, state and implied target of an ``AlarmType`` string or code."""
    number = code(value)
    if number is not None:
        found = ALARM_CODES.get(number)
        return (found[0], found[1], None) if found else (AlarmType.OTHER, AlarmState.PULSE, None)
    text = as_str(value) or ""
    base, state = text, AlarmState.PULSE
    for suffix, suffix_state in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            base, state = text[: -len(suffix)], suffix_state
            break
    key = base.lower()
    found_type = ALARM_BASES.get(key)
    if found_type is None:
        whole = ALARM_BASES.get(text.lower())
        if whole is not None:  # the "suffix" was part of the name
            return whole, AlarmState.PULSE, _TARGETS.get(text.lower())
        found_type = AlarmType.OTHER
    return found_type, state, _TARGETS.get(key)
