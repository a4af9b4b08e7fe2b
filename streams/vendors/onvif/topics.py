"""The event topic table: which topic is which alarm, a plate read, or skipped.

The topic (prefixes stripped from every segment, case ignored) gives the alarm type:
``RuleEngine/FieldDetector/ObjectsInside`` intrusion, ``LineDetector/Crossed`` line crossing,
``CellMotionDetector/Motion``, ``MotionRegionDetector/Motion`` and ``VideoSource/MotionAlarm``
motion, ``TamperDetector/Tamper`` and ``VideoSource/ImageTooBlurry``, ``ImageTooDark``,
``ImageTooBright`` tamper, ``VideoSource/GlobalSceneChange`` scene change,
``VideoSource/SignalLoss`` video loss, ``Device/Trigger/DigitalInput`` I/O input,
``RuleEngine/Recognition/Face`` face match; any other topic is an ``other`` alarm keeping the
topic as sent in ``vendor_event_type``. Telemetry and configuration topics (``Monitoring``,
``Media``, ``Configuration``, ``RecordingConfig``, ``RecordingHistory``, ``PTZController``,
``Device/Trigger/Relay``, ``RuleEngine/CountAggregation``, ``RuleEngine/ObjectTrack``) are
skipped. ``RuleEngine/Recognition/LicensePlate`` is a plate read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from streams.canonical import AlarmType

# Source items naming the video source; the last ("Source") only under VideoSource topics.
_VIDEO_SOURCE_ITEMS = ("VideoSourceConfigurationToken", "VideoSourceToken", "VideoSource", "Source")


class TopicKind(Enum):
    ALARM = "alarm"
    PLATE = "plate"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class TopicInfo:
    kind: TopicKind
    alarm_type: AlarmType
    target_type: str | None
    token_items: tuple[str, ...]  # Source items naming the video source


# Keys: prefix-stripped, lower-cased topic segments, three then two segments long.
_ALARM_TOPICS: Mapping[str, tuple[AlarmType, str | None]] = {
    "ruleengine/fielddetector/objectsinside": (AlarmType.INTRUSION, None),
    "ruleengine/linedetector/crossed": (AlarmType.LINE_CROSSING, None),
    "ruleengine/cellmotiondetector/motion": (AlarmType.MOTION, None),
    "ruleengine/motionregiondetector/motion": (AlarmType.MOTION, None),
    "ruleengine/tamperdetector/tamper": (AlarmType.TAMPER, None),
    "ruleengine/recognition/face": (AlarmType.FACE_MATCH, "face"),
    "ruleengine/myruledetector/peopledetect": (AlarmType.OTHER, "human"),
    "ruleengine/myruledetector/vehicledetect": (AlarmType.OTHER, "vehicle"),
    "ruleengine/myruledetector/facedetect": (AlarmType.OTHER, "face"),
    "ruleengine/myruledetector/dogcatdetect": (AlarmType.OTHER, "animal"),
    "videosource/motionalarm": (AlarmType.MOTION, None),
    "videosource/signalloss": (AlarmType.VIDEO_LOSS, None),
    "videosource/globalscenechange": (AlarmType.SCENE_CHANGE, None),
    "videosource/imagetooblurry": (AlarmType.TAMPER, None),
    "videosource/imagetoodark": (AlarmType.TAMPER, None),
    "videosource/imagetoobright": (AlarmType.TAMPER, None),
    "device/trigger/digitalinput": (AlarmType.IO_INPUT, None),
}
_PLATE_TOPICS = frozenset({"ruleengine/recognition/licenseplate"})
_SKIPPED_ROOTS = frozenset(
    {"monitoring", "media", "configuration", "recordingconfig", "recordinghistory"}
    | {"ptzcontroller"}
)
_SKIPPED_PREFIXES = frozenset(
    {"device/trigger/relay", "ruleengine/countaggregation", "ruleengine/objecttrack"}
)


@lru_cache(maxsize=1024)
def topic_info(topic: str) -> TopicInfo:
    """What a topic (as sent, any prefixes) means."""
    segments = [s.rpartition(":")[2].strip().lower() for s in topic.split("/")]
    segments = [s for s in segments if s]
    three = "/".join(segments[:3])
    two = "/".join(segments[:2])
    # A bare "Source" item is the video source only under VideoSource topics.
    video = bool(segments) and segments[0] == "videosource"
    tokens = _VIDEO_SOURCE_ITEMS if video else _VIDEO_SOURCE_ITEMS[:-1]
    if (segments and segments[0] in _SKIPPED_ROOTS) or two in _SKIPPED_PREFIXES:
        return TopicInfo(TopicKind.SKIP, AlarmType.OTHER, None, tokens)
    if three in _PLATE_TOPICS:
        return TopicInfo(TopicKind.PLATE, AlarmType.OTHER, None, tokens)
    found = _ALARM_TOPICS.get(three) or _ALARM_TOPICS.get(two)
    if found is None:
        return TopicInfo(TopicKind.ALARM, AlarmType.OTHER, None, tokens)
    return TopicInfo(TopicKind.ALARM, found[0], found[1], tokens)
