"""Avro binary encoders and decoders compiled from a schema into specialised Python functions.

fastavro interprets the schema for every datum (and validates union branches holding records to
pick one). Here the Python source of a writer and of a reader that do only the work of one
schema is generated once and compiled with ``exec``: fields become dictionary look-ups, runs of
doubles one ``struct`` call, ``["null", X]`` an ``is None`` test, usual timestamps one ``struct``
call, one- and two-byte varints table look-ups or inline arithmetic. The bytes are exactly what
fastavro's ``schemaless_writer`` writes (Avro 1.11 binary encoding); the tests check this.

Supported: record, enum, array, map, union, fixed, null, boolean, int, long, float, double,
bytes, string, and ``timestamp-millis`` on long. Logical types fastavro turns into other Python
types (date, uuid, decimal, ...) are refused at compile time; unknown ones are ignored, as the
specification says.

Writer (:func:`compile_writer`): a record value is a ``dict`` or a pydantic model, whose fields
are read from its ``__dict__`` (nested models alike); a ``dict`` lacking a field gets the
field's Avro default. Enums take the symbol as ``str`` or ``StrEnum`` member. timestamp-millis
takes an aware ``datetime`` (exact integer milliseconds, rounded down as fastavro does) or an
``int``. A union picks its branch from the value as fastavro does (``None`` -> null, then the
first branch the value is valid for). ``int`` values outside 32 bits and ``long`` values outside
64 bits are refused (fastavro would write such an ``int`` as a long). Failures raise
:class:`AvroEncodeError`.

Reader (:func:`compile_reader`): ``bindings`` maps the Avro *full name* of a record or enum to
the class it decodes to: a pydantic model (one :func:`streams.canonical.construct` can build,
i.e. a canonical model) or an ``Enum`` whose values are the symbols. :func:`model_bindings`
derives them from a model's field annotations. Bound records become model instances without
validation -- the same instance state ``construct`` gives (fields in declared order), built
inline, which is checked against ``construct`` when compiling -- and ``Literal`` fields (``kind``)
are checked; unbound records decode to ``dict`` (schema order) and unbound enums to ``str``, as
fastavro's ``schemaless_reader`` does. timestamp-millis decodes to UTC ``datetime``, bytes to
``bytes``. A datum must end exactly at the end of the data: truncated, corrupt or trailing bytes
raise :class:`AvroDecodeError`, never ``IndexError`` or the like.
"""

from streams.codecs.compiled.bindings import model_bindings
from streams.codecs.compiled.errors import AvroDecodeError, AvroEncodeError
from streams.codecs.compiled.reader import Reader, compile_reader
from streams.codecs.compiled.writer import Writer, compile_writer

__all__ = [
    "AvroDecodeError",
    "AvroEncodeError",
    "Reader",
    "Writer",
    "compile_reader",
    "compile_writer",
    "model_bindings",
]
