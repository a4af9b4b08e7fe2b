"""Uniview LAPI notifications: ``.../Event/Notification/Structure`` and ``.../Notification/Alarm``.

Structure notifications carry ``StructureInfo.ObjInfo`` lists: every ``VehicleInfoList[]`` entry
becomes a :class:`PlateCapture`, every ``FaceInfoList[]`` entry a :class:`FaceCapture`; person and
non-motor lists have no canonical kind and are skipped. Images come in
``StructureInfo.ImageInfoList[]`` and are linked by ``Small/Large/PlatePicAttachIndex``; base64
data becomes a SHA-256 reference (each image decoded once per notification), URLs stay URLs. The
only object of a notification gets all its images when it names no image index. ``Position`` is
``"x1,y1;x2,y2"`` on a 0..10000 grid; the device default ``"0,0;10000,10000"`` (the whole frame)
and empty boxes mean no box. Records are checked one by one: a bad one is rejected on its own.

Alarm notifications (``AlarmInfo``) become an :class:`Alarm`. ``AlarmType`` strings map through
``codes.ALARM_BASES`` after removing an ``AlarmOn`` / ``AlarmOff`` / ``On`` / ``Off`` / ``Cleared``
suffix, which also sets the state (On: start, Off and Cleared: stop, none: pulse):

- ``FieldDetectorObjectsInside``, ``Intrusion*`` -> intrusion; ``LineDetectorCrossed``,
  ``CrossLine*`` -> line_crossing; ``EnterArea``, ``AccessZone*`` -> region_entrance;
  ``LeaveArea``, ``LeaveZone*`` -> region_exit; ``SmartMotionDetect*``, ``MotionDetect*``,
  ``MotionAlarm*``, ``HumanShapeDetect``, ``VehicleDetect`` -> motion; ``ObjectIsRecognized`` ->
  face_match; ``Tamper*`` -> tamper; ``VideoLoss*`` -> video_loss; ``SceneChange`` ->
  scene_change; ``Input*`` -> io_input; anything else -> other.
- Numeric ``AlarmType`` codes are read with the NETDEV SDK's ``NETDEV_ALARM_TYPE_E`` table
  (assumed to hold for LAPI too; not confirmed): 1/2/3/4 motion/video loss/tamper/input (start),
  1001..1004 their recovery (stop), 102/103 NVR video loss and recovery, 503 line crossing,
  504 intrusion, 505 face match, 507 scene change (pulses); other codes -> other.

Time: vehicles use ``PassTime`` (``yyyyMMddHHmmssSSS``, local in the device's zone), else the
notification ``TimeStamp`` (epoch); faces and alarms use ``TimeStamp`` (``AlarmInfo.TimeStamp``
first for alarms); none -> the receive time. A time present but malformed rejects the record.
Device: ``DeviceID`` (``AlarmInfo.DeviceID`` for alarms), else ``DevID`` / serial fields, else
the gateway's ``raw.key``; a GB/T 28181 code is the device itself, anything else is hashed with
the channel (``SrcID``; for alarms ``AlarmSrcID`` when ``AlarmSrcType`` is 8, video channel).
``event_id`` hashes (device, ``Seq``, ``RelatedID``, ``TimeStamp``, object kind, object ``ID`` /
``FaceID`` or its list position), so a re-pushed notification gets the same ids and a ``Seq``
reset after a reboot does not collide. Face attribute codes (gender, age range, glasses, mask)
and the ``Feature`` encoding are not documented in what the reference confirms: codes go to
``attributes`` as sent, the feature is not decoded, and nothing base64 is kept.
"""

from __future__ import annotations

from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.uniview.alarms import read_alarm
from streams.vendors.uniview.document import read_document
from streams.vendors.uniview.structure import read_structure

__all__ = ["normalize_uniview"]

_CONTROL_KEYS = ("RequestURL", "Cseq", "ResponseCode", "Response", "Duration", "Keepalive")


def normalize_uniview(raw: RawPayload, ctx: Context) -> Normalized:
    document = read_document(raw.body)
    result = Normalized()
    info = document.get("AlarmInfo")
    if isinstance(info, dict):
        try:
            result.events.append(read_alarm(document, info, raw, ctx))
        except AdapterError as exc:
            result.rejected.append(Rejected(f"alarm: {exc}", raw.body))
        return result
    structure = document.get("StructureInfo")
    if isinstance(structure, dict):
        read_structure(document, structure, raw, ctx, result)
        return result
    if any(key in document for key in _CONTROL_KEYS):
        result.skipped = "LAPI control message (register, keepalive or response)"
        return result
    names = ", ".join(sorted(str(k) for k in document)[:5]) or "nothing"
    raise AdapterError(f"no StructureInfo or AlarmInfo (top-level keys: {names})")
