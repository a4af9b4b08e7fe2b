"""Dahua CGI events: ``eventManager.cgi?action=attach`` text parts and ``snapManager`` snapshots.

The gateway hands over what it took from the ``multipart/x-mixed-replace`` attach stream: one
text part, or a whole chunk with ``--myboundary`` delimiters and part headers holding several
parts. A text part is ``Heartbeat`` (skipped), ``Code=<Code>;action=<Start|Stop|Pulse>;index=<n>
[;data=<JSON>]`` (the JSON may span lines; everything after ``data=`` is parsed as JSON), or the
snapManager flattened form (``Events[0].EventBaseInfo.Code=TrafficJunction``, ``...BoundingBox[0]
=5954``), rebuilt here into the nested object the JSON form carries. ``image/jpeg`` parts that
follow a snapManager text part belong to its event(s): they become image references (SHA-256,
never bytes), the first the scene, later ones the plate (traffic) or face crop.

Codes: ``Traffic*`` with a ``TrafficCar`` object -> :class:`PlateCapture`; ``FaceDetection`` /
``FaceRecognition`` -> :class:`FaceCapture` (one per ``Faces[]`` entry, else the ``Object``);
everything else -> :class:`Alarm` (see :mod:`.codes`). Rules chosen where the format is
ambiguous:

- ``CrossRegionDetection`` is ``intrusion``, unless the data says the object crossed the region
  edge: ``Action`` ``Enter`` / ``Leave`` (or ``Cross`` with ``Direction`` ``Enter`` / ``Leave``)
  -> ``region_entrance`` / ``region_exit``. ``Appear`` / ``Inside`` / anything else: intrusion.
- ``action=Stop`` of a capture code (traffic, face) repeats a capture already reported at
  ``Start``: skipped, not a second capture. Alarms keep Start/Stop/Pulse as ``state``; a missing
  or unknown action is a pulse.
- Confidence is Dahua's 0..255 object confidence; ``0`` (what devices send when they have none)
  is no confidence. Boxes are ``[left, top, right, bottom]`` on the 8192 grid; an all-zero box
  is no box. For plates ``plate_bbox`` is the ``Object`` (plate) box, ``bbox`` the vehicle box,
  else the plate box.
- Time: :func:`parse_dahua` (``RealUTC`` first; ``UTC`` is the local wall clock, read in the
  device's zone); no time at all -> the receive time (``received``); a time present but
  malformed or absurd rejects the record, as in the GA/T 1400 adapter.
- Device: parts carry no device id. ``raw.key`` (the gateway's hint) names the device; a GB/T
  28181 code is the device itself with ``channel=index``, anything else is hashed with the
  channel so every channel is a distinct derived id. Without a key, ``TrafficCar.MachineName``
  stands in; with neither the record is rejected. ``AlarmLocal`` (I/O input) belongs to the
  device, not a channel: its ``index`` goes to ``attributes["AlarmInput"]``.
- ``event_id`` hashes (device, channel, Code, EventID, GroupID, IndexInGroup, the raw
  RealUTC/UTC/UTCMS/LocaleTime values) plus the face ``ObjectID`` and the alarm state, so a
  re-pushed part gets the same id. A part with no time and no ids at all (plain
  ``VideoMotion``) can only use the receive time: its re-pushes are not recognisable.
- Part text must be UTF-8 (a multi-byte plate character cut in two is a rejection, not a
  silently mangled plate); a ``data=`` that is not a JSON object rejects the part.
"""

from __future__ import annotations

from streams.canonical import AlarmState, CanonicalEvent
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.dahua.alarms import alarm
from streams.vendors.dahua.codes import FACE_CODES, TRAFFIC_PREFIX, alarm_state
from streams.vendors.dahua.faces import face_captures
from streams.vendors.dahua.identity import identify
from streams.vendors.dahua.parts import Record, parse_body
from streams.vendors.dahua.traffic import plate_capture

__all__ = ["normalize_dahua"]


def normalize_dahua(raw: RawPayload, ctx: Context) -> Normalized:
    if not raw.body.strip():
        raise AdapterError("body is empty")
    parsed = parse_body(raw.body, raw.content_type)
    result = Normalized(rejected=parsed.rejected)
    skips: list[str] = []
    for record in parsed.records:
        try:
            built = _events(record, raw, ctx)
        except AdapterError as exc:
            result.rejected.append(Rejected(f"{record.code or 'part'}: {exc}", record.raw))
            continue
        if isinstance(built, str):
            skips.append(built)
        else:
            result.events.extend(built)
    if not parsed.records and not parsed.rejected and not parsed.heartbeats:
        shown = parsed.unrecognised[0][0] if parsed.unrecognised else "nothing"
        raise AdapterError(
            f"no Dahua event part (Heartbeat, Code=..., or Events[n]. lines); got {shown}"
        )
    for shown, content in parsed.unrecognised:
        result.rejected.append(Rejected(f"not a Dahua event part: {shown}", content))
    if not result.events and not result.rejected:
        result.skipped = "; ".join(dict.fromkeys(skips)) or "heartbeat"
    return result


def _events(record: Record, raw: RawPayload, ctx: Context) -> list[CanonicalEvent] | str:
    """The record's events, or why it has none on purpose."""
    code = record.code
    if not code:
        raise AdapterError("part has no Code")
    data = record.data
    car = data.get("TrafficCar")
    is_plate = code.startswith(TRAFFIC_PREFIX) and isinstance(car, dict)
    is_face = code in FACE_CODES
    state = alarm_state(record.action)
    if (is_plate or is_face) and state is AlarmState.STOP:
        return f"{code} Stop ends a capture reported at Start"
    identity = identify(record, car if isinstance(car, dict) else None, raw, ctx)
    if is_plate and isinstance(car, dict):
        return [plate_capture(data, car, identity, record.images, ctx)]
    if is_face:
        return face_captures(data, identity, record.images, ctx)
    return [alarm(data, identity, state, record.images, ctx)]
