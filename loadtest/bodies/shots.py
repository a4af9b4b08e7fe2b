"""What a payload builder is given (one capture as its device saw it) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from loadtest.city import Camera
from loadtest.traffic import Vehicle

# Every camera's zone is Asia/Shanghai: UTC+8 all year, so a fixed offset is exact.
SHANGHAI = timezone(timedelta(hours=8))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Body:
    data: bytes
    content_type: str
    binary: bool = False  # not UTF-8 text: written base64


@dataclass(frozen=True, slots=True)
class PlateShot:
    """One read of a vehicle pass."""

    camera: Camera
    when: datetime  # capture time by the device's clock (UTC, whole milliseconds)
    plate: str | None  # as read; None: unreadable
    confidence: int  # 0..100
    lane: int
    speed: int
    vehicle: Vehicle
    group: int  # the pass's number at its device: all reads of a pass share it
    index: int  # 1-based position of this read in the pass
    count: int  # reads of the pass
    sequence: int  # the device's running event number
    token: int  # random bits of the pass (its UUID), shared by all its reads
    retransmission: bool = False  # sent from the buffer after an outage


@dataclass(frozen=True, slots=True)
class FaceShot:
    """One update of a face track."""

    camera: Camera
    when: datetime
    appeared: datetime  # when the track started
    track: int  # the vendor's track id at this device
    last: bool  # the closing update of the track
    gender: str
    age: int
    glasses: bool
    mask: bool
    sequence: int
    token: int
    retransmission: bool = False


@dataclass(frozen=True, slots=True)
class AlarmShot:
    camera: Camera
    when: datetime
    alarm_type: str  # intrusion, line_crossing, region_entrance, motion, tamper
    rule: str
    sequence: int
    token: int
    retransmission: bool = False


def local(when: datetime) -> datetime:
    return when.astimezone(SHANGHAI)


def millis(when: datetime) -> int:
    return when.microsecond // 1000


def compact(when: datetime, with_millis: bool = False) -> str:
    """``yyyyMMddHHmmss[SSS]`` of a datetime in its own zone."""
    text = when.strftime("%Y%m%d%H%M%S")
    return f"{text}{millis(when):03d}" if with_millis else text


def epoch_seconds(when: datetime) -> int:
    return (when - EPOCH) // timedelta(seconds=1)


def hex_token(token: int, digits: int) -> str:
    return f"{token & ((1 << (4 * digits)) - 1):0{digits}x}"
