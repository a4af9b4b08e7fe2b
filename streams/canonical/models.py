"""pydantic models of the canonical events; a test keeps them in step with ``schemas/avro``.

Times are UTC-aware with millisecond precision (the Avro type is timestamp-millis); JSON output
writes them as RFC 3339 with a ``Z``.
"""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

# Enumerations owned by the pure domain modules; the canonical model uses them as they are.
from streams.domain.plates import PlateColor as PlateColor
from streams.domain.vendor_time import TimeProvenance as TimeProvenance


def _utc_millis(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: canonical times must carry a zone")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def rfc3339_millis(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


UtcMillis = Annotated[
    datetime,
    AfterValidator(_utc_millis),
    PlainSerializer(rfc3339_millis, return_type=str, when_used="json"),
]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]  # the range of an Avro int


def _float32(values: list[float] | None) -> list[float] | None:
    # Embeddings travel as Avro float (32-bit): round here so a decoded event equals the original.
    return None if values is None else array("f", values).tolist()


Float32Vector = Annotated[list[float] | None, AfterValidator(_float32)]


class ImageKind(StrEnum):
    SCENE = "scene"
    PLATE = "plate"
    VEHICLE = "vehicle"
    FACE = "face"
    BODY = "body"
    COMPOSITE = "composite"
    OTHER = "other"


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class Presence(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class AlarmType(StrEnum):
    INTRUSION = "intrusion"
    LINE_CROSSING = "line_crossing"
    REGION_ENTRANCE = "region_entrance"
    REGION_EXIT = "region_exit"
    MOTION = "motion"
    TAMPER = "tamper"
    VIDEO_LOSS = "video_loss"
    SCENE_CHANGE = "scene_change"
    IO_INPUT = "io_input"
    FACE_MATCH = "face_match"
    OTHER = "other"


class AlarmState(StrEnum):
    START = "start"
    STOP = "stop"
    PULSE = "pulse"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __reduce__(self) -> tuple[object, ...]:
        # Window state is pickled to the stages' change logs on every batch; pydantic's own
        # pickling costs several times more than rebuilding from the field values.
        return (_rebuild, (type(self), tuple(self.__dict__.values())))


class GeoPoint(_Record):
    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]


class BoundingBox(_Record):
    x: Unit
    y: Unit
    w: Unit
    h: Unit


class ImageRef(_Record):
    kind: ImageKind
    url: str | None = None
    sha256: str | None = None
    width: Int32 | None = None
    height: Int32 | None = None


def _rebuild(model: type[BaseModel], values: tuple[object, ...]) -> BaseModel:
    return construct(model, dict(zip(model.model_fields, values, strict=True)))


def _from_avro(data: bytes) -> BaseModel:
    from streams.codecs.avro import decode

    return decode(data)


class _Event(_Record):
    # The single-object bytes an event was decoded from with the newest schema, kept so that
    # holding it in state or passing it on does not encode it again. A slot, not a field or a
    # private attribute: invisible to equality and serialisation, and not carried by copies
    # (``model_copy(update=...)`` makes another event).
    __slots__ = ("_wire",)

    def __copy__(self) -> Self:
        copied = super().__copy__()
        _wire_slot.__set__(copied, None)  # another event: no bytes yet, and no lookup misses
        return copied

    def __reduce__(self) -> tuple[object, ...]:
        # Events pickle as their Avro single-object bytes: cheaper than field by field (enums
        # and datetimes are slow to pickle) and half the size.
        from streams.codecs.avro import encode

        return (_from_avro, (encode(self),))

    event_id: str
    source: str
    source_event_id: str | None = None
    device_id: str
    channel: Int32 | None = None
    captured_at: UtcMillis
    received_at: UtcMillis
    time_source: TimeProvenance
    position: GeoPoint | None = None
    images: list[ImageRef] = Field(default_factory=list)
    confidence: Unit | None = None
    bbox: BoundingBox | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class PlateCapture(_Event):
    kind: Literal["plate"] = "plate"
    plate_number: str | None = None
    plate_raw: str | None = None
    plate_color: PlateColor = PlateColor.UNKNOWN
    plate_class: str | None = None
    plate_bbox: BoundingBox | None = None
    vehicle_color: str | None = None
    vehicle_type: str | None = None
    vehicle_brand: str | None = None
    lane: Int32 | None = None
    direction: str | None = None
    speed_kmh: float | None = None
    pass_group: str | None = None
    # Set by the deduplication stage (schema v2).
    late: bool = False
    absorbed_event_ids: list[str] = Field(default_factory=list)


class FaceCapture(_Event):
    kind: Literal["face"] = "face"
    track_id: str | None = None
    quality: Unit | None = None
    gender: Gender = Gender.UNKNOWN
    age_min: Int32 | None = None
    age_max: Int32 | None = None
    glasses: Presence = Presence.UNKNOWN
    mask: Presence = Presence.UNKNOWN
    embedding: Float32Vector = None
    appeared_at: UtcMillis | None = None
    disappeared_at: UtcMillis | None = None
    # Set by the deduplication stage (schema v2).
    late: bool = False
    absorbed_event_ids: list[str] = Field(default_factory=list)


class Alarm(_Event):
    kind: Literal["alarm"] = "alarm"
    alarm_type: AlarmType = AlarmType.OTHER
    state: AlarmState = AlarmState.PULSE
    vendor_event_type: str
    rule_name: str | None = None
    target_type: str | None = None
    # Set by the deduplication stage (schema v2).
    late: bool = False
    absorbed_event_ids: list[str] = Field(default_factory=list)


class _BytesRecord(_Record):
    # Bytes travel as base64 in JSON (CLI output, examples): payloads are arbitrary binary.
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )


class MessageHeader(_BytesRecord):
    key: str
    value: bytes | None = None


class DeadLetter(_BytesRecord):
    kind: Literal["dead_letter"] = "dead_letter"
    dead_letter_id: str
    stage: str
    reason: str
    source: str | None = None
    topic: str | None = None
    partition: Int32 | None = None
    offset: int | None = None
    key: bytes | None = None
    payload: bytes
    headers: list[MessageHeader] = Field(default_factory=list)
    failed_at: UtcMillis


CanonicalEvent = PlateCapture | FaceCapture | Alarm


_MISSING = object()


def _template(model: type[BaseModel]) -> tuple[dict[str, object], dict[str, object]]:
    """All fields in declared order (defaults filled in) and the fields built by a factory."""
    template: dict[str, object] = {}
    factories: dict[str, object] = {}
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            factories[name] = info.default_factory
            template[name] = _MISSING
        else:
            template[name] = _MISSING if info.is_required() else info.default
    return template, factories


_TEMPLATES: dict[type[BaseModel], tuple[dict[str, object], dict[str, object]]] = {
    cls: _template(cls)
    for cls in (
        GeoPoint,
        BoundingBox,
        ImageRef,
        PlateCapture,
        FaceCapture,
        Alarm,
        MessageHeader,
        DeadLetter,
    )
}
M = TypeVar("M", bound=BaseModel)


def construct(model: type[M], values: dict[str, object]) -> M:
    """Build a model from values already of the right types, without validating them again.

    The hot path (adapters, decoding) builds events this way; ``model_construct`` costs several
    times more. Callers guarantee the types: the adapter tests validate everything they build.
    """
    known = _TEMPLATES.get(model)
    if known is None:  # a model of another package (alerts, watchlist entries)
        known = _TEMPLATES[model] = _template(model)
    template, factories = known
    data = dict(template)
    data.update(values)  # keeps the declared field order
    for name, factory in factories.items():
        if data[name] is _MISSING:
            data[name] = factory()  # type: ignore[operator]
    obj = object.__new__(model)
    object.__setattr__(obj, "__dict__", data)
    # BaseModel's slots, set through their descriptors: cheaper than object.__setattr__.
    _set_fields_set(obj, set(values))
    _set_extra(obj, None)
    _set_private(obj, None)
    if model in _EVENT_MODELS:
        _wire_slot.__set__(obj, None)  # so that asking for its bytes raises nothing
    return obj


_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


_wire_slot = _Event.__dict__["_wire"]
# The event models: a set, because an isinstance check costs more on the hot path.
_EVENT_MODELS: frozenset[type[BaseModel]] = frozenset(_Event.__subclasses__())


def wire_bytes(event: BaseModel) -> bytes | None:
    """The bytes ``event`` was decoded from (see ``_Event._wire``), or None."""
    if type(event) not in _EVENT_MODELS:
        return None
    try:
        data: bytes | None = _wire_slot.__get__(event)
    except AttributeError:  # built without construct() or a copy (validated): not set
        return None
    return data


def keep_wire_bytes(event: BaseModel, data: bytes) -> None:
    """Remember the newest-schema bytes ``event`` was decoded from."""
    if isinstance(event, _Event):
        _wire_slot.__set__(event, data)
