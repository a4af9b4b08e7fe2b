"""Which document fields become event attributes, and how.

Unmodelled scalars are kept as strings: nested groups under dotted keys (two levels at most),
at most 128 entries, values up to 256 characters, vendor ``unknown`` dropped. Never image data
or vectors, nor the ``race`` estimate, nor a watch-list candidate's personal data (name, ID
number, birth date).
"""

from __future__ import annotations

from streams.vendors.common import as_str
from streams.vendors.hikvision.values import UNKNOWN_TEXT, Record

MAX_ATTRIBUTES = 128
MAX_VALUE = 256
_MAX_KEY = 128


def names(text: str) -> frozenset[str]:
    """Field names from a space-separated list."""
    return frozenset(text.split())


# Never copied into attributes: image payloads, vectors, personal data, sensitive estimates.
NEVER = names(
    "race picData pictureData Data base64 modelData feature featureVector faceFeature embedding"
    " certificateNumber bornTime name human_data"
)
# Alert-level fields the models hold or that are read elsewhere. Every skip set includes NEVER.
ENVELOPE = NEVER | names(
    "channelID dynChannelID dateTime eventType eventState UUID uuid uid deviceID targetType"
    " DeviceGPSInfo DetectionRegionList DurationList bkgUrl facePicURL ANPR VehicleGATInfo"
    " faceCapture FaceCapture alarmResult"
)


def flatten(
    record: Record, skip: frozenset[str], prefix: str, out: dict[str, str], depth: int = 0
) -> dict[str, str]:
    """Scalar leaves as strings under dotted keys into ``out``; lists and deep groups are left
    out. Returns ``out``.

    ``skip`` must include :data:`NEVER`.
    """
    for key, value in record.items():
        if key in skip:
            continue
        cls = value.__class__
        if cls is str:
            text = value.strip()
        elif cls is dict:
            if depth < 2:
                flatten(value, NEVER, f"{prefix}{key}.", out, depth + 1)
            continue
        elif value is None or cls is list:
            continue
        elif cls is bool:
            text = "true" if value else "false"
        else:
            text = as_str(value) or ""
        if not text or len(text) > MAX_VALUE or text in UNKNOWN_TEXT or len(key) > _MAX_KEY:
            continue
        if len(out) >= MAX_ATTRIBUTES:
            break
        out[f"{prefix}{key}" if prefix else key] = text
    return out
