"""A small city morning with the real world's mess, and what the rules must make of it.

Used by the offline tests and the broker tests (which compare the worker with the offline run).
Devices sit along one road in Shanghai about 2.2 km apart, plus one in Nanjing (270 km away).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    CanonicalEvent,
    FaceCapture,
    GeoPoint,
    PlateCapture,
    TimeProvenance,
)
from streams.correlate.records import WatchlistEntry
from streams.correlate.watchlist import read_watchlist_file

ROAD = [f"3101010000132000000{i}" for i in range(1, 7)]  # D1..D6
FAR = "32010100001320000009"
POSITIONS = {device: GeoPoint(lat=31.20 + 0.02 * i, lon=121.47) for i, device in enumerate(ROAD)}
POSITIONS[FAR] = GeoPoint(lat=32.06, lon=118.80)

WATCHED = "沪D44444"
CONVOY_TARGET = "沪F66666"
WATCHLIST_FILE = f"# plates of case 2026-117\n{WATCHED},1\n{CONVOY_TARGET},2\n沪K1*\n"


@dataclass
class Scenario:
    events: list[CanonicalEvent] = field(default_factory=list)
    # What must come out (besides the exact figures the tests check).
    repushed: list[str] = field(default_factory=list)
    late_ids: list[str] = field(default_factory=list)
    first_ticks: list[str] = field(default_factory=list)
    ticks: list[str] = field(default_factory=list)  # the last round


def watchlist_entries(now: datetime) -> list[WatchlistEntry]:
    return read_watchlist_file(WATCHLIST_FILE, created_at=now)


def build(t0: datetime) -> Scenario:
    s = Scenario()
    n = 0

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    def plate(
        device: str,
        seconds: float,
        number: str | None,
        confidence: float = 0.9,
        *,
        source: str = "hikvision-isapi",
        received: float | None = None,
    ) -> PlateCapture:
        nonlocal n
        n += 1
        event = PlateCapture(
            event_id=f"p{n:03d}-{device[-2:]}",
            source=source,
            device_id=device,
            captured_at=at(seconds),
            received_at=at(seconds + 0.5 if received is None else received),
            time_source=TimeProvenance.SOURCE_OFFSET,
            position=POSITIONS[device],
            confidence=confidence,
            plate_number=number,
            plate_raw=number,
        )
        s.events.append(event)
        return event

    def face(device: str, seconds: float, track: str, quality: float) -> FaceCapture:
        nonlocal n
        n += 1
        event = FaceCapture(
            event_id=f"f{n:03d}-{device[-2:]}",
            source="dahua-cgi",
            device_id=device,
            captured_at=at(seconds),
            received_at=at(seconds + 0.5),
            time_source=TimeProvenance.SOURCE_OFFSET,
            position=POSITIONS[device],
            track_id=track,
            quality=quality,
        )
        s.events.append(event)
        return event

    d1, d2, d3, d4, d5, d6 = ROAD
    # A multi-snapshot pass, and a vendor re-push of its best read.
    plate(d1, 0.0, "沪A11111", 0.70)
    best = plate(d1, 0.8, "沪A11111", 0.95)
    plate(d1, 1.6, "沪A11111", 0.80)
    s.events.append(best)
    s.repushed.append(best.event_id)
    # The same pass from the camera and from the GA/T 1400 platform cascade.
    plate(d2, 10.0, "沪B22222", 0.90)
    plate(d2, 10.4, "沪B22222", 0.90, source="gat1400")
    # One OCR confusion apart (8/B): one pass.
    plate(d3, 20.0, "沪C33338", 0.90)
    plate(d3, 21.0, "沪C3333B", 0.60)
    # A watchlisted plate, read twice in one pass: one alert.
    plate(d4, 30.0, WATCHED, 0.90)
    plate(d4, 30.9, WATCHED, 0.93)
    # A cloned plate: Shanghai, then Nanjing a minute later.
    plate(d1, 40.0, "沪E55555")
    plate(FAR, 100.0, "沪E55555")
    # A convoy: a watchlisted plate and another seconds apart at three devices; a third car
    # joins at one only.
    for device, start in ((d1, 200.0), (d2, 320.0), (d3, 440.0)):
        plate(device, start, CONVOY_TARGET)
        plate(device, start + 5.0, "沪G77777")
    plate(d2, 330.0, "沪L12121")
    # A driver: a face track (two updates) and a plate at one checkpoint.
    face(d5, 500.0, "track-1", 0.60)
    face(d5, 501.5, "track-1", 0.85)
    plate(d5, 502.0, "沪H88888")
    # An intrusion alarm; a car right there and a face 2.2 km away.
    alarm = Alarm(
        event_id="a001-06",
        source="hikvision-isapi",
        device_id=d6,
        captured_at=at(600.0),
        received_at=at(600.5),
        time_source=TimeProvenance.SOURCE_OFFSET,
        position=POSITIONS[d6],
        alarm_type=AlarmType.INTRUSION,
        state=AlarmState.START,
        vendor_event_type="fielddetection",
    )
    s.events.append(alarm)
    plate(d6, 610.0, "沪J99999")
    face(d5, 590.0, "track-2", 0.7)
    # A camera flushes an hour of buffered captures (late), one of them watchlisted, and
    # pushes one of them twice.
    for i, number in enumerate(["沪M00001", "沪M00002", WATCHED, "沪M00004"]):
        late = plate(d3, -3600.0 + 60 * i, number, received=700.0 + i)
        s.late_ids.append(late.event_id)
    s.events.append(s.events[-1])
    s.repushed.append(s.events[-1].event_id)
    # Ticks far ahead at every device: they move stream time in every partition so each
    # window above closes in the worker too (the last round stays open there).
    for round_, seconds in enumerate((3600.0, 7200.0)):
        for i, device in enumerate([*ROAD, FAR]):
            tick = plate(device, seconds + i, f"沪Z{round_}{i:04d}")
            (s.ticks if round_ else s.first_ticks).append(tick.event_id)
    return s
