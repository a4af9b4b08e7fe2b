"""Raw vendor payloads, exactly as each kind of device (or platform) pushes them.

One builder per capture kind dispatches on the camera's vendor; :func:`malformed` makes the
broken bodies real feeds also carry (cut off in transit, or garbage).
"""

from __future__ import annotations

import random

from loadtest.bodies import dahua, gat1400, hikvision, uniview
from loadtest.bodies.shots import AlarmShot, Body, FaceShot, PlateShot
from loadtest.city import DAHUA, GAT1400, HIKVISION, UNIVIEW

__all__ = [
    "AlarmShot",
    "Body",
    "FaceShot",
    "PlateShot",
    "alarm_body",
    "cascade_body",
    "face_body",
    "malformed",
    "plate_body",
]


def plate_body(shot: PlateShot, number: int) -> Body:
    """``number``: unique among the device's GA/T 1400 records (its record id)."""
    source = shot.camera.source
    if source == HIKVISION:
        return hikvision.anpr(shot)
    if source == DAHUA:
        return dahua.traffic(shot)
    if source == UNIVIEW:
        return uniview.vehicle(shot)
    return gat1400.motor_vehicles(shot, number)


def cascade_body(shot: PlateShot, number: int) -> Body:
    """The platform cascade's copy of a pass's best read (``shot``). For a GA/T 1400 camera,
    ``number`` is its own record's; else a number unique among the platform's records."""
    return gat1400.cascade(shot, number, own=shot.camera.source == GAT1400)


def face_body(shot: FaceShot, number: int) -> Body:
    source = shot.camera.source
    if source == HIKVISION:
        return hikvision.face(shot)
    if source == DAHUA:
        return dahua.face(shot)
    if source == UNIVIEW:
        return uniview.face(shot)
    return gat1400.faces(shot, number)


def alarm_body(shot: AlarmShot) -> Body:
    source = shot.camera.source
    if source == HIKVISION:
        return hikvision.alarm(shot)
    if source == DAHUA:
        return dahua.alarm(shot)
    if source == UNIVIEW:
        return uniview.alarm(shot)
    raise ValueError(f"{source} devices send no alarms here")


def malformed(rng: random.Random, shot: PlateShot) -> Body:
    """A body no adapter can use: a payload of the shot's camera cut off part-way (a dropped
    connection), or bytes that are no payload at all."""
    camera = shot.camera
    if rng.random() < 0.3:
        # High bytes first: neither XML, JSON, multipart nor a Dahua part.
        junk = bytes([rng.randrange(0x80, 0x100)]) + rng.randbytes(rng.randint(40, 400))
        content_type = "text/plain" if camera.source == DAHUA else "application/octet-stream"
        return Body(junk, content_type, binary=True)
    if camera.source == HIKVISION:
        whole = Body(hikvision.anpr_xml(shot).encode(), 'application/xml; charset="UTF-8"')
        guard = 60
    else:
        whole = plate_body(shot, rng.randrange(100000))
        # Dahua: cut inside the JSON, else the part would still read as a (data-less) alarm.
        guard = whole.data.find(b"data=") + 20 if camera.source == DAHUA else 20
    cut = rng.randint(guard, len(whole.data) - 10)
    data = whole.data[:cut]
    while True:  # never split a UTF-8 character: the cut is in transit, text stays text
        try:
            data.decode("utf-8")
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return Body(data, whole.content_type)
