"""``FaceDetection`` / ``FaceRecognition`` records -> one :class:`FaceCapture` per face.

Faces are the ``Faces[]`` entries, else the ``Object``. Sex, age, glasses and mask come from the
entry, then the ``Face`` object, then (for the entry that is the ``Object``) the ``Object``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import CanonicalEvent, FaceCapture, Gender, ImageRef, Presence
from streams.canonical.models import construct
from streams.vendors.base import Context
from streams.vendors.common import as_int, as_str, event_id
from streams.vendors.dahua.identity import COMMON_KEYS, SOURCE, Identity
from streams.vendors.dahua.values import as_dict, attributes, box, confidence

_FACE_KEYS = COMMON_KEYS | {"Faces", "Object", "Objects", "Face"}
_FACE_ENTRY_KEYS = frozenset({"BoundingBox", "ObjectID", "Confidence", "Sex", "Age"})
_MALE = frozenset({"man", "male"})
_FEMALE = frozenset({"woman", "female"})
_WEARS = frozenset({"wear", "yes", "true", "wearglasses", "wearsunglasses", "wearmask", "glasses"})
_WEARS_NOT = frozenset({"nowear", "no", "false", "noglasses", "nomask", "notwear"})


def face_captures(
    data: Mapping[str, Any], identity: Identity, images: list[ImageRef], ctx: Context
) -> list[CanonicalEvent]:
    obj = as_dict(data.get("Object"))
    faces = data.get("Faces")
    entries = [f for f in faces if isinstance(f, dict)] if isinstance(faces, list) else []
    if not entries:
        entries = [obj]
    face_data = as_dict(data.get("Face"))
    object_id = as_str(obj.get("ObjectID"))
    events: list[CanonicalEvent] = []
    for position, entry in enumerate(entries):
        track = as_str(entry.get("ObjectID"))
        is_object = entry is obj or (track is not None and track == object_id)
        described = [entry, face_data, obj] if is_object else [entry, face_data]
        sex = next((as_str(d.get("Sex")) for d in described if as_str(d.get("Sex"))), None)
        age = next((as_int(d.get("Age")) for d in described if as_int(d.get("Age"))), None)
        glasses = next((d.get(k) for d in described for k in ("Glass", "Glasses") if k in d), None)
        mask = next((d.get("Mask") for d in described if "Mask" in d), None)
        sex_key = (sex or "").lower()
        leftover = attributes({"Code": identity.code}, data, _FACE_KEYS)
        attributes(leftover, entry, _FACE_ENTRY_KEYS, "Face.")
        key = (*identity.key, track if track is not None else f"#{position}")
        score = confidence(entry.get("Confidence"))
        if score is None and is_object:
            score = confidence(obj.get("Confidence"))
        events.append(
            construct(
                FaceCapture,
                dict(
                    event_id=event_id("face", SOURCE, *key),
                    **identity.fields(data, ctx),
                    images=list(images),
                    confidence=score,
                    bbox=box(entry.get("BoundingBox")),
                    attributes=leftover,
                    track_id=track,
                    quality=None,
                    gender=Gender.MALE
                    if sex_key in _MALE
                    else Gender.FEMALE
                    if sex_key in _FEMALE
                    else Gender.UNKNOWN,
                    age_min=age if age is not None and 0 < age <= 150 else None,
                    age_max=age if age is not None and 0 < age <= 150 else None,
                    glasses=_presence(glasses),
                    mask=_presence(mask),
                    embedding=None,
                    appeared_at=None,
                    disappeared_at=None,
                ),
            )
        )
    return events


def _presence(value: Any) -> Presence:
    text = (as_str(value) or "").lower()
    if text in _WEARS:
        return Presence.YES
    if text in _WEARS_NOT:
        return Presence.NO
    return Presence.UNKNOWN
