"""JSON events from the ONVIF MQTT event broker (``onvif-ej``).

A message is ``{"UtcTime", "PropertyOperation"?, "Source", "Data"}`` with name -> value maps (or
``SimpleItem`` lists of ``{"Name", "Value"}``; nested objects are element items, ``@name`` keys
attributes). The broker puts the event topic in the MQTT topic, not in the body, so the gateway
must pass it on: as ``"Topic"`` in the object, or by wrapping the message as
``{"topic": <MQTT topic>, "payload": {...}}``. An MQTT topic
``<prefix>/onvif-ej/RuleEngine/LineDetector/Crossed/&1/2/Fence`` is read as the event topic
``tns1:RuleEngine/LineDetector/Crossed``, and its prefix is the device hint when the Kafka key is
missing. A JSON array holds several messages; a bad one is rejected alone.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.common import as_str
from streams.vendors.json_body import load_json
from streams.vendors.onvif.alarms import message_event
from streams.vendors.onvif.envelope import device_id_for
from streams.vendors.onvif.messages import Message


def _json_element(name: str, value: Any) -> ET.Element:
    """An element item given as nested JSON (``@x`` attributes, ``#text``), as an Element."""
    root = ET.Element(name)
    stack: list[tuple[ET.Element, Any]] = [(root, value)]
    while stack:
        element, content = stack.pop()
        if not isinstance(content, dict):
            element.text = as_str(content)
            continue
        for key, child in content.items():
            key = str(key)
            if key.startswith("@"):
                text = as_str(child)
                if text is not None:
                    element.set(key[1:], text)
            elif key in ("#text", "$"):
                element.text = as_str(child)
            else:
                for each in child if isinstance(child, list) else [child]:
                    stack.append((ET.SubElement(element, key.rpartition(":")[2]), each))
    return root


def _json_items(container: Any, message: Message, target: dict[str, str]) -> None:
    if not isinstance(container, dict):
        return
    listed = container.get("SimpleItem")
    if listed is not None or "ElementItem" in container:
        for item in listed if isinstance(listed, list) else [listed]:
            if isinstance(item, dict):
                name, value = as_str(item.get("Name")), as_str(item.get("Value"))
                if name is not None and value is not None:
                    target[name] = value
        elements = container.get("ElementItem")
        for item in elements if isinstance(elements, list) else [elements]:
            if isinstance(item, dict) and as_str(item.get("Name")) is not None:
                name = str(item["Name"])
                content = {k: v for k, v in item.items() if k != "Name"}
                message.elements[name] = _json_element(name, content)
        return
    for name, value in container.items():
        if isinstance(value, dict):
            message.elements[str(name)] = _json_element(str(name), value)
        else:
            text = as_str(value)
            if text is not None:
                target[str(name)] = text


def mqtt_topic(topic: str) -> tuple[str, str | None]:
    """(event topic, device hint) from an MQTT topic or an ONVIF topic expression."""
    marker = topic.find("onvif-ej/")
    if marker < 0 or (marker > 0 and topic[marker - 1] != "/"):
        return topic, None
    hint = topic[: marker - 1] if marker > 0 else None
    event = topic[marker + len("onvif-ej/") :].split("/&", 1)[0].strip("/")
    if event and ":" not in event.split("/", 1)[0]:
        event = "tns1:" + event
    return event, hint or None


def _topic_text(record: Mapping[str, Any]) -> str | None:
    value = record.get("Topic") or record.get("topic")
    return value.strip() or None if isinstance(value, str) else None


def json_message(record: Any) -> Message:
    """The message of one onvif-ej object (bare, or wrapped with its MQTT topic)."""
    if not isinstance(record, dict):
        raise AdapterError("onvif-ej message is not a JSON object")
    topic = _topic_text(record)
    fields: Any = record
    for name in ("payload", "Payload", "message", "Message"):
        inner = record.get(name)
        if isinstance(inner, str | bytes) and inner.strip()[:1] in ("{", b"{"):
            inner = load_json(inner, f"{name} is not JSON")  # a bridge kept the payload as text
        if isinstance(inner, dict):
            fields = inner
            topic = topic or _topic_text(inner)
            break
    hint = None
    if topic is not None:
        topic, hint = mqtt_topic(topic)
    if not topic:
        raise AdapterError(
            "onvif-ej message without a topic: the MQTT topic names the event, so the gateway "
            "must pass it ('Topic', or {'topic': ..., 'payload': ...})"
        )
    message = Message(
        topic=topic,
        utc=as_str(fields.get("UtcTime")),
        operation=as_str(fields.get("PropertyOperation")),
        device_hint=hint,
    )
    _json_items(fields.get("Source"), message, message.source)
    _json_items(fields.get("Key"), message, message.source)
    _json_items(fields.get("Data"), message, message.data)
    return message


def events_from_json(body: bytes, raw: RawPayload, ctx: Context) -> Normalized:
    """The events of an onvif-ej body: one message object, or an array of them."""
    document = load_json(body)
    records: Iterable[Any] = document if isinstance(document, list) else [document]
    single = not isinstance(document, list)
    result = Normalized()
    skipped: list[str] = []
    for record in records:
        try:
            message = json_message(record)
            device_id = device_id_for(raw.key or message.device_hint)
            outcome = message_event(message, device_id, raw, ctx)
        except AdapterError as exc:
            if single:
                raise
            result.rejected.append(Rejected(f"event: {exc}", orjson.dumps(record)))
            continue
        if isinstance(outcome, str):
            skipped.append(outcome)
        else:
            result.events.append(outcome)
    if not result.events and not result.rejected:
        result.skipped = "; ".join(dict.fromkeys(skipped)) or "empty JSON array"
    return result
