"""Face captures: ``faceCapture`` / ``facedetection``, JSON capture lists or XML envelopes
with JPEG parts.

Event id: (device, channel, faceId, capture time). Each update of a track is its own capture
(a camera sends several, the ``captureEndMark`` one last) and keeps its own id, so the track
deduplication downstream (same device and track id) keeps the best by quality and absorbs the
others; a re-push of the same update keeps its id and is dropped as a repeat. The time also
keeps a faceId reused after a counter reset apart from an old sighting. No faceId: uid, else
(device, channel, time). The ``race`` estimate is never kept.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from math import isfinite
from typing import Any

import orjson

from streams.canonical import BoundingBox, FaceCapture, Gender, ImageKind, Presence
from streams.canonical.models import construct
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.common import as_str
from streams.vendors.hikvision.alarms import detection_region
from streams.vendors.hikvision.attributes import ENVELOPE, NEVER, flatten, names
from streams.vendors.hikvision.boxes import fraction_box
from streams.vendors.hikvision.envelope import Envelope, common_fields, envelope_of
from streams.vendors.hikvision.images import PictureRef, picture_refs, url_ref
from streams.vendors.hikvision.multipart import Picture
from streams.vendors.hikvision.times import captured_at
from streams.vendors.hikvision.values import (
    EMPTY,
    Record,
    as_record,
    as_records,
    bounded,
    confidence,
    lower,
    short,
)

_GENDER: Mapping[str, Gender] = {"male": Gender.MALE, "female": Gender.FEMALE}
_PRESENCE: Mapping[str, Presence] = {
    "yes": Presence.YES,
    "no": Presence.NO,
    "sunglasses": Presence.YES,
    "wearing": Presence.YES,
    "true": Presence.YES,
    "false": Presence.NO,
}
_EMBEDDING_KEYS = ("feature", "featureVector", "faceFeature", "embedding")

_TARGET = NEVER | names("faceTime bkgUrl pId contentID deviceChannel deviceId")
_TRAITS = NEVER | names(
    "faceId faceRect age gender glass mask faceScore URL pId contentID x y width height"
)


def face_captures(
    doc: Record,
    pictures: list[Picture],
    raw: RawPayload,
    ctx: Context,
    result: Normalized,
    skipped: list[str],
) -> None:
    """One FaceCapture per face into ``result``; with several faces a bad one is rejected
    alone."""
    captures = as_records(doc.get("faceCapture")) or as_records(doc.get("FaceCapture"))
    found: list[tuple[Record, Record, Record]] = []  # (capture, targetAttrs, face)
    for capture in captures:
        target = as_record(capture.get("targetAttrs"))
        faces = as_records(capture.get("faces"))
        if faces:
            found.extend((capture, target, face) for face in faces)
        elif "faces" not in capture:
            found.append((capture, target, capture))  # XML: the face fields sit flat
    if not found:
        if captures:
            skipped.append("faceCapture without faces")
            return
        found.append((EMPTY, EMPTY, EMPTY))  # envelope only (NVR XML + picture parts)
    owned = {pid for _c, _t, face in found if (pid := as_str(face.get("pId")))}
    hints: dict[str, ImageKind] = dict.fromkeys(owned, ImageKind.FACE)
    for _capture, target, _record in found:
        pid = as_str(target.get("pId"))
        if pid:
            hints[pid] = ImageKind.SCENE
    refs = picture_refs(pictures, hints)
    single = len(found) == 1
    for index, (capture, target, face) in enumerate(found):
        try:
            env = envelope_of(doc, raw, ctx, target)
            result.events.append(_face(doc, capture, target, face, env, refs, owned, index))
        except AdapterError as exc:
            if single:
                raise
            result.rejected.append(Rejected(f"face {index + 1}: {exc}", orjson.dumps(face)))


def _face(
    doc: Record,
    capture: Record,
    target: Record,
    face: Record,
    env: Envelope,
    refs: list[PictureRef],
    owned: set[str],
    index: int,
) -> FaceCapture:
    rect = as_record(face.get("faceRect"))
    # Thermal firmware nests age/gender/... inside faceRect: read both places.
    traits: Record = {**rect, **face} if len(rect) > 4 else face
    face_id = short(face.get("faceId"))
    face_time = as_str(target.get("faceTime")) or as_str(face.get("faceTime"))
    captured = captured_at(env, (face_time, as_str(doc.get("dateTime"))))
    uid = short(capture.get("uid")) or short(doc.get("uid")) or short(doc.get("UUID"))
    if face_id is not None:
        identity: tuple[object, ...] = (
            env.device_id,
            env.channel,
            face_id,
            captured[0].isoformat(),
        )
    elif uid is not None:
        identity = (uid, index)
    else:
        identity = (env.device_id, env.channel, captured[0].isoformat(), index)

    pid = as_str(face.get("pId"))
    images = [r.ref for r in refs if not owned.intersection(r.keys) or (pid and pid in r.keys)]
    for url, kind in (
        (face.get("URL"), ImageKind.FACE),
        (doc.get("facePicURL"), ImageKind.FACE),
        (target.get("bkgUrl"), ImageKind.SCENE),
        (doc.get("bkgUrl"), ImageKind.SCENE),
    ):
        ref = url_ref(url, kind)
        if ref is not None and all(ref.url != i.url for i in images):
            images.append(ref)

    age = as_record(traits.get("age"))
    years = bounded(age.get("value") if age else traits.get("age"))
    spread = bounded(age.get("range")) or 0
    age_min = age_max = None
    if years is not None and years <= 150:
        age_min, age_max = max(years - spread, 0), min(years + spread, 150)

    attributes = flatten(doc, ENVELOPE, "", dict(env.attributes))
    flatten(target, _TARGET, "targetAttrs.", attributes)
    flatten(traits, _TRAITS, "", attributes)
    age_group = as_str(age.get("ageGroup"))
    if age_group:
        attributes["ageGroup"] = age_group
    event = common_fields(env, "face", identity, uid, captured, images, attributes)
    event.update(
        bbox=fraction_box(rect) or _region_box(doc),
        track_id=face_id,
        quality=confidence(face.get("faceScore")),
        gender=_GENDER.get(lower(as_record(traits.get("gender")).get("value")), Gender.UNKNOWN),
        age_min=age_min,
        age_max=age_max,
        glasses=_presence(traits.get("glass")),
        mask=_presence(traits.get("mask")),
        embedding=_embedding(face),
    )
    return construct(FaceCapture, event)


def _region_box(doc: Record) -> BoundingBox | None:
    return fraction_box(as_record(detection_region(doc).get("TargetRect")))


def _presence(value: Any) -> Presence:
    text = lower(value.get("value") if isinstance(value, dict) else value)
    return _PRESENCE.get(text, Presence.UNKNOWN)


def _embedding(face: Record) -> list[float] | None:
    for key in _EMBEDDING_KEYS:
        values = face.get(key)
        if not isinstance(values, list) or not 8 <= len(values) <= 4096:
            continue
        if not all(type(v) in (int, float) for v in values):
            return None
        try:
            vector = array("f", values).tolist()
        except OverflowError:
            return None
        return vector if all(isfinite(v) for v in vector) else None
    return None
