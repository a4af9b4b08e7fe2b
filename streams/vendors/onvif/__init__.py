"""ONVIF Profile M: metadata-stream XML (scene description, events) and JSON events over MQTT.

What arrives (vendor-formats.md section 6): ``tt:MetadataStream`` XML from the RTSP metadata
track, WS-BaseNotification ``Notify``/``PullMessagesResponse`` XML, or onvif-ej JSON from the
ONVIF MQTT event broker. Scene-description objects become plate and face captures; event
messages become alarms (or plate reads). The rules live, documented, where they apply:

- :mod:`.adapter`: the entry point and which XML elements are frames and messages;
- :mod:`.xml`: safe XML loading (DOCTYPE/ENTITY and NUL refusal, legacy encodings, local names);
- :mod:`.values`: reading text, numbers, likelihoods and booleans out of elements;
- :mod:`.envelope`: device id, channel, ``UtcTime``, the fields every event shares;
- :mod:`.scene`, :mod:`.frame`: which frame objects are captures, and what a frame's captures share;
- :mod:`.boxes`: coordinate transforms and bounding boxes;
- :mod:`.plates`, :mod:`.faces`: plate captures (frames and plate-read events), face captures;
- :mod:`.messages`: event messages from XML, their identity and images;
- :mod:`.topics`, :mod:`.alarms`: the topic table, and messages to alarms with their state;
- :mod:`.onvif_ej`: the onvif-ej JSON form and its MQTT topics.
"""

from streams.vendors.onvif.adapter import normalize_onvif
from streams.vendors.onvif.envelope import SOURCE

__all__ = ["SOURCE", "normalize_onvif"]
