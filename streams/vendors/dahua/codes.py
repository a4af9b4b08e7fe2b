"""What a Dahua event ``Code`` (and its ``action``) means in the canonical model.

``Traffic*`` codes with a ``TrafficCar`` are plate captures, :data:`FACE_CODES` face captures,
everything else an alarm typed by :func:`alarm_type`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import AlarmState, AlarmType
from streams.vendors.common import as_str

FACE_CODES = frozenset({"FaceDetection", "FaceRecognition"})
TRAFFIC_PREFIX = "Traffic"

STATES = {"start": AlarmState.START, "stop": AlarmState.STOP, "pulse": AlarmState.PULSE}
ALARM_TYPES = {
    "VideoMotion": AlarmType.MOTION,
    "VideoMotionInfo": AlarmType.MOTION,
    "CrossLineDetection": AlarmType.LINE_CROSSING,
    "CrossRegionDetection": AlarmType.INTRUSION,
    "VideoBlind": AlarmType.TAMPER,
    "VideoLoss": AlarmType.VIDEO_LOSS,
    "VideoAbnormalDetection": AlarmType.SCENE_CHANGE,
    "AlarmLocal": AlarmType.IO_INPUT,
}
SMART_MOTION_TARGETS = {"SmartMotionHuman": "human", "SmartMotionVehicle": "vehicle"}


def alarm_state(action: str | None) -> AlarmState:
    """``action=Start|Stop|Pulse``; a missing or unknown action is a pulse."""
    return STATES.get((action or "").strip().lower(), AlarmState.PULSE)


def alarm_type(code: str, data: Mapping[str, Any]) -> AlarmType:
    """The canonical type; ``CrossRegionDetection`` looks at the data's ``Action``/``Direction``."""
    if code == "CrossRegionDetection":
        action = (as_str(data.get("Action")) or "").lower()
        direction = (as_str(data.get("Direction")) or "").lower()
        if action == "enter" or (action == "cross" and direction == "enter"):
            return AlarmType.REGION_ENTRANCE
        if action in ("leave", "exit") or (action == "cross" and direction in ("leave", "exit")):
            return AlarmType.REGION_EXIT
        return AlarmType.INTRUSION
    if code.startswith("SmartMotion"):
        return AlarmType.MOTION
    return ALARM_TYPES.get(code, AlarmType.OTHER)
