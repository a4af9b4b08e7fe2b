"""Alarms: ``EventNotificationAlert`` motion, intrusion, line crossing, tamper, I/O, face
comparison, ... and the keep-alives that are no event at all.

- **Skipped**: ``videoloss`` + ``inactive`` + ``activePostCount`` 0 or absent is the
  alertStream keep-alive (every public sample has count 0; a real video-loss end is counted);
  also ``heartBeat`` and ``facedetection`` + ``inactive`` (a detection ending, no capture).
- ``eventType=duration`` is a wrapper: one alarm per ``DurationList/Duration``
  ``relationEvent``.
- ``alarmResult`` (face comparison) is a ``face_match`` pulse per compared face, naming the
  best watch-list candidate but never the candidate's personal data.
- State: active -> start, inactive -> stop, else pulse. PIR counts as motion.
- Event id: (device, channel, type, state, dateTime), never activePostCount: ISAPI documents
  ``dateTime`` as the trigger time, so repeats of an ongoing alarm share the first post's id.
  A firmware that stamps repeats with a new ``dateTime`` gives each its own id;
  ``activePostCount`` stays in the attributes.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.canonical import Alarm, AlarmState, AlarmType, ImageKind
from streams.canonical.models import construct
from streams.vendors.base import AdapterError, Normalized
from streams.vendors.common import as_float, as_int, as_str
from streams.vendors.hikvision.attributes import ENVELOPE, MAX_VALUE, NEVER, flatten, names
from streams.vendors.hikvision.boxes import fraction_box, rect_of
from streams.vendors.hikvision.envelope import Envelope, common_fields
from streams.vendors.hikvision.images import PictureRef, picture_refs, url_ref
from streams.vendors.hikvision.multipart import Picture
from streams.vendors.hikvision.times import captured_at
from streams.vendors.hikvision.values import (
    EMPTY,
    Record,
    as_record,
    as_records,
    confidence,
    listed,
    lower,
    short,
)

_ALARM_TYPES: Mapping[str, AlarmType] = {
    "vmd": AlarmType.MOTION,
    "motiondetection": AlarmType.MOTION,
    "vmdhumanvehicle": AlarmType.MOTION,
    "pir": AlarmType.MOTION,
    "fielddetection": AlarmType.INTRUSION,
    "linedetection": AlarmType.LINE_CROSSING,
    "regionentrance": AlarmType.REGION_ENTRANCE,
    "regionexiting": AlarmType.REGION_EXIT,
    "tamperdetection": AlarmType.TAMPER,
    "shelteralarm": AlarmType.TAMPER,
    "videoloss": AlarmType.VIDEO_LOSS,
    "scenechangedetection": AlarmType.SCENE_CHANGE,
    "io": AlarmType.IO_INPUT,
    "alarmresult": AlarmType.FACE_MATCH,
}
_STATES: Mapping[str, AlarmState] = {"active": AlarmState.START, "inactive": AlarmState.STOP}
_PULSES = frozenset({"alarmresult"})  # one-off by nature, whatever eventState says

_REGION = NEVER | names("regionID detectionTarget TargetRect")
_DURATION = NEVER | names("relationEvent")


def skip_reason(kind: str, doc: Record) -> str | None:
    """Why an alert of this (lower-case) event type is no event, or None when it is one."""
    if kind == "heartbeat":
        return "heartBeat keep-alive"
    state = lower(doc.get("eventState"))
    if kind == "videoloss" and state == "inactive" and not as_int(doc.get("activePostCount")):
        return "alertStream keep-alive (videoloss, inactive, activePostCount 0)"
    if kind == "facedetection" and state == "inactive":
        return "facedetection ended (inactive): no capture"
    return None


def alarms(
    doc: Record, vendor_type: str, env: Envelope, pictures: list[Picture], result: Normalized
) -> None:
    """The alarms of an alert into ``result``: face matches, the duration wrapper's, or one."""
    kind = vendor_type.lower()
    if kind == "alarmresult":
        _face_matches(doc, vendor_type, env, pictures, result)
        return
    refs = picture_refs(pictures, {})
    if kind == "duration":
        _durations(doc, vendor_type, env, refs, result)
        return
    result.events.append(_alarm(doc, vendor_type, env, refs, {}))


def detection_region(doc: Record) -> Record:
    """The detection region that holds a target box, else the first one."""
    regions = listed(doc.get("DetectionRegionList"), "DetectionRegionEntry")
    with_box = next((r for r in regions if rect_of(as_record(r.get("TargetRect")))), None)
    return with_box or (regions[0] if regions else EMPTY)


def _durations(
    doc: Record, vendor_type: str, env: Envelope, refs: list[PictureRef], result: Normalized
) -> None:
    durations = [
        (relation, duration)
        for duration in listed(doc.get("DurationList"), "Duration")
        if (relation := as_str(duration.get("relationEvent"))) is not None
    ]
    if not durations:
        raise AdapterError("'duration' alert names no DurationList/Duration/relationEvent")
    for relation, duration in durations:
        if len(relation) > 64:
            raise AdapterError(f"relationEvent {relation[:64]!r}... is not an event type")
        extra = flatten(duration, _DURATION, "Duration.", {})
        extra["eventType"] = vendor_type
        result.events.append(_alarm(doc, relation, env, refs, extra))


def _alarm(
    doc: Record, vendor_type: str, env: Envelope, refs: list[PictureRef], extra: dict[str, str]
) -> Alarm:
    key = vendor_type.lower()
    state = (
        AlarmState.PULSE
        if key in _PULSES
        else _STATES.get(lower(doc.get("eventState")), AlarmState.PULSE)
    )
    date_time = as_str(doc.get("dateTime"))
    captured = captured_at(env, (date_time,))
    region = detection_region(doc)
    images = [r.ref for r in refs]
    bkg = url_ref(doc.get("bkgUrl"), ImageKind.SCENE)
    if bkg is not None:
        images.append(bkg)
    attributes = flatten(doc, ENVELOPE, "", dict(env.attributes))
    attributes.update(extra)
    flatten(region, _REGION, "region.", attributes)
    identity = (env.device_id, env.channel, key, state.value, date_time or captured[0].isoformat())
    uuid = short(doc.get("UUID")) or short(doc.get("uuid"))
    event = common_fields(env, "alarm", identity, uuid, captured, images, attributes)
    event.update(
        bbox=fraction_box(as_record(region.get("TargetRect"))),
        alarm_type=_ALARM_TYPES.get(key, AlarmType.OTHER),
        state=state,
        vendor_event_type=vendor_type,
        rule_name=short(region.get("regionID")) or short(doc.get("inputIOPortID")),
        target_type=short(doc.get("targetType")) or short(region.get("detectionTarget")),
    )
    return construct(Alarm, event)


def _face_matches(
    doc: Record, vendor_type: str, env: Envelope, pictures: list[Picture], result: Normalized
) -> None:
    """alarmResult (face comparison): one face_match pulse per compared face."""
    refs = picture_refs(pictures, {})
    entries = as_records(doc.get("alarmResult"))
    if not entries:
        result.events.append(_alarm(doc, vendor_type, env, refs, {}))
        return
    for i, entry in enumerate(entries):
        target = as_record(entry.get("targetAttrs"))
        for j, face in enumerate(as_records(entry.get("faces")) or [EMPTY]):
            result.events.append(_face_match(doc, vendor_type, env, refs, target, face, i, j))


def _face_match(
    doc: Record,
    vendor_type: str,
    env: Envelope,
    refs: list[PictureRef],
    target: Record,
    face: Record,
    entry: int,
    index: int,
) -> Alarm:
    best: Record = EMPTY
    best_score = -1.0
    for identify in as_records(face.get("identify")):
        for candidate in as_records(identify.get("candidate")):
            score = as_float(candidate.get("similarity"))
            if score is None:
                score = as_float(identify.get("maxsimilarity"))
            if score is not None and score > best_score:
                best, best_score = candidate, score
    face_time = as_str(target.get("faceTime")) or as_str(doc.get("dateTime"))
    captured = captured_at(env, (face_time,))
    images = [r.ref for r in refs]
    for url, kind in ((face.get("URL"), ImageKind.FACE), (target.get("bkgUrl"), ImageKind.SCENE)):
        ref = url_ref(url, kind)
        if ref is not None:
            images.append(ref)
    attributes = flatten(doc, ENVELOPE, "", dict(env.attributes))
    for name in ("customHumanID", "alarmId", "FDID", "PID"):
        text = as_str(best.get(name))
        if text and len(text) <= MAX_VALUE:
            attributes[f"candidate.{name}"] = text
    face_id = short(face.get("faceId"))
    if face_id:
        attributes["faceId"] = face_id
    watched = short(best.get("customHumanID")) or short(best.get("alarmId"))
    moment = face_time or captured[0].isoformat()
    identity = (env.device_id, env.channel, "alarmresult", moment, face_id or index, entry, watched)
    uid = short(doc.get("UUID")) or short(doc.get("uid"))
    event = common_fields(env, "alarm", identity, uid, captured, images, attributes)
    event.update(
        confidence=confidence(best_score) if best_score >= 0 else None,
        bbox=fraction_box(as_record(face.get("faceRect"))),
        alarm_type=AlarmType.FACE_MATCH,
        state=AlarmState.PULSE,
        vendor_event_type=vendor_type,
        rule_name=short(best.get("FDID")) or short(best.get("FDLibName")),
        target_type="face",
    )
    return construct(Alarm, event)
