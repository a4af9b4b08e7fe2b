"""Hikvision ISAPI event push: ``EventNotificationAlert`` XML or JSON, bare or in multipart.

What arrives (vendor-formats.md §1): an XML document, a JSON document (face capture and face
comparison on newer firmware), or ``multipart/form-data`` / ``multipart/mixed`` holding one
such document plus JPEG parts; images become hash-only references.

The rules chosen where the sources are ambiguous are documented (and tested) where they live:

- :mod:`.adapter`: the entry point, multipart bodies and which alert becomes which event;
- :mod:`.multipart`: splitting bodies and classifying parts;
- :mod:`.documents` and :mod:`.xml`: XML/JSON loading (namespaces, encodings, DOCTYPE refusal);
- :mod:`.values`: reading fields whatever the document shape;
- :mod:`.envelope`: device id, channel, position, the fields every event shares;
- :mod:`.times`: capture times and the receive-time fallback;
- :mod:`.images`, :mod:`.boxes`: image references, bounding-box scales;
- :mod:`.attributes`: what is kept as attributes and what never is;
- :mod:`.anpr`, :mod:`.faces`, :mod:`.alarms`: plate reads, face captures, alarms.
"""

from streams.vendors.hikvision.adapter import normalize_hikvision
from streams.vendors.hikvision.envelope import SOURCE

__all__ = ["SOURCE", "normalize_hikvision"]
