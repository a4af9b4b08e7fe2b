"""Alarm notifications (``AlarmInfo``) -> :class:`Alarm`.

Type and state come from ``AlarmType`` (see :mod:`.codes`); the channel is ``AlarmSrcID`` when
``AlarmSrcType`` is a video channel (or absent), else the source goes to attributes. Time is
``AlarmInfo.TimeStamp``, else the notification ``TimeStamp``, else the receive time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import Alarm, ImageKind, ImageRef, TimeProvenance
from streams.canonical.models import construct
from streams.vendors.base import AdapterError, Context, RawPayload
from streams.vendors.common import as_str, event_id, position_of, received_fallback
from streams.vendors.uniview.codes import OBJECT_TYPES, alarm_type
from streams.vendors.uniview.identity import SOURCE, device_id, epoch_time
from streams.vendors.uniview.images import image_kind, image_ref
from streams.vendors.uniview.values import as_dict, attributes, channel, code, items

_VIDEO_CHANNEL = 8  # AlarmSrcType of a video channel
_ALARM_KEYS = frozenset(
    {
        "AlarmType",
        "TimeStamp",
        "DeviceID",
        "AlarmSrcID",
        "AlarmSeq",
        "RelatedID",
    }
)


def read_alarm(
    document: Mapping[str, Any], info: Mapping[str, Any], raw: RawPayload, ctx: Context
) -> Alarm:
    kind = as_str(info.get("AlarmType"))
    if kind is None:
        raise AdapterError("AlarmInfo has no AlarmType")
    source_type = code(info.get("AlarmSrcType"))
    extra: dict[str, str] = {}
    number: int | None = None
    if source_type is None or source_type == _VIDEO_CHANNEL:
        number = channel(info.get("AlarmSrcID"), "AlarmSrcID")
    elif (source := as_str(info.get("AlarmSrcID"))) is not None:
        extra["AlarmSrcID"] = source  # an alarm input or disk, not a video channel
    device = device_id((info, document), raw, number)
    stamp = info.get("TimeStamp")
    if stamp is None or stamp == "":
        stamp = document.get("TimeStamp")
    found = epoch_time(stamp, raw)
    captured_at, provenance = (
        found
        if found is not None
        else (received_fallback(raw.received_at), TimeProvenance.RECEIVED)
    )
    canonical_type, state, target = alarm_type(info.get("AlarmType"))
    related = as_dict(document.get("RelatedObjects"))
    objects = [o for o in items(related.get("ObjectList")) if isinstance(o, dict)]
    if objects:
        target = OBJECT_TYPES.get(as_str(objects[0].get("ObjectType")) or "", target)
    leftover = attributes(extra, info, _ALARM_KEYS)
    key: tuple[str, ...] = (
        device,
        as_str(info.get("AlarmSeq")) or "",
        kind,
        as_str(stamp) or "",
        as_str(info.get("RelatedID")) or as_str(document.get("RelatedID")) or "",
        "" if number is None else str(number),
    )
    if found is None:
        key = (*key, "received=" + captured_at.isoformat())
    return construct(
        Alarm,
        dict(
            event_id=event_id("alarm", SOURCE, *key),
            source=SOURCE,
            source_event_id=as_str(info.get("AlarmSeq")),
            device_id=device,
            channel=number,
            captured_at=captured_at,
            received_at=received_fallback(raw.received_at),
            time_source=provenance,
            position=position_of(device, ctx),
            images=_alarm_images(document),
            confidence=None,
            bbox=None,
            attributes=leftover,
            alarm_type=canonical_type,
            state=state,
            vendor_event_type=kind,
            rule_name=None,
            target_type=target,
        ),
    )


def _alarm_images(document: Mapping[str, Any]) -> list[ImageRef]:
    picture = as_dict(document.get("AlarmPicture"))
    refs: list[ImageRef] = []
    for image in items(picture.get("ImageList")):
        if isinstance(image, dict):
            ref = image_ref(image, image_kind(image, ImageKind.OTHER))
            if ref is not None and ref not in refs:
                refs.append(ref)
    return refs
