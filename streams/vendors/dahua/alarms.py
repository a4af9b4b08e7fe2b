"""Every other Dahua record -> :class:`Alarm` (type from :mod:`.codes`, Start/Stop/Pulse state)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import Alarm, AlarmState, ImageRef
from streams.canonical.models import construct
from streams.vendors.base import Context
from streams.vendors.common import as_str, event_id
from streams.vendors.dahua.codes import SMART_MOTION_TARGETS, STATES, alarm_type
from streams.vendors.dahua.identity import COMMON_KEYS, SOURCE, Identity
from streams.vendors.dahua.values import as_dict, attributes, box, confidence, term

_ALARM_KEYS = COMMON_KEYS | {"Name", "Object", "Objects", "Action"}
_OBJECT_KEYS = frozenset({"BoundingBox", "Confidence", "ObjectType"})


def alarm(
    data: Mapping[str, Any],
    identity: Identity,
    state: AlarmState,
    images: list[ImageRef],
    ctx: Context,
) -> Alarm:
    obj = as_dict(data.get("Object"))
    rule = as_str(data.get("Name")) or as_str(data.get("RuleName"))
    regions = data.get("RegionName")
    if rule is None and isinstance(regions, list) and regions:
        rule = as_str(regions[0])
    target = term(obj.get("ObjectType"))
    target_type = target.lower() if target else SMART_MOTION_TARGETS.get(identity.code)
    leftover = attributes(dict(identity.extra), data, _ALARM_KEYS)
    attributes(leftover, obj, _OBJECT_KEYS, "Object.")
    action = as_str(data.get("Action"))
    if action is not None and action.lower() not in STATES:
        leftover["Action"] = action
    return construct(
        Alarm,
        dict(
            event_id=event_id("alarm", SOURCE, *identity.key, state.value),
            **identity.fields(data, ctx),
            images=list(images),
            confidence=confidence(obj.get("Confidence")),
            bbox=box(obj.get("BoundingBox")),
            attributes=leftover,
            alarm_type=alarm_type(identity.code, data),
            state=state,
            vendor_event_type=identity.code,
            rule_name=rule,
            target_type=target_type,
        ),
    )
