"""The canonical events every source is normalized into (mirrors ``schemas/avro``)."""

from streams.canonical.models import (
    Alarm,
    AlarmState,
    AlarmType,
    BoundingBox,
    CanonicalEvent,
    DeadLetter,
    FaceCapture,
    Gender,
    GeoPoint,
    ImageKind,
    ImageRef,
    MessageHeader,
    PlateCapture,
    PlateColor,
    Presence,
    TimeProvenance,
)

__all__ = [
    "Alarm",
    "AlarmState",
    "AlarmType",
    "BoundingBox",
    "CanonicalEvent",
    "DeadLetter",
    "FaceCapture",
    "Gender",
    "GeoPoint",
    "ImageKind",
    "ImageRef",
    "MessageHeader",
    "PlateCapture",
    "PlateColor",
    "Presence",
    "TimeProvenance",
]
