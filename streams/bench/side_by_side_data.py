"""The one data set of ``streams bench side-by-side``: raw vendor payloads, made once, read by
every implementation.

Bodies are the adapters' test fixtures (``streams.bench.normalize.load_payloads``), so parsing
costs what real pushes cost. Each copy of a fixture rewrites text of the body in place:

- every time literal (ISO 8601 with or without zone, compact ``YYYYMMDDhhmmss[fff]``, epoch
  seconds or milliseconds) is shifted by the copy's whole number of seconds;
- the record ids its events carry (``source_event_id``, face track ids) get the copy's number;
- the device's identity in the body (GB/T 28181 code, MAC, IP address, serial) and the Kafka
  key (the gateway's device hint) name one of the fixture's own 1,000 devices.

A fixture is used only when two copies normalize to the same events as the fixture, moved by
exactly their shift, under ids and devices of their own (``templates`` says which are left out).

The stream runs at ``EVENT_RATE`` payloads per second of event time, fixtures in turn, each copy
at the fixture's next device: a device sees the same fixture again only after 1,000 of its copies,
long after every dedup window, so every copy is one capture. Duplicates are planted on purpose:

- re-pushes: the same bytes again, a moment later (exact duplicates, same ids);
- second snapshots: the same fixture at the same device one second later under new record ids
  (a pass read twice; where the ids hold the time only, an exact duplicate).

Kafka timestamps (the events' received time) follow capture time by 300 ms, so nothing is late,
and the messages are produced in received order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.bench.normalize import FIXTURES, Payload, load_payloads
from streams.canonical import CanonicalEvent, TimeProvenance
from streams.settings import Settings
from streams.vendors import normalize
from streams.vendors.base import Context, RawPayload

EVENT_RATE = 400.0  # payloads per second of event time: a mid-sized city at its peak
DEVICES_PER_FIXTURE = 1_000
RECEIVED_DELAY = timedelta(milliseconds=300)
REPUSH_SHARE = 0.07
SNAPSHOT_SHARE = 0.10

_ISO = re.compile(
    rb"(?<![0-9])((?:19|20)[0-9]{2})-([01][0-9])-([0-3][0-9])([T ])"
    rb"([0-2][0-9]):([0-5][0-9]):([0-6][0-9])"
)
_COMPACT = re.compile(rb"(?<![0-9])((?:19|20)[0-9]{12})((?:[0-9]{3})?)(?![0-9])")
_EPOCH = re.compile(rb"(?<![0-9.])(1[0-9]{9})((?:[0-9]{3})?)(?![0-9])")
_EPOCH_RANGE = range(1_000_000_000, 2_000_000_000)  # 2001-2033: numbers that are times
# Fields a device's identity is read from (JSON "name": "value" or XML <name>value<).
_DEVICE_FIELDS = (
    "deviceID|DeviceID|DevID|DeviceId|deviceId|deviceUUID|SerialNumber|SerialNo|DeviceSerial"
    "|serialNumber|serialNo|macAddress|ipAddress"
)
_DEVICE_VALUE = re.compile(
    rb'(?:"(?:'
    + _DEVICE_FIELDS.encode()
    + rb')"\s*:\s*"|<(?:\w+:)?(?:'
    + _DEVICE_FIELDS.encode()
    + rb")>)([^\"<]+)[\"<]"
)
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}")


@dataclass(frozen=True)
class _Time:
    """A time literal: a wall time (``form`` its strftime format) or epoch seconds (no
    ``form``), and digits after it that stay (milliseconds)."""

    at: datetime | int
    form: str
    tail: bytes

    def render(self, seconds: int) -> bytes:
        if isinstance(self.at, int):
            return str(self.at + seconds).encode() + self.tail
        return (self.at + timedelta(seconds=seconds)).strftime(self.form).encode() + self.tail


def _times(text: bytes) -> list[tuple[int, int, _Time]]:
    """The time literals of ``text`` as (start, end, literal); the three forms never overlap."""
    found: list[tuple[int, int, _Time]] = []
    for match in _ISO.finditer(text):
        sep = match.group(4).decode()
        try:  # a wall time: its zone text, if any, stays as it is
            at = datetime.strptime(  # noqa: DTZ007
                match.group(0).decode().replace("T", " "), "%Y-%m-%d %H:%M:%S"
            )
        except ValueError:
            continue
        found.append((match.start(), match.end(), _Time(at, f"%Y-%m-%d{sep}%H:%M:%S", b"")))
    for match in _COMPACT.finditer(text):
        try:
            at = datetime.strptime(match.group(1).decode(), "%Y%m%d%H%M%S")  # noqa: DTZ007
        except ValueError:
            continue
        found.append((match.start(), match.end(), _Time(at, "%Y%m%d%H%M%S", match.group(2))))
    for match in _EPOCH.finditer(text):
        value = int(match.group(1))
        if value in _EPOCH_RANGE:
            found.append((match.start(), match.end(), _Time(value, "", match.group(2))))
    return sorted(found, key=lambda item: item[0])


def shift_times(text: bytes, seconds: int) -> bytes:
    """Every time literal of ``text`` moved by ``seconds``; fractions and zones unchanged."""
    out: list[bytes] = []
    at = 0
    for start, end, literal in _times(text):
        out += [text[at:start], literal.render(seconds)]
        at = end
    out.append(text[at:])
    return b"".join(out)


def _copy_id(record_id: str, copy: int) -> str:
    """``record_id`` with the copy's number in its last eight characters (appended when
    shorter)."""
    digits = f"{copy:08d}"
    return record_id[:-8] + digits if len(record_id) > 8 else record_id + digits


def _device_token(token: str, device: int) -> str:
    """A device identity of the same form as ``token`` for device number ``device``."""
    if _IPV4.fullmatch(token):
        return f"10.{device >> 16 & 255}.{device >> 8 & 255}.{device & 255}"
    mac = _MAC.fullmatch(token)
    if mac:
        tail = f"{device & 0xFFFFFF:06X}" if token.isupper() else f"{device & 0xFFFFFF:06x}"
        return token[:9] + mac.group(1).join((tail[:2], tail[2:4], tail[4:]))
    digits = f"{device:06d}"
    return token[:-6] + digits if len(token) > 6 else token + digits


def device_key(device: int) -> bytes:
    """The Kafka key (the gateway's device hint) of device number ``device``: a GB/T 28181
    code."""
    return f"33010200001310{device:06d}".encode()


@dataclass(frozen=True)
class _Id:
    text: str
    device: bool  # a device identity (else a record id)


@dataclass(frozen=True)
class Template:
    """A fixture cut into fixed pieces and the slots between them a copy rewrites: time
    literals, record ids and device identities (whose own times move too)."""

    payload: Payload
    first_captured: datetime  # earliest capture time of its events (UTC)
    last_captured: datetime
    events: int
    pieces: tuple[bytes, ...]
    slots: tuple[_Time | _Id, ...]

    def body(self, shift_seconds: int, copy: int, device: int) -> bytes:
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            if isinstance(slot, _Id):
                text = (
                    _device_token(slot.text, device) if slot.device else _copy_id(slot.text, copy)
                )
                out.append(shift_times(text.encode(), shift_seconds))
            else:
                out.append(slot.render(shift_seconds))
            out.append(piece)
        return b"".join(out)


def _cut(body: bytes, ids: Sequence[_Id]) -> tuple[tuple[bytes, ...], tuple[_Time | _Id, ...]]:
    spans: list[tuple[int, int, _Time | _Id]] = []
    by_text = {i.text.encode(): i for i in ids}
    if by_text:
        alternatives = b"|".join(re.escape(t) for t in sorted(by_text, key=len, reverse=True))
        tokens = re.compile(rb"(?<![0-9A-Za-z.:-])(?:" + alternatives + rb")(?![0-9A-Za-z:-])")
        spans += [(m.start(), m.end(), by_text[m.group(0)]) for m in tokens.finditer(body)]
    taken = [(start, end) for start, end, _slot in spans]
    spans += [
        (start, end, literal)
        for start, end, literal in _times(body)
        if not any(start < b and a < end for a, b in taken)
    ]
    spans.sort(key=lambda item: item[0])
    pieces: list[bytes] = []
    at = 0
    for start, end, _slot in spans:
        pieces.append(body[at:start])
        at = end
    pieces.append(body[at:])
    return tuple(pieces), tuple(slot for _s, _e, slot in spans)


def _events(payload: Payload, body: bytes, key: bytes, received: datetime) -> list[Any]:
    raw = RawPayload(payload.source, body, received, key.decode(), payload.content_type)
    return list(normalize(raw, Context()).events)


_IDS = {"event_id", "source_event_id", "track_id", "pass_group", "device_id", "position"}
_FREE = {*_IDS, "received_at", "images", "attributes"}


def _same_but_moved(copy: CanonicalEvent, original: CanonicalEvent, shift: timedelta) -> bool:
    """A faithful copy: ids and device aside, equal fields, and every time moved by ``shift``
    (received_at is the receipt's, images and leftover attributes may hold rewritten ids)."""
    moved = copy.model_dump(exclude=_FREE)
    fixed = original.model_dump(exclude=_FREE)
    if moved.keys() != fixed.keys():
        return False
    for name, value in fixed.items():
        if isinstance(value, datetime):
            value = value + shift
        if moved[name] != value:
            return False
    return True


def make_template(payload: Payload) -> Template | str:
    """The template of a fixture, or why it cannot be copied faithfully."""
    received = datetime(2030, 1, 1, tzinfo=UTC)
    original = _events(payload, payload.body, device_key(0), received)
    if not original:
        return "no events"
    if any(e.time_source is TimeProvenance.RECEIVED for e in original):
        return "capture time taken from the receipt"
    text = payload.body.decode("latin-1")
    ids = {
        _Id(value, device=False)
        for event in original
        for value in (event.source_event_id, getattr(event, "track_id", None))
        if value and value.encode().decode("latin-1") in text
    }
    ids |= {_Id(m.group(1).decode("latin-1"), True) for m in _DEVICE_VALUE.finditer(payload.body)}
    captured = [e.captured_at for e in original]
    pieces, slots = _cut(payload.body, sorted(ids, key=lambda i: i.text))
    template = Template(payload, min(captured), max(captured), len(original), pieces, slots)
    seen = {e.event_id for e in original}
    devices: set[str] = set()
    for copy, shift in ((1, 3_600), (2, 7_200)):
        body = template.body(shift, copy, device=copy)
        events = _events(payload, body, device_key(copy), received)
        if len(events) != len(original) or not all(
            _same_but_moved(e, o, timedelta(seconds=shift))
            for e, o in zip(events, original, strict=True)
        ):
            return "a copy does not normalize to the same events, moved in time"
        ids_now = {e.event_id for e in events}
        if ids_now & seen or len(ids_now) != len(events):
            return "copies share event ids"
        seen |= ids_now
        devices.add(events[0].device_id)
    if len(devices) < 2:
        return "its device cannot be varied"
    return template


def templates(
    payloads: dict[str, list[Payload]] | None = None,
) -> tuple[list[Template], dict[str, str]]:
    """Templates of the usable fixtures, and the fixtures left out with the reason."""
    found: list[Template] = []
    left_out: dict[str, str] = {}
    for source, items in (payloads or load_payloads()).items():
        for index, payload in enumerate(items):
            made = make_template(payload)
            if isinstance(made, Template):
                found.append(made)
            else:
                left_out[_fixture_name(payload) or f"{source}#{index}"] = made
    return found, left_out


def _fixture_name(payload: Payload) -> str | None:
    """``source/file`` of a fixture payload, when it is one."""
    folder = FIXTURES / payload.source
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.read_bytes() == payload.body:
                return f"{payload.source}/{path.name}"
    return None


@dataclass(frozen=True)
class RawMessage:
    source: str
    key: bytes
    value: bytes
    content_type: str | None
    timestamp_ms: int  # the Kafka timestamp: the events' received time


@dataclass
class Dataset:
    messages: list[RawMessage]
    events: int  # canonical events the messages normalize to
    repushes: int
    snapshots: int
    fixtures: int
    devices: int
    left_out: dict[str, str] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


def make_dataset(
    count: int, seed: int = 17, found: tuple[list[Template], dict[str, str]] | None = None
) -> Dataset:
    """``count`` raw payloads (planted duplicates included), in received order."""
    usable, left_out = found or templates()
    if not usable:
        raise RuntimeError("no fixture can be copied for the benchmark")
    rng = random.Random(seed)  # noqa: S311 (synthetic traffic, not secrets)
    order = list(range(len(usable)))
    rng.shuffle(order)
    # Capture times end an hour before now: every window closes as soon as input runs dry.
    span = timedelta(seconds=count / EVENT_RATE)
    start = datetime.now(UTC).replace(microsecond=0) - span - timedelta(hours=1)
    copies = [0] * len(usable)
    messages: list[tuple[int, RawMessage]] = []
    events = repushes = snapshots = 0
    sources: dict[str, int] = {}
    devices: set[int] = set()

    def add(template: Template, body: bytes, key: bytes, received: datetime) -> None:
        nonlocal events
        millis = int(received.timestamp() * 1000)
        source = template.payload.source
        messages.append(
            (millis, RawMessage(source, key, body, template.payload.content_type, millis))
        )
        events += template.events
        sources[source] = sources.get(source, 0) + 1

    turn = serial = 0
    while len(messages) < count:
        index = order[turn % len(order)]
        template = usable[index]
        at = start + timedelta(seconds=turn / EVENT_RATE)
        turn += 1
        # Each fixture its own devices, taken in turn: a device sees it again much later.
        device = index * DEVICES_PER_FIXTURE + copies[index] % DEVICES_PER_FIXTURE
        copies[index] += 1
        devices.add(device)
        shift = round((at - template.first_captured).total_seconds())
        serial += 1
        key = device_key(device)
        received = template.last_captured + timedelta(seconds=shift) + RECEIVED_DELAY
        body = template.body(shift, serial, device)
        add(template, body, key, received)
        roll = rng.random()
        if roll < REPUSH_SHARE and len(messages) < count:
            add(template, body, key, received + timedelta(milliseconds=rng.randint(200, 2_000)))
            repushes += 1
        elif roll < REPUSH_SHARE + SNAPSHOT_SHARE and len(messages) < count:
            # A later snapshot of the same pass: new record ids, one second on.
            serial += 1
            second = template.body(shift + 1, serial, device)
            add(template, second, key, received + timedelta(seconds=1))
            snapshots += 1
    messages.sort(key=lambda item: item[0])
    return Dataset(
        [m for _t, m in messages],
        events,
        repushes,
        snapshots,
        len(usable),
        len(devices),
        left_out,
        dict(sorted(sources.items())),
    )


def produce(settings: Settings, dataset: Dataset, topic_of: Callable[[str], str]) -> None:
    """The data set onto the raw topics (``topic_of(source)``), acknowledged by the broker."""
    from confluent_kafka import Producer

    from streams.kafka_admin import LIBRDKAFKA_LOGGER

    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "linger.ms": 20,
            "enable.idempotence": True,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    for message in dataset.messages:
        headers: list[tuple[str, str | bytes | None]] | None = (
            [("content-type", message.content_type.encode())] if message.content_type else None
        )
        while True:
            try:
                producer.produce(
                    topic_of(message.source),
                    message.value,
                    message.key,
                    headers=headers,
                    timestamp=message.timestamp_ms,
                )
                break
            except BufferError:
                producer.poll(0.1)
    remaining = producer.flush(120)
    if remaining:
        raise RuntimeError(f"{remaining} benchmark payloads were not acknowledged by the broker")
