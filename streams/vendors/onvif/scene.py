"""Scene description -> captures: which objects of a ``Frame`` are plate or face captures.

Captures come one per object, in frames at ``UtcTime`` (UTC by definition):

- An object with ``LicensePlateInfo`` (anywhere in its Appearance, e.g. under ``Extension``) is a
  plate capture (:mod:`.plates`).
- An object with ``HumanFace`` (fc namespace or any other), or of class ``HumanFace``/``Face`` with
  an image, is a face capture (:mod:`.faces`).
- Every other object (the tracker reports each person and vehicle in every frame) is no event.

Identity. A capture's ``event_id`` is derived from (device, video source, analytics module, frame
``UtcTime``, the object's UUID or else its ``ObjectId`` or else its position in the frame): one
object in one frame is one capture; the same object in the next frame is another capture of the
same track (``track_id`` on faces is the ``ObjectId``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from streams.canonical import CanonicalEvent
from streams.vendors.base import Context, RawPayload
from streams.vendors.common import as_str
from streams.vendors.onvif.boxes import IDENTITY, compose_transform
from streams.vendors.onvif.envelope import channel_of, utc_time
from streams.vendors.onvif.faces import frame_face
from streams.vendors.onvif.frame import FrameContext, appearance_part, object_class
from streams.vendors.onvif.plates import frame_plate

_FACE_CLASSES = frozenset({"humanface", "face"})


def frame_captures(
    frame: ET.Element, device_id: str, raw: RawPayload, ctx: Context
) -> list[CanonicalEvent]:
    """The plate and face captures of one ``Frame`` (empty when it has none)."""
    candidates: list[tuple[int, ET.Element, ET.Element, ET.Element | None, bool]] = []
    for index, obj in enumerate(frame.iterfind("Object")):
        appearance = obj.find("Appearance")
        if appearance is None:
            continue
        plate_info = appearance_part(appearance, "LicensePlateInfo")
        if plate_info is not None:
            candidates.append((index, obj, appearance, plate_info, True))
            continue
        face = appearance_part(appearance, "HumanFace")
        if face is None:
            if appearance.find("ImageRef") is None and appearance.find("Image") is None:
                continue
            class_name = object_class(appearance)[0]
            if class_name is None or class_name.lower() not in _FACE_CLASSES:
                continue
        candidates.append((index, obj, appearance, face, False))
    if not candidates:
        return []
    captured_at, provenance = utc_time(as_str(frame.get("UtcTime")), raw)
    token = frame.get("VideoSourceToken") or frame.get("VideoSourceConfigurationToken")
    shared = FrameContext(
        element=frame,
        device_id=device_id,
        token=token,
        channel=channel_of(token),
        module=frame.get("Source"),
        captured_at=captured_at,
        provenance=provenance,
        transform=compose_transform(IDENTITY, frame.find("Transformation")),
        raw=raw,
        ctx=ctx,
    )
    events: list[CanonicalEvent] = []
    for index, obj, appearance, found, is_plate in candidates:
        if is_plate and found is not None:
            events.append(frame_plate(obj, appearance, found, index, shared))
        else:
            events.append(frame_face(obj, appearance, found, index, shared))
    return events
