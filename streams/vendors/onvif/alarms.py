"""Event messages -> alarms (or plate reads, or a reason to skip them).

Alarm state. The state item is the first Data item named ``State``, ``LogicalState``, ``Active``,
``Detected`` or ``Is...`` (``IsMotion``, ``IsInside``, ``IsTamper``...) holding a boolean
(true/false, 1/0, active/inactive, on/off). Then:

- ``PropertyOperation="Deleted"``: stop when the message has a state item, else skipped (the
  property went away, nothing happened);
- a state item: true -> start; false -> stop, except ``Initialized`` + false, which is skipped
  (the initial value a subscription reports: nothing started, so nothing stops);
- no state item (``LineDetector/Crossed``, ``Recognition/Face``...): pulse, whatever the
  operation, since some devices send pulses as ``Initialized`` properties.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.canonical import Alarm, AlarmState, AlarmType, CanonicalEvent, ImageKind
from streams.canonical.models import construct
from streams.vendors.base import AdapterError, Context, RawPayload
from streams.vendors.common import event_id, leftover_attributes
from streams.vendors.onvif.envelope import SOURCE, channel_of, envelope, utc_time
from streams.vendors.onvif.messages import (
    IMAGE_ITEMS,
    Message,
    message_identity,
    message_images,
)
from streams.vendors.onvif.plates import message_plate
from streams.vendors.onvif.topics import TopicKind, topic_info
from streams.vendors.onvif.values import as_bool, first_item, likelihood

_STATE_NAMES = frozenset({"state", "logicalstate", "active", "detected"})
_TARGET_ITEMS = ("ClassTypes", "ClassType", "ObjectType", "ObjectClass")


def _state(data: Mapping[str, str]) -> tuple[str | None, bool | None]:
    """The state item's name and value, (None, None) when the message has none."""
    for name, value in data.items():
        key = name.lower()
        if key in _STATE_NAMES or (key.startswith("is") and len(key) > 2):
            state = as_bool(value)
            if state is not None:
                return name, state
    return None, None


def message_event(
    message: Message, device_id: str, raw: RawPayload, ctx: Context
) -> CanonicalEvent | str:
    """The event of one message, or why it is skipped."""
    topic = message.topic
    if topic is None:
        raise AdapterError("event message without a topic")
    info = topic_info(topic)
    if info.kind is TopicKind.SKIP:
        return f"telemetry topic {topic}"
    operation = (message.operation or "").lower()
    captured_at, provenance = utc_time(message.utc, raw)
    token = first_item(message.source, *info.token_items)
    common = envelope(device_id, channel_of(token), captured_at, provenance, raw, ctx)
    identity = message_identity(message, device_id, captured_at)
    if info.kind is TopicKind.PLATE:
        if operation == "deleted":
            return f"{topic} property deleted"
        return message_plate(message, common, identity)
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
    target = first_item(message.data, *_TARGET_ITEMS)
    modelled = {"Rule", "Likelihood", *IMAGE_ITEMS}
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
            images=message_images(message.data, image_kind),
            confidence=likelihood(message.data.get("Likelihood")),
            attributes=attributes,
            alarm_type=info.alarm_type,
            state=alarm_state,
            vendor_event_type=topic,
            rule_name=(
                first_item(message.source, "Rule") or first_item(message.data, "Rule", "RuleName")
            ),
            target_type=target.split()[0].lower() if target else info.target_type,
        ),
    )
