"""One ``Frame`` of the scene description: what its captures share, and reading its objects."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from streams.canonical import ImageKind, ImageRef, TimeProvenance
from streams.vendors.base import Context, RawPayload
from streams.vendors.common import event_id, inline_image, url_image
from streams.vendors.onvif.boxes import Transform
from streams.vendors.onvif.envelope import SOURCE, envelope
from streams.vendors.onvif.values import element_text, likelihood

MAX_ATTRIBUTE = 256


@dataclass(slots=True)
class FrameContext:
    """What every capture of one frame shares."""

    element: ET.Element
    device_id: str
    token: str | None
    channel: int | None
    module: str | None
    captured_at: datetime
    provenance: TimeProvenance
    transform: Transform
    raw: RawPayload
    ctx: Context
    _objects: dict[str, ET.Element] | None = None
    _scene: list[ImageRef] | None = None

    def parent(self, obj: ET.Element) -> ET.Element | None:
        """The object of this frame named by ``obj``'s ``Parent``."""
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
            ref = url_image(element_text(self.element.find("SceneImageRef")), ImageKind.SCENE)
            if ref is not None:
                self._scene.append(ref)
            data = element_text(self.element.find("SceneImage"))
            if data is not None:
                self._scene.append(inline_image(data, ImageKind.SCENE))
        return self._scene

    def common(self, obj: ET.Element, index: int, kind: str) -> dict[str, object]:
        """Id and envelope of a capture: one object (UUID, ObjectId or position) in this frame."""
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
            **envelope(
                self.device_id,
                self.channel,
                self.captured_at,
                self.provenance,
                self.raw,
                self.ctx,
            ),
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
        return {k: v for k, v in found if v is not None and 0 < len(v) <= MAX_ATTRIBUTE}


def object_class(appearance: ET.Element) -> tuple[str | None, float | None]:
    """The most likely class (``Type`` or the older ``ClassCandidate``) and its likelihood."""
    descriptor = appearance.find("Class")
    if descriptor is None:
        return None, None
    best: tuple[str | None, float | None] = (None, None)
    for child in descriptor:
        if child.tag == "Type":
            name, score = element_text(child), likelihood(child.get("Likelihood"))
        elif child.tag == "ClassCandidate":
            name = element_text(child.find("Type"))
            score = likelihood(element_text(child.find("Likelihood")))
        else:
            continue
        if name is None:
            continue
        if best[0] is None or (score or 0.0) > (best[1] or 0.0):
            best = (name, score)
    return best


def appearance_part(appearance: ET.Element, tag: str) -> ET.Element | None:
    """A child of the Appearance, or of its ``Extension`` where older devices put it."""
    found = appearance.find(tag)
    if found is None:
        extension = appearance.find("Extension")
        if extension is not None:
            found = extension.find(tag)
    return found


def appearance_images(appearance: ET.Element, kind: ImageKind) -> list[ImageRef]:
    """The object's ``ImageRef`` (URL) and ``Image`` (inline, hashed)."""
    images: list[ImageRef] = []
    ref = url_image(element_text(appearance.find("ImageRef")), kind)
    if ref is not None:
        images.append(ref)
    data = element_text(appearance.find("Image"))
    if data is not None:
        images.append(inline_image(data, kind))
    return images
