"""What all records of one structure notification share: device, channel, time, ids, images.

Records link images by ``Small/Large/PlatePicAttachIndex``; each image is decoded and hashed
once per notification. The only object of a notification gets all its images when it names no
image index. Event ids hash (device, ``Seq``, ``RelatedID``, ``TimeStamp``, object kind, object
id or list position).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from streams.canonical import ImageKind, ImageRef
from streams.vendors.base import AdapterError, Context, RawPayload
from streams.vendors.common import as_str, received_fallback
from streams.vendors.uniview.identity import Found, device_id, epoch_time
from streams.vendors.uniview.images import image_kind, image_ref
from streams.vendors.uniview.values import channel, code, items

ATTACH = ("LargePicAttachIndex", "SmallPicAttachIndex", "PlatePicAttachIndex")


@dataclass(slots=True)
class Notification:
    device_id: str
    channel: int | None
    zone: ZoneInfo
    seq: str
    related: str
    stamp: str
    stamp_time: Found | None
    stamp_error: str | None
    received_at: datetime
    images: dict[int, Mapping[str, Any]]
    cache: dict[tuple[int, ImageKind], ImageRef | None]

    def time(self) -> Found | None:
        """The notification ``TimeStamp``; malformed rejects the record that needs it."""
        if self.stamp_error is not None:
            raise AdapterError(self.stamp_error)
        return self.stamp_time

    def key(
        self, kind: str, record: Mapping[str, Any], name: str, position: int
    ) -> tuple[str, ...]:
        """What a record's event id hashes; ``name`` is the record's id field."""
        object_id = as_str(record.get(name))
        return (
            self.device_id,
            self.seq,
            self.related,
            self.stamp,
            kind,
            object_id if object_id is not None else f"#{position}",
        )

    def images_of(
        self, record: Mapping[str, Any], own_kind: ImageKind, total: int
    ) -> list[ImageRef]:
        """The images a record links (all of them for the only record that links none)."""
        indexes = [i for i in (code(record.get(name)) for name in ATTACH) if i is not None]
        if not indexes and total == 1:
            indexes = list(self.images)
        refs: list[ImageRef] = []
        for index in dict.fromkeys(indexes):
            ref = self._image(index, own_kind)
            if ref is not None:
                refs.append(ref)
        return refs

    def _image(self, index: int, own_kind: ImageKind) -> ImageRef | None:
        image = self.images.get(index)
        if image is None:
            return None
        kind = image_kind(image, own_kind)
        key = (index, kind)
        if key not in self.cache:  # decode and hash each inline image once per notification
            self.cache[key] = image_ref(image, kind)
        return self.cache[key]


def read_notification(
    document: Mapping[str, Any], structure: Mapping[str, Any], raw: RawPayload, ctx: Context
) -> Notification:
    number = channel(document.get("SrcID"), "SrcID")
    device = device_id((document,), raw, number)
    images: dict[int, Mapping[str, Any]] = {}
    for image in items(structure.get("ImageInfoList")):
        if isinstance(image, dict):
            index = code(image.get("Index"))
            if index is not None:
                images.setdefault(index, image)
    stamp = document.get("TimeStamp")
    stamp_time: Found | None = None
    stamp_error: str | None = None
    try:
        stamp_time = epoch_time(stamp, raw)
    except AdapterError as exc:  # only fatal for records without a time of their own
        stamp_error = str(exc)
    return Notification(
        device_id=device,
        channel=number,
        zone=ctx.zone_for(device),
        seq=as_str(document.get("Seq")) or "",
        related=as_str(document.get("RelatedID")) or "",
        stamp=as_str(stamp) or "",
        stamp_time=stamp_time,
        stamp_error=stamp_error,
        received_at=received_fallback(raw.received_at),
        images=images,
        cache={},
    )
