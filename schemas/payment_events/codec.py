"""Avro codec in the Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the
Avro binary body. Dicts exist only here; callers see event dataclasses.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import struct
import typing
import uuid
from typing import Any

import fastavro

from payment_events.catalog import BY_RECORD_NAME, BY_TYPE
from payment_events.registry import SchemaLookupError, SchemaRegistry, load_current_schema

if typing.TYPE_CHECKING:
    from payment_events.events import Event

MAGIC = 0
_HEADER = struct.Struct(">bI")


class DecodeError(Exception):
    """The bytes cannot become an event: a poison message, never worth retrying."""

    code = "undecodable"


class UnknownSchema(DecodeError):
    code = "unknown_schema_id"


class RegistryUnavailable(Exception):
    """The registry could not be asked (not a verdict on the message): try again later."""


class UnknownEventType(DecodeError):
    code = "unknown_event_type"


class Codec:
    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._reader: dict[type[Event], Any] = {}
        self._raw: dict[type[Event], dict[str, Any]] = {}
        for event_type, topic in BY_TYPE.items():
            raw = load_current_schema(topic.schema_file)
            self._raw[event_type] = raw
            self._reader[event_type] = fastavro.parse_schema(raw)
        self._writer_ids: dict[type[Event], int] = {}
        self._writers: dict[int, tuple[type[Event], Any]] = {}

    def encode(self, event: Event) -> bytes:
        event_type = type(event)
        schema_id = self._writer_ids.get(event_type)
        if schema_id is None:
            schema_id = self._registry.id_for(BY_TYPE[event_type].subject, self._raw[event_type])
            self._writer_ids[event_type] = schema_id
        out = io.BytesIO()
        out.write(_HEADER.pack(MAGIC, schema_id))
        fastavro.schemaless_writer(out, self._reader[event_type], to_record(event))
        return out.getvalue()

    def decode(self, data: bytes | None) -> Event:
        if data is None or len(data) < _HEADER.size:
            raise DecodeError("message is too short for the Confluent Avro framing")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError(f"magic byte is {magic}, expected {MAGIC}")
        event_type, writer = self._writer(schema_id)
        try:
            record = fastavro.schemaless_reader(
                io.BytesIO(data[_HEADER.size :]), writer, self._reader[event_type]
            )
        except Exception as e:  # fastavro raises many types on bad bytes; all mean poison.
            raise DecodeError(f"Avro body does not match schema {schema_id}: {e!r}") from e
        assert isinstance(record, dict)
        try:
            event: Event = from_record(event_type, record)
        except (TypeError, ValueError, KeyError) as e:
            raise DecodeError(
                f"schema {schema_id} record does not fit {event_type.__name__}: {e!r}"
            ) from e
        return event

    def _writer(self, schema_id: int) -> tuple[type[Event], Any]:
        if schema_id not in self._writers:
            try:
                raw = self._registry.schema_for(schema_id)
            except SchemaLookupError as e:
                raise UnknownSchema(str(e)) from e
            except Exception as e:  # the registry is down or unreachable: the message may be fine
                raise RegistryUnavailable(f"schema id {schema_id}: {e!r}") from e
            topic = BY_RECORD_NAME.get(raw.get("name", ""))
            if topic is None:
                raise UnknownEventType(f"schema {schema_id} is record {raw.get('name')!r}")
            self._writers[schema_id] = (topic.event_type, fastavro.parse_schema(raw))
        return self._writers[schema_id]


def to_record(obj: Any) -> dict[str, Any]:
    # Not dataclasses.asdict, which deep-copies every value for a writer that only reads them:
    # it was most of the cost of encoding an event. Events hold immutable values only (str,
    # int, datetime, None, tuples of frozen dataclasses).
    return {f.name: _field_value(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _field_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_field_value(v) for v in value]
    if dataclasses.is_dataclass(value):
        return to_record(value)
    return value


def from_record(cls: type[Any], record: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for name, hint in _fields(cls):  # type: ignore[arg-type]  # classes are hashable
        if name in record:
            values[name] = _convert(hint, record[name])
    return cls(**values)


@functools.cache
def _fields(cls: type[Any]) -> tuple[tuple[str, Any], ...]:
    """A dataclass's fields with their resolved types: resolving the (string) annotations was
    most of the cost of decoding an event, and they never change."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _convert(hint: Any, value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v) for v in value)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_record(hint, value)  # type: ignore[arg-type]
    return value
