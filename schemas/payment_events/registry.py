"""Schema ids: a committed, append-only file registry by default, a Confluent Schema Registry when
one is configured. Both give the same answers to the codec: an id for a (subject, schema), a schema
for an id.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

REGISTRY_FILE = Path(__file__).parent / "registry.json"
AVRO_DIR = Path(__file__).parent / "avro"

Schema = dict[str, Any]


class SchemaLookupError(Exception):
    code = "schema_lookup_failed"


class UnknownSchemaId(SchemaLookupError):
    code = "unknown_schema_id"


class SchemaNotRegistered(SchemaLookupError):
    code = "schema_not_registered"


def normalized(schema: Schema) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


class SchemaRegistry(Protocol):
    def id_for(self, subject: str, schema: Schema) -> int: ...

    def schema_for(self, schema_id: int) -> Schema: ...


@dataclass(frozen=True)
class RegisteredSchema:
    id: int
    subject: str
    version: int
    schema: Schema


class FileRegistry:
    """Ids from `registry.json`. Entries are only ever appended, so an id never changes meaning."""

    def __init__(self, path: Path = REGISTRY_FILE) -> None:
        self.path = path
        raw = json.loads(path.read_text()) if path.exists() else {"schemas": []}
        self.entries = [RegisteredSchema(**e) for e in raw["schemas"]]
        self._by_id = {e.id: e for e in self.entries}

    def id_for(self, subject: str, schema: Schema) -> int:
        wanted = normalized(schema)
        for e in self.entries:
            if e.subject == subject and normalized(e.schema) == wanted:
                return e.id
        raise SchemaNotRegistered(
            f"{subject}: this schema is not in {self.path.name}; "
            "run `python -m payment_events.registry` to append it"
        )

    def schema_for(self, schema_id: int) -> Schema:
        try:
            return self._by_id[schema_id].schema
        except KeyError:
            raise UnknownSchemaId(f"schema id {schema_id} is not in {self.path.name}") from None

    def append(self, subject: str, schema: Schema) -> RegisteredSchema | None:
        """Registers `schema` under `subject` unless it is already there; returns the new entry."""
        try:
            self.id_for(subject, schema)
            return None
        except SchemaNotRegistered:
            pass
        versions = [e.version for e in self.entries if e.subject == subject]
        entry = RegisteredSchema(
            id=max((e.id for e in self.entries), default=0) + 1,
            subject=subject,
            version=max(versions, default=0) + 1,
            schema=schema,
        )
        self.entries.append(entry)
        self._by_id[entry.id] = entry
        return entry

    def save(self) -> None:
        body = {"schemas": [e.__dict__ for e in self.entries]}
        self.path.write_text(json.dumps(body, indent=2) + "\n")


class ConfluentRegistry:
    """A Confluent Schema Registry, for deployments that run one (`SCHEMA_REGISTRY_URL`)."""

    def __init__(self, url: str) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self._client = SchemaRegistryClient({"url": url})
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, Schema] = {}
        self._lock = threading.Lock()

    def id_for(self, subject: str, schema: Schema) -> int:
        from confluent_kafka.schema_registry import Schema as SrSchema

        key = (subject, normalized(schema))
        with self._lock:
            if key not in self._ids:
                sr_schema = SrSchema(json.dumps(schema), "AVRO")
                self._ids[key] = int(self._client.register_schema(subject, sr_schema))
            return self._ids[key]

    def schema_for(self, schema_id: int) -> Schema:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        with self._lock:
            if schema_id not in self._schemas:
                try:
                    found = self._client.get_schema(schema_id)
                except SchemaRegistryError as e:
                    if e.http_status_code == 404:
                        raise UnknownSchemaId(f"schema id {schema_id}: {e}") from e
                    raise
                self._schemas[schema_id] = json.loads(found.schema_str or "{}")
            return self._schemas[schema_id]


def registry_for(url: str | None) -> SchemaRegistry:
    return ConfluentRegistry(url) if url else FileRegistry()


def load_current_schema(schema_file: str) -> Schema:
    loaded: Schema = json.loads((AVRO_DIR / schema_file).read_text())
    return loaded


def main() -> None:
    """Appends every changed `.avsc` to the file registry (the only way ids are minted)."""
    from payment_events.catalog import CATALOG

    registry = FileRegistry()
    added = [registry.append(t.subject, load_current_schema(t.schema_file)) for t in CATALOG]
    registry.save()
    for entry in added:
        if entry:
            print(f"registered {entry.subject} v{entry.version} as id {entry.id}")  # noqa: T201


if __name__ == "__main__":
    main()
