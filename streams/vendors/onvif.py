"""ONVIF Profile M: metadata-stream XML (scene description, events) and JSON events over MQTT.

Payloads (vendor-formats.md section 6):

- XML ``tt:MetadataStream`` from the RTSP metadata track, holding ``VideoAnalytics/Frame`` scene
  descriptions and ``Event/wsnt:NotificationMessage`` events; also a WS-BaseNotification
  ``Notify`` or ``PullMessagesResponse`` (bare or in a SOAP envelope), a bare ``Frame`` or a bare
  ``NotificationMessage``. Prefixes and namespace URIs differ between devices, so elements are
  matched by local name. A document with a DOCTYPE or ENTITY declaration is refused before it is
  parsed (no entity expansion), and so is one with NUL bytes (UTF-16/32, which would hide a
  declaration from that check). Multi-byte legacy encodings (GB2312, GBK, GB18030, Big5) are
  decoded here, because expat only reads UTF-8 and single-byte encodings.
- JSON from the ONVIF MQTT event broker (``onvif-ej``): ``{"UtcTime", "PropertyOperation"?,
  "Source", "Data"}`` with name -> value maps (or ``SimpleItem`` lists of ``{"Name", "Value"}``;
  nested objects are element items, ``@name`` keys attributes). The broker puts the event topic in
  the MQTT topic, not in the body, so the gateway must pass it on: as ``"Topic"`` in the object, or
  by wrapping the message as ``{"topic": <MQTT topic>, "payload": {...}}``. An MQTT topic
  ``<prefix>/onvif-ej/RuleEngine/LineDetector/Crossed/&1/2/Fence`` is read as the event topic
  ``tns1:RuleEngine/LineDetector/Crossed``, and its prefix is the device hint when the Kafka key is
  missing. A JSON array holds several messages. A zero-byte body (a deleted retained property) is
  skipped.

Scene description -> captures, one per object, in frames at ``UtcTime`` (UTC by definition):

- An object with ``LicensePlateInfo`` (anywhere in its Appearance, e.g. under ``Extension``) is a
  plate capture: ``PlateNumber`` as ``plate_raw`` (its ``Likelihood`` the confidence),
  ``PlateType`` as ``plate_class``, ``CountryCode``/``IssuingEntity`` as attributes. When the object
  is the plate (class ``LicensePlate``, or no class and no ``VehicleInfo``) its box is
  ``plate_bbox`` and the box and ``VehicleInfo`` of its ``Parent`` object in the same frame give the
  vehicle; otherwise the object is the vehicle and its box is ``bbox``. ``Behaviour/Speed`` is m/s.
- An object with ``HumanFace`` (fc namespace or any other), or of class ``HumanFace``/``Face`` with
  an image, is a face capture: gender, age range (``Age/Min``, ``Age/Max``), glasses
  (``Accessory/Opticals/Wear``) and mask (``Accessory/Mask/Wear``); the other face features go to
  attributes by path (``Hair.Length``, ``Accessory.Hat.Wear``...).
- Every other object (the tracker reports each person and vehicle in every frame) is no event.

Boxes: ``Shape/BoundingBox`` is read in the coordinate system of its node: the normalised frame
system [-1, 1] with y up, changed by the frame's and the appearance's ``Transformation``
(``normalised = Scale * p + Translate``, nested nodes compose), then converted to 0..1 with a
top-left origin. Devices that send pixels with ``Translate(-1, 1) Scale(2/w, -2/h)`` come out right;
a box that still falls outside [-1, 1] (pixels without a transformation) is no box: ``bbox`` is
None and ``bbox_raw`` keeps the values as sent.

Events -> alarms. The topic (prefixes stripped from every segment, case ignored) gives the
alarm type: ``RuleEngine/FieldDetector/ObjectsInside`` intrusion, ``LineDetector/Crossed`` line
crossing, ``CellMotionDetector/Motion``, ``MotionRegionDetector/Motion`` and
``VideoSource/MotionAlarm`` motion, ``TamperDetector/Tamper`` and ``VideoSource/ImageTooBlurry``,
``ImageTooDark``, ``ImageTooBright`` tamper, ``VideoSource/GlobalSceneChange`` scene change,
``VideoSource/SignalLoss`` video loss, ``Device/Trigger/DigitalInput`` I/O input,
``RuleEngine/Recognition/Face`` face match; any other topic is an ``other`` alarm keeping the topic
as sent in ``vendor_event_type``. Telemetry and configuration topics (``Monitoring``, ``Media``,
``Configuration``, ``RecordingConfig``, ``RecordingHistory``, ``PTZController``,
``Device/Trigger/Relay``, ``RuleEngine/CountAggregation``, ``RuleEngine/ObjectTrack``) are
skipped. ``RuleEngine/Recognition/LicensePlate`` is a plate read: a plate capture from its
``LicensePlateInfo`` element item (or a ``PlateNumber`` simple item).

Alarm state. The state item is the first Data item named ``State``, ``LogicalState``, ``Active``,
``Detected`` or ``Is...`` (``IsMotion``, ``IsInside``, ``IsTamper``...) holding a boolean
(true/false, 1/0, active/inactive, on/off). Then:

- ``PropertyOperation="Deleted"``: stop when the message has a state item, else skipped (the
  property went away, nothing happened);
- a state item: true -> start; false -> stop, except ``Initialized`` + false, which is skipped
  (the initial value a subscription reports: nothing started, so nothing stops);
- no state item (``LineDetector/Crossed``, ``Recognition/Face``...): pulse, whatever the
  operation, since some devices send pulses as ``Initialized`` properties.

Identity. A capture's ``event_id`` is derived from (device, video source, analytics module, frame
``UtcTime``, the object's UUID or else its ``ObjectId`` or else its position in the frame): one
object in one frame is one capture; the same object in the next frame is another capture of the
same track (``track_id`` on faces is the ``ObjectId``). An event message's id is derived from
(device, topic, time, operation, all Source and Data simple items), so a re-delivered message keeps
its id and two messages that differ in anything are two events.

Device. A metadata stream does not name its device: the device is the gateway's key (a GB/T 28181
code is used as it is, anything else becomes a derived id). The video source token (the Source
item ``VideoSourceConfigurationToken``, ``VideoSourceToken``, ``VideoSource``, or ``Source`` under
``VideoSource`` topics; or the frame attribute ``VideoSourceToken``) gives ``channel`` when it
ends in digits (taken as sent, no base shift) and stays in the attributes. It is deliberately not
part of the device id: frames rarely carry it while events do, and one camera must keep one id.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

import orjson

from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    BoundingBox,
    CanonicalEvent,
    FaceCapture,
    Gender,
    ImageKind,
    ImageRef,
    PlateCapture,
    Presence,
    TimeProvenance,
)
from streams.canonical.models import construct
from streams.domain.plates import canonical_plate, canonical_plate_color
from streams.domain.vendor_time import VendorTimeError, parse_iso8601
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.common import (
    as_str,
    box_from_corners,
    device_id_from,
    event_id,
    inline_image,
    leftover_attributes,
    position_of,
    received_fallback,
    unit,
    url_image,
)

SOURCE = "onvif"

_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION_TEXT = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
# Multi-byte encodings expat cannot read, seen from Chinese devices: decoded here.
_DECODED_HERE = frozenset({"gb2312", "gbk", "gb18030", "big5"})
_CONTAINERS = frozenset(
    {"MetadataStream", "VideoAnalytics", "Event", "Envelope", "Body", "Notify"}
    | {"PullMessagesResponse"}
)
_CHANNEL = re.compile(r"([0-9]{1,6})$")
_VIDEO_SOURCE_ITEMS = ("VideoSourceConfigurationToken", "VideoSourceToken", "VideoSource", "Source")
_TRUE = frozenset({"true", "1", "active", "on"})
_FALSE = frozenset({"false", "0", "inactive", "off"})
_STATE_NAMES = frozenset({"state", "logicalstate", "active", "detected"})
_GENDER = {"male": Gender.MALE, "female": Gender.FEMALE, "m": Gender.MALE, "f": Gender.FEMALE}
_FACE_CLASSES = frozenset({"humanface", "face"})
_FACE_MODELLED = frozenset({"Gender", "Age", "Accessory.Opticals.Wear", "Accessory.Mask.Wear"})
_TARGET_ITEMS = ("ClassTypes", "ClassType", "ObjectType", "ObjectClass")
_MAX_ATTRIBUTE = 256
_MS_TO_KMH = 3.6
_MAX_SPEED_MS = 300.0  # beyond this a "speed" is not a vehicle's

# (sx, sy, tx, ty): normalised = s * p + t.
_Transform = tuple[float, float, float, float]
_IDENTITY: _Transform = (1.0, 1.0, 0.0, 0.0)


class _Kind(Enum):
    ALARM = "alarm"
    PLATE = "plate"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class _TopicInfo:
    kind: _Kind
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
def _topic_info(topic: str) -> _TopicInfo:
    segments = [s.rpartition(":")[2].strip().lower() for s in topic.split("/")]
    segments = [s for s in segments if s]
    three = "/".join(segments[:3])
    two = "/".join(segments[:2])
    # A bare "Source" item is the video source only under VideoSource topics.
    video = bool(segments) and segments[0] == "videosource"
    tokens = _VIDEO_SOURCE_ITEMS if video else _VIDEO_SOURCE_ITEMS[:-1]
    if (segments and segments[0] in _SKIPPED_ROOTS) or two in _SKIPPED_PREFIXES:
        return _TopicInfo(_Kind.SKIP, AlarmType.OTHER, None, tokens)
    if three in _PLATE_TOPICS:
        return _TopicInfo(_Kind.PLATE, AlarmType.OTHER, None, tokens)
    found = _ALARM_TOPICS.get(three) or _ALARM_TOPICS.get(two)
    if found is None:
        return _TopicInfo(_Kind.ALARM, AlarmType.OTHER, None, tokens)
    return _TopicInfo(_Kind.ALARM, found[0], found[1], tokens)


# --- payload entry -----------------------------------------------------------------------------


def normalize_onvif(raw: RawPayload, ctx: Context) -> Normalized:
    body = raw.body
    if body.startswith(_UTF8_BOM):
        body = body[3:]
    body = body.strip()
    if not body:
        return Normalized(skipped="empty payload (an onvif-ej property deletion)")
    if body[:1] == b"<":
        return _from_xml(body, raw, ctx)
    if body[:1] in (b"{", b"["):
        return _from_json(body, raw, ctx)
    raise AdapterError("body is neither XML (ONVIF metadata or notification) nor JSON (onvif-ej)")


@lru_cache(maxsize=4096)
def _device(hint: str | None) -> str:
    """The device id for the gateway's hint (cached: hashing a derived id is not free)."""
    if as_str(hint) is None:
        raise AdapterError(
            "no device identity: ONVIF metadata does not name its device and the gateway set no key"
        )
    return device_id_from(SOURCE, hint)


def _channel(token: str | None) -> int | None:
    if token is None:
        return None
    match = _CHANNEL.search(token)
    return int(match.group(1)) if match else None


def _utc(text: str | None, raw: RawPayload) -> tuple[datetime, TimeProvenance]:
    """``UtcTime`` is UTC by definition, with or without a ``Z``."""
    if text is None:
        return received_fallback(raw.received_at), TimeProvenance.RECEIVED
    try:
        at, _provenance = parse_iso8601(text, UTC, now=raw.received_at)
    except VendorTimeError as exc:
        raise AdapterError(f"UtcTime: {exc}") from None
    return at, TimeProvenance.SOURCE_OFFSET


def _num(text: str | None) -> float | None:
    """A finite number from XML text (``as_float`` for the str-only hot path)."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number - number == 0.0 else None  # inf - inf and nan are nan


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _likelihood(value: str | None) -> float | None:
    """ONVIF likelihoods are 0..1; a few devices send percentages."""
    number = _num(value)
    if number is None:
        return None
    return unit(number, 100.0 if number > 1.0 else 1.0)


def _find(element: ET.Element | None, *path: str) -> ET.Element | None:
    """``element.find("a/b")`` through the C fast path (plain tags, one level at a time)."""
    for tag in path:
        if element is None:
            return None
        element = element.find(tag)
    return element


def _appearance_part(appearance: ET.Element, tag: str) -> ET.Element | None:
    """A child of the Appearance, or of its ``Extension`` where older devices put it."""
    found = appearance.find(tag)
    if found is None:
        extension = appearance.find("Extension")
        if extension is not None:
            found = extension.find(tag)
    return found


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    text = element.text
    if text is not None:
        text = text.strip()
        if text:
            return text
    for child in element:  # a vendor wrapping the value in one more element
        return _text(child) if len(child) == 0 else None
    return None


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    key = value.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


# --- XML ---------------------------------------------------------------------------------------


def _parse_xml(body: bytes) -> ET.Element:
    if b"\x00" in body:
        raise AdapterError("XML with NUL bytes (UTF-16/32 documents are not accepted)")
    if _DECLARATION.search(body):
        raise AdapterError("XML with a DOCTYPE or ENTITY declaration is refused (entity expansion)")
    source: bytes | str = body
    declared = _ENCODING.match(body)
    if declared is not None and declared.group(1).decode().lower() in _DECODED_HERE:
        try:
            source = body.decode(declared.group(1).decode())
        except UnicodeDecodeError as exc:
            raise AdapterError(f"XML is not valid {declared.group(1).decode()}: {exc}") from None
        if _DECLARATION_TEXT.search(source):
            raise AdapterError("XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        # Safe: no DTD can be present (refused above), so no entity can expand.
        root = ET.fromstring(source)  # noqa: S314
    except ET.ParseError as exc:
        raise AdapterError(f"body is not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # unsupported or unknown declared encoding
        raise AdapterError(f"XML encoding not supported ({exc})") from None
    for element in root.iter():
        tag = element.tag
        if tag[:1] == "{":
            element.tag = tag[tag.find("}") + 1 :]
    return root


def _xml_records(root: ET.Element) -> tuple[list[ET.Element], list[ET.Element]]:
    """Frames and NotificationMessages, in document order."""
    frames: list[ET.Element] = []
    messages: list[ET.Element] = []
    stack = [root]
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag == "Frame":
            frames.append(element)
        elif tag == "NotificationMessage":
            messages.append(element)
        elif tag in _CONTAINERS:
            stack.extend(reversed(element))
    return frames, messages


def _from_xml(body: bytes, raw: RawPayload, ctx: Context) -> Normalized:
    root = _parse_xml(body)
    frames, messages = _xml_records(root)
    if not frames and not messages:
        if root.tag in _CONTAINERS:
            return Normalized(skipped=f"{root.tag} without frames or events (PTZ, sensor data)")
        raise AdapterError(f"XML root {root.tag!r} is not ONVIF metadata or a notification")
    device_id = _device(raw.key)
    result = Normalized()
    skipped: list[str] = []
    for frame in frames:
        try:
            found = _frame_captures(frame, device_id, raw, ctx)
        except AdapterError as exc:
            result.rejected.append(Rejected(f"frame: {exc}", ET.tostring(frame)))
            continue
        result.events.extend(found)
        if not found:
            skipped.append("frame without plate or face objects")
    for element in messages:
        try:
            outcome = _notification(_xml_message(element), device_id, raw, ctx)
        except AdapterError as exc:
            result.rejected.append(Rejected(f"event: {exc}", ET.tostring(element)))
            continue
        if isinstance(outcome, str):
            skipped.append(outcome)
        else:
            result.events.append(outcome)
    if not result.events and not result.rejected:
        result.skipped = "; ".join(dict.fromkeys(skipped))
    return result


# --- scene description -------------------------------------------------------------------------


def _compose(parent: _Transform, node: ET.Element | None) -> _Transform:
    if node is None:
        return parent
    sx = sy = 1.0
    tx = ty = 0.0
    scale = node.find("Scale")
    if scale is not None:
        sx = _or(_num(scale.get("x")), 1.0)
        sy = _or(_num(scale.get("y")), 1.0)
    translate = node.find("Translate")
    if translate is not None:
        tx = _or(_num(translate.get("x")), 0.0)
        ty = _or(_num(translate.get("y")), 0.0)
    psx, psy, ptx, pty = parent
    return (psx * sx, psy * sy, psx * tx + ptx, psy * ty + pty)


def _rect(box: ET.Element | None, transform: _Transform) -> tuple[BoundingBox | None, str | None]:
    """A 0..1 top-left box from a ``tt:Rectangle``, and the raw values when they are unusable."""
    if box is None:
        return None, None
    get = box.get
    values = (get("left"), get("top"), get("right"), get("bottom"))
    left, top, right, bottom = (_num(v) for v in values)
    shown = ",".join(str(v) for v in values)
    if left is None or top is None or right is None or bottom is None:
        return None, shown
    sx, sy, tx, ty = transform
    u1, u2 = sx * left + tx, sx * right + tx
    v1, v2 = sy * top + ty, sy * bottom + ty
    if max(abs(u1), abs(u2), abs(v1), abs(v2)) > 1.01:
        return None, shown
    bbox = box_from_corners((u1 + 1) / 2, (1 - v1) / 2, (u2 + 1) / 2, (1 - v2) / 2, 1.0, 1.0)
    return bbox, None


def _object_class(appearance: ET.Element) -> tuple[str | None, float | None]:
    """The most likely class (``Type`` or the older ``ClassCandidate``) and its likelihood."""
    descriptor = appearance.find("Class")
    if descriptor is None:
        return None, None
    best: tuple[str | None, float | None] = (None, None)
    for child in descriptor:
        if child.tag == "Type":
            name, likelihood = _text(child), _likelihood(child.get("Likelihood"))
        elif child.tag == "ClassCandidate":
            name = _text(child.find("Type"))
            likelihood = _likelihood(_text(child.find("Likelihood")))
        else:
            continue
        if name is None:
            continue
        if best[0] is None or (likelihood or 0.0) > (best[1] or 0.0):
            best = (name, likelihood)
    return best


@dataclass(slots=True)
class _Frame:
    """What every capture of one frame shares."""

    element: ET.Element
    device_id: str
    token: str | None
    channel: int | None
    module: str | None
    captured_at: datetime
    provenance: TimeProvenance
    transform: _Transform
    raw: RawPayload
    ctx: Context
    _objects: dict[str, ET.Element] | None = None
    _scene: list[ImageRef] | None = None

    def parent(self, obj: ET.Element) -> ET.Element | None:
        parent_id = obj.get("Parent")
        if parent_id is None:
            return None
        if self._objects is None:
            self._objects = {}
            for other in self.element.iterfind("Object"):
                key = other.get("ObjectId")
                if key is not None:
                    self._objects.setdefault(key, other)
        return self._objects.get(parent_id)

    def scene_images(self) -> list[ImageRef]:
        if self._scene is None:
            self._scene = []
            ref = url_image(_text(self.element.find("SceneImageRef")), ImageKind.SCENE)
            if ref is not None:
                self._scene.append(ref)
            data = _text(self.element.find("SceneImage"))
            if data is not None:
                self._scene.append(inline_image(data, ImageKind.SCENE))
        return self._scene

    def common(self, obj: ET.Element, index: int, kind: str) -> dict[str, object]:
        uuid = obj.get("UUID")
        object_id = obj.get("ObjectId")
        key = uuid or object_id or f"#{index}"
        return dict(
            event_id=event_id(
                kind,
                SOURCE,
                self.device_id,
                self.token,
                self.module,
                self.captured_at.isoformat(),
                key,
            ),
            source=SOURCE,
            source_event_id=None,
            device_id=self.device_id,
            channel=self.channel,
            captured_at=self.captured_at,
            received_at=received_fallback(self.raw.received_at),
            time_source=self.provenance,
            position=position_of(self.device_id, self.ctx),
        )

    def attributes(self, obj: ET.Element, object_class: str | None) -> dict[str, str]:
        found = (
            ("object_id", obj.get("ObjectId")),
            ("uuid", obj.get("UUID")),
            ("parent_object_id", obj.get("Parent")),
            ("object_class", object_class),
            ("analytics_module", self.module),
            ("video_source", self.token),
        )
        return {k: v for k, v in found if v is not None and 0 < len(v) <= _MAX_ATTRIBUTE}


def _frame_captures(
    frame: ET.Element, device_id: str, raw: RawPayload, ctx: Context
) -> list[CanonicalEvent]:
    candidates: list[tuple[int, ET.Element, ET.Element, ET.Element | None, bool]] = []
    for index, obj in enumerate(frame.iterfind("Object")):
        appearance = obj.find("Appearance")
        if appearance is None:
            continue
        plate_info = _appearance_part(appearance, "LicensePlateInfo")
        if plate_info is not None:
            candidates.append((index, obj, appearance, plate_info, True))
            continue
        face = _appearance_part(appearance, "HumanFace")
        if face is None:
            if appearance.find("ImageRef") is None and appearance.find("Image") is None:
                continue
            object_class = _object_class(appearance)[0]
            if object_class is None or object_class.lower() not in _FACE_CLASSES:
                continue
        candidates.append((index, obj, appearance, face, False))
    if not candidates:
        return []
    captured_at, provenance = _utc(as_str(frame.get("UtcTime")), raw)
    token = frame.get("VideoSourceToken") or frame.get("VideoSourceConfigurationToken")
    shared = _Frame(
        element=frame,
        device_id=device_id,
        token=token,
        channel=_channel(token),
        module=frame.get("Source"),
        captured_at=captured_at,
        provenance=provenance,
        transform=_compose(_IDENTITY, frame.find("Transformation")),
        raw=raw,
        ctx=ctx,
    )
    events: list[CanonicalEvent] = []
    for index, obj, appearance, found, is_plate in candidates:
        if is_plate and found is not None:
            events.append(_frame_plate(obj, appearance, found, index, shared))
        else:
            events.append(_frame_face(obj, appearance, found, index, shared))
    return events


def _appearance_images(appearance: ET.Element, kind: ImageKind) -> list[ImageRef]:
    images: list[ImageRef] = []
    ref = url_image(_text(appearance.find("ImageRef")), kind)
    if ref is not None:
        images.append(ref)
    data = _text(appearance.find("Image"))
    if data is not None:
        images.append(inline_image(data, kind))
    return images


def _vehicle(info: ET.Element | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Type, brand, colour (lower-cased term) and model of a ``VehicleInfo``."""
    if info is None:
        return None, None, None, None
    colour = _text(info.find("Color"))
    return (
        _text(info.find("Type")),
        _text(info.find("Brand")),
        colour.lower() if colour is not None else None,
        _text(info.find("Model")),
    )


def _plate_fields(
    plate_info: ET.Element | None, plate_text: str | None
) -> tuple[dict[str, object], dict[str, str | None], list[ImageRef]]:
    """PlateCapture fields, extra attributes and images from a ``LicensePlateInfo``."""
    number = plate_info.find("PlateNumber") if plate_info is not None else None
    plate_raw = _text(number) if number is not None else plate_text
    colour = _text(plate_info.find("Color")) if plate_info is not None else None
    fields: dict[str, object] = dict(
        plate_number=canonical_plate(plate_raw),
        plate_raw=plate_raw,
        plate_color=canonical_plate_color(colour, SOURCE),
        plate_class=_text(plate_info.find("PlateType")) if plate_info is not None else None,
        confidence=_likelihood(number.get("Likelihood")) if number is not None else None,
    )
    extra: dict[str, str | None] = {}
    images: list[ImageRef] = []
    if plate_info is not None:
        extra["plate_country"] = _text(plate_info.find("CountryCode"))
        extra["plate_issuing_entity"] = _text(plate_info.find("IssuingEntity"))
        data = _text(plate_info.find("Image"))
        if data is not None:
            images.append(inline_image(data, ImageKind.PLATE))
    return fields, extra, images


def _frame_plate(
    obj: ET.Element, appearance: ET.Element, plate_info: ET.Element, index: int, frame: _Frame
) -> PlateCapture:
    transform = _compose(frame.transform, appearance.find("Transformation"))
    own_box, own_raw = _rect(_find(appearance, "Shape", "BoundingBox"), transform)
    object_class, _likely = _object_class(appearance)
    vehicle_info = _appearance_part(appearance, "VehicleInfo")
    is_plate = (object_class or "").lower() == "licenseplate" or (
        object_class is None and vehicle_info is None
    )
    bbox: BoundingBox | None = None
    plate_bbox: BoundingBox | None = None
    images: list[ImageRef] = []
    if is_plate:
        plate_bbox = own_box
        images.extend(_appearance_images(appearance, ImageKind.PLATE))
        parent = frame.parent(obj)
        parent_appearance = parent.find("Appearance") if parent is not None else None
        if parent_appearance is not None:
            parent_transform = _compose(frame.transform, parent_appearance.find("Transformation"))
            bbox, _parent_raw = _rect(
                _find(parent_appearance, "Shape", "BoundingBox"), parent_transform
            )
            if vehicle_info is None:
                vehicle_info = _appearance_part(parent_appearance, "VehicleInfo")
            images.extend(_appearance_images(parent_appearance, ImageKind.VEHICLE))
    else:
        bbox = own_box
        images.extend(_appearance_images(appearance, ImageKind.VEHICLE))
    fields, extra, plate_images = _plate_fields(plate_info, None)
    images.extend(plate_images)
    vehicle_type, brand, colour, model = _vehicle(vehicle_info)
    if vehicle_info is not None:
        data = _text(vehicle_info.find("Image"))
        if data is not None:
            images.append(inline_image(data, ImageKind.VEHICLE))
    images.extend(frame.scene_images())
    attributes = frame.attributes(obj, object_class)
    extra["vehicle_model"] = model
    extra["bbox_raw"] = own_raw
    attributes.update(leftover_attributes(extra, frozenset()))
    behaviour = obj.find("Behaviour")
    speed = _num(_text(_find(behaviour, "Speed")))
    direction = _find(behaviour, "Direction")
    return construct(
        PlateCapture,
        dict(
            **frame.common(obj, index, "plate"),
            images=images,
            bbox=bbox,
            attributes=attributes,
            plate_bbox=plate_bbox,
            vehicle_color=colour,
            vehicle_type=vehicle_type,
            vehicle_brand=brand,
            direction=as_str(direction.get("yaw")) if direction is not None else None,
            speed_kmh=_kmh(speed),
            **fields,
        ),
    )


def _kmh(metres_per_second: float | None) -> float | None:
    if metres_per_second is None or not 0 <= metres_per_second <= _MAX_SPEED_MS:
        return None
    return metres_per_second * _MS_TO_KMH


def _leaves(root: ET.Element) -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every leaf under ``root``."""
    stack: list[tuple[str, ET.Element]] = [(child.tag, child) for child in reversed(root)]
    while stack:
        path, element = stack.pop()
        if len(element):
            stack.extend((f"{path}.{child.tag}", child) for child in reversed(element))
            continue
        text = _text(element)
        if text is not None:
            yield path, text


def _presence(face: ET.Element | None, item: str) -> Presence:
    wear = _bool(_text(_find(face, "Accessory", item, "Wear")))
    if wear is None:
        return Presence.UNKNOWN
    return Presence.YES if wear else Presence.NO


def _age(value: str | None) -> int | None:
    number = _num(value)
    return int(number) if number is not None and 0 <= number <= 150 else None


def _frame_face(
    obj: ET.Element, appearance: ET.Element, face: ET.Element | None, index: int, frame: _Frame
) -> FaceCapture:
    transform = _compose(frame.transform, appearance.find("Transformation"))
    bbox, box_raw = _rect(_find(appearance, "Shape", "BoundingBox"), transform)
    object_class, likelihood = _object_class(appearance)
    attributes = frame.attributes(obj, object_class)
    low = high = None
    gender = Gender.UNKNOWN
    if face is not None:
        age = face.find("Age")
        if age is not None:
            if len(age):
                low, high = _age(_text(age.find("Min"))), _age(_text(age.find("Max")))
            else:
                low = high = _age(_text(age))
        gender = _GENDER.get((_text(face.find("Gender")) or "").lower(), Gender.UNKNOWN)
        for path, text in _leaves(face):
            if path not in _FACE_MODELLED and len(text) <= _MAX_ATTRIBUTE:
                attributes.setdefault(path, text)
    if box_raw is not None:
        attributes["bbox_raw"] = box_raw
    images = _appearance_images(appearance, ImageKind.FACE)
    images.extend(frame.scene_images())
    return construct(
        FaceCapture,
        dict(
            **frame.common(obj, index, "face"),
            images=images,
            confidence=likelihood,
            bbox=bbox,
            attributes=attributes,
            track_id=obj.get("ObjectId") or obj.get("UUID"),
            gender=gender,
            age_min=low,
            age_max=high,
            glasses=_presence(face, "Opticals"),
            mask=_presence(face, "Mask"),
        ),
    )


# --- event messages ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Message:
    """One event message, from XML or JSON alike."""

    topic: str | None
    utc: str | None
    operation: str | None
    source: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    elements: dict[str, ET.Element] = field(default_factory=dict)
    device_hint: str | None = None


def _xml_items(container: ET.Element | None, message: _Message, target: dict[str, str]) -> None:
    if container is None:
        return
    for item in container:
        name = item.get("Name")
        if name is None:
            continue
        if item.tag == "SimpleItem":
            value = item.get("Value")
            if value is not None:
                target[name] = value
        elif item.tag == "ElementItem":
            message.elements[name] = item[0] if len(item) else item


def _xml_message(element: ET.Element) -> _Message:
    body = element.find("Message")
    if body is not None:
        inner = body.find("Message")
        if inner is not None:
            body = inner
    if body is None:
        raise AdapterError("NotificationMessage without a Message")
    message = _Message(
        topic=_text(element.find("Topic")),
        utc=as_str(body.get("UtcTime")),
        operation=as_str(body.get("PropertyOperation")),
    )
    _xml_items(body.find("Source"), message, message.source)
    _xml_items(body.find("Key"), message, message.source)
    _xml_items(body.find("Data"), message, message.data)
    return message


def _state(data: Mapping[str, str]) -> tuple[str | None, bool | None]:
    for name, value in data.items():
        key = name.lower()
        if key in _STATE_NAMES or (key.startswith("is") and len(key) > 2):
            state = _bool(value)
            if state is not None:
                return name, state
    return None, None


def _item(items: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = as_str(items.get(name))
        if value is not None:
            return value
    return None


def _message_identity(message: _Message, device_id: str, at: datetime) -> tuple[str, ...]:
    return (
        device_id,
        message.topic or "",
        at.isoformat(),
        message.operation or "",
        "&".join(f"{k}={v}" for k, v in sorted(message.source.items())),
        "&".join(f"{k}={v}" for k, v in sorted(message.data.items())),
    )


def _message_images(data: Mapping[str, str], kind: ImageKind) -> list[ImageRef]:
    images: list[ImageRef] = []
    for name, value in data.items():
        key = name.lower()
        if key in ("imageuri", "imageref"):
            ref = url_image(value, kind)
        elif key == "refimageuri":
            ref = url_image(value, ImageKind.FACE)
        elif key == "vehicleimageuri":
            ref = url_image(value, ImageKind.VEHICLE)
        elif key == "image" and value.strip():
            ref = inline_image(value, kind)
        elif key == "vehicleimage" and value.strip():
            ref = inline_image(value, ImageKind.VEHICLE)
        else:
            continue
        if ref is not None:
            images.append(ref)
    return images


_IMAGE_ITEMS = frozenset(
    {"ImageUri", "ImageURI", "ImageRef", "RefImageUri", "VehicleImageURI", "Image"}
    | {"VehicleImage"}
)


def _notification(
    message: _Message, device_id: str, raw: RawPayload, ctx: Context
) -> CanonicalEvent | str:
    """The event of one message, or why it is skipped."""
    topic = message.topic
    if topic is None:
        raise AdapterError("event message without a topic")
    info = _topic_info(topic)
    if info.kind is _Kind.SKIP:
        return f"telemetry topic {topic}"
    operation = (message.operation or "").lower()
    captured_at, provenance = _utc(message.utc, raw)
    token = _item(message.source, *info.token_items)
    common: dict[str, object] = dict(
        source=SOURCE,
        source_event_id=None,
        device_id=device_id,
        channel=_channel(token),
        captured_at=captured_at,
        received_at=received_fallback(raw.received_at),
        time_source=provenance,
        position=position_of(device_id, ctx),
    )
    identity = _message_identity(message, device_id, captured_at)
    if info.kind is _Kind.PLATE:
        if operation == "deleted":
            return f"{topic} property deleted"
        return _message_plate(message, common, identity)
    state_name, state = _state(message.data)
    if operation == "deleted":
        if state is None:
            return f"{topic} property deleted"
        alarm_state = AlarmState.STOP
    elif state is None:
        alarm_state = AlarmState.PULSE
    elif state:
        alarm_state = AlarmState.START
    elif operation == "initialized":
        return f"{topic} initially inactive"
    else:
        alarm_state = AlarmState.STOP
    target = _item(message.data, *_TARGET_ITEMS)
    modelled = {"Rule", "Likelihood", *_IMAGE_ITEMS}
    if state_name is not None:
        modelled.add(state_name)
    attributes = leftover_attributes({**message.source, **message.data}, frozenset(modelled))
    if message.operation is not None:
        attributes["property_operation"] = message.operation
    image_kind = ImageKind.FACE if info.alarm_type is AlarmType.FACE_MATCH else ImageKind.SCENE
    return construct(
        Alarm,
        dict(
            event_id=event_id("alarm", SOURCE, *identity),
            **common,
            images=_message_images(message.data, image_kind),
            confidence=_likelihood(message.data.get("Likelihood")),
            attributes=attributes,
            alarm_type=info.alarm_type,
            state=alarm_state,
            vendor_event_type=topic,
            rule_name=_item(message.source, "Rule") or _item(message.data, "Rule", "RuleName"),
            target_type=target.split()[0].lower() if target else info.target_type,
        ),
    )


def _message_plate(
    message: _Message, common: dict[str, object], identity: tuple[str, ...]
) -> PlateCapture:
    plate_info = message.elements.get("LicensePlateInfo")
    if plate_info is not None and plate_info.tag != "LicensePlateInfo":
        nested = plate_info.find(".//LicensePlateInfo")
        if nested is not None:
            plate_info = nested
    plate_text = _item(message.data, "PlateNumber", "LicensePlate", "Plate", "PlateText")
    if (plate_info is None or plate_info.find("PlateNumber") is None) and plate_text is None:
        raise AdapterError("license plate recognition without LicensePlateInfo or PlateNumber")
    if plate_info is not None and plate_info.find("PlateNumber") is None:
        plate_info = None
    fields, extra, images = _plate_fields(plate_info, plate_text)
    if fields["confidence"] is None:
        fields["confidence"] = _likelihood(message.data.get("Likelihood"))
    images = _message_images(message.data, ImageKind.PLATE) + images
    vehicle_type, brand, colour, model = _vehicle(message.elements.get("VehicleInfo"))
    plate_bbox, box_raw = _rect(message.elements.get("BoundingBox"), _IDENTITY)
    modelled = frozenset(
        {"Likelihood", "PlateNumber", "LicensePlate", "Plate", "PlateText", "Direction"}
        | _IMAGE_ITEMS
    )
    attributes = leftover_attributes({**message.source, **message.data}, modelled)
    extra["vehicle_model"] = model
    extra["bbox_raw"] = box_raw
    extra["property_operation"] = message.operation
    attributes.update(leftover_attributes(extra, frozenset()))
    return construct(
        PlateCapture,
        dict(
            event_id=event_id("plate", SOURCE, *identity),
            **common,
            images=images,
            attributes=attributes,
            plate_bbox=plate_bbox,
            vehicle_color=colour,
            vehicle_type=vehicle_type,
            vehicle_brand=brand,
            direction=_item(message.data, "Direction"),
            **fields,
        ),
    )


# --- JSON (onvif-ej) ---------------------------------------------------------------------------


def _json_element(name: str, value: Any) -> ET.Element:
    """An element item given as nested JSON (``@x`` attributes, ``#text``), as an Element."""
    root = ET.Element(name)
    stack: list[tuple[ET.Element, Any]] = [(root, value)]
    while stack:
        element, content = stack.pop()
        if not isinstance(content, dict):
            element.text = as_str(content)
            continue
        for key, child in content.items():
            key = str(key)
            if key.startswith("@"):
                text = as_str(child)
                if text is not None:
                    element.set(key[1:], text)
            elif key in ("#text", "$"):
                element.text = as_str(child)
            else:
                for each in child if isinstance(child, list) else [child]:
                    stack.append((ET.SubElement(element, key.rpartition(":")[2]), each))
    return root


def _json_items(container: Any, message: _Message, target: dict[str, str]) -> None:
    if not isinstance(container, dict):
        return
    listed = container.get("SimpleItem")
    if listed is not None or "ElementItem" in container:
        for item in listed if isinstance(listed, list) else [listed]:
            if isinstance(item, dict):
                name, value = as_str(item.get("Name")), as_str(item.get("Value"))
                if name is not None and value is not None:
                    target[name] = value
        elements = container.get("ElementItem")
        for item in elements if isinstance(elements, list) else [elements]:
            if isinstance(item, dict) and as_str(item.get("Name")) is not None:
                name = str(item["Name"])
                content = {k: v for k, v in item.items() if k != "Name"}
                message.elements[name] = _json_element(name, content)
        return
    for name, value in container.items():
        if isinstance(value, dict):
            message.elements[str(name)] = _json_element(str(name), value)
        else:
            text = as_str(value)
            if text is not None:
                target[str(name)] = text


def _mqtt_topic(topic: str) -> tuple[str, str | None]:
    """(event topic, device hint) from an MQTT topic or an ONVIF topic expression."""
    marker = topic.find("onvif-ej/")
    if marker < 0 or (marker > 0 and topic[marker - 1] != "/"):
        return topic, None
    hint = topic[: marker - 1] if marker > 0 else None
    event = topic[marker + len("onvif-ej/") :].split("/&", 1)[0].strip("/")
    if event and ":" not in event.split("/", 1)[0]:
        event = "tns1:" + event
    return event, hint or None


def _topic_text(record: Mapping[str, Any]) -> str | None:
    value = record.get("Topic") or record.get("topic")
    return value.strip() or None if isinstance(value, str) else None


def _json_message(record: Any) -> _Message:
    if not isinstance(record, dict):
        raise AdapterError("onvif-ej message is not a JSON object")
    topic = _topic_text(record)
    fields: Any = record
    for name in ("payload", "Payload", "message", "Message"):
        inner = record.get(name)
        if isinstance(inner, str | bytes) and inner.strip()[:1] in ("{", b"{"):
            try:  # a bridge that kept the MQTT payload as text
                inner = orjson.loads(inner)
            except orjson.JSONDecodeError as exc:
                raise AdapterError(f"{name} is not JSON ({exc})") from None
        if isinstance(inner, dict):
            fields = inner
            topic = topic or _topic_text(inner)
            break
    hint = None
    if topic is not None:
        topic, hint = _mqtt_topic(topic)
    if not topic:
        raise AdapterError(
            "onvif-ej message without a topic: the MQTT topic names the event, so the gateway "
            "must pass it ('Topic', or {'topic': ..., 'payload': ...})"
        )
    message = _Message(
        topic=topic,
        utc=as_str(fields.get("UtcTime")),
        operation=as_str(fields.get("PropertyOperation")),
        device_hint=hint,
    )
    _json_items(fields.get("Source"), message, message.source)
    _json_items(fields.get("Key"), message, message.source)
    _json_items(fields.get("Data"), message, message.data)
    return message


def _from_json(body: bytes, raw: RawPayload, ctx: Context) -> Normalized:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(f"body is not JSON ({exc})") from None
    records: Iterable[Any] = document if isinstance(document, list) else [document]
    single = not isinstance(document, list)
    result = Normalized()
    skipped: list[str] = []
    for record in records:
        try:
            message = _json_message(record)
            device_id = _device(raw.key or message.device_hint)
            outcome = _notification(message, device_id, raw, ctx)
        except AdapterError as exc:
            if single:
                raise
            result.rejected.append(Rejected(f"event: {exc}", orjson.dumps(record)))
            continue
        if isinstance(outcome, str):
            skipped.append(outcome)
        else:
            result.events.append(outcome)
    if not result.events and not result.rejected:
        result.skipped = "; ".join(dict.fromkeys(skipped)) or "empty JSON array"
    return result
