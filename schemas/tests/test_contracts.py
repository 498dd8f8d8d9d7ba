"""The event contracts: every schema matches its type, ids never change meaning, and every
version stays readable by every later one (BACKWARD_TRANSITIVE)."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime
from pathlib import Path

import avro.compatibility
import avro.schema
import pytest
from fastavro.utils import generate_many

from payment_events.catalog import CATALOG, all_topic_names
from payment_events.codec import Codec, DecodeError, UnknownSchema, from_record
from payment_events.registry import AVRO_DIR, FileRegistry, load_current_schema, normalized

if typing.TYPE_CHECKING:
    from payment_events.events import Event

REGISTRY = FileRegistry()
CODEC = Codec(REGISTRY)


def sample(event_type: type[Event]) -> Event:
    """A fully populated event of `event_type`, generated from its Avro schema."""
    schema = load_current_schema(next(t for t in CATALOG if t.event_type is event_type).schema_file)
    [record] = list(generate_many(schema, 1))
    record["event_id"] = "0b7c2f1e-8d3a-4c55-9e0f-123456789abc"
    record["payment_id"] = "5d0c6f4e-57b5-4b7c-9d8e-0f1a2b3c4d5e"
    record["occurred_at"] = datetime(2026, 11, 23, 8, 30, 0, 123000, tzinfo=UTC)
    event: Event = from_record(event_type, record)
    return event


@pytest.mark.parametrize("topic", CATALOG, ids=lambda t: t.name)
def test_every_schema_round_trips_through_its_type(topic: typing.Any) -> None:
    event = sample(topic.event_type)
    assert CODEC.decode(CODEC.encode(event)) == event


@pytest.mark.parametrize("topic", CATALOG, ids=lambda t: t.name)
def test_every_schema_has_exactly_the_fields_of_its_type(topic: typing.Any) -> None:
    schema = load_current_schema(topic.schema_file)
    assert schema["name"] == topic.event_type.__name__
    fields = {f["name"] for f in schema["fields"]}
    assert fields == {f.name for f in dataclasses.fields(topic.event_type)}


def test_the_wire_format_is_confluent_framing_with_the_registry_id() -> None:
    topic = CATALOG[0]
    data = CODEC.encode(sample(topic.event_type))
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    assert REGISTRY.schema_for(schema_id)["name"] == topic.event_type.__name__


def test_every_current_schema_is_registered_under_its_topic_subject() -> None:
    for topic in CATALOG:
        REGISTRY.id_for(topic.subject, load_current_schema(topic.schema_file))


def test_registry_ids_are_unique_and_versions_count_up_per_subject() -> None:
    ids = [e.id for e in REGISTRY.entries]
    assert ids == sorted(set(ids))
    for subject in {e.subject for e in REGISTRY.entries}:
        versions = [e.version for e in REGISTRY.entries if e.subject == subject]
        assert versions == list(range(1, len(versions) + 1))


def test_the_registry_is_append_only_against_git_head() -> None:
    """Entries committed before stay exactly as they were: an id never changes meaning."""
    import subprocess

    path = Path(REGISTRY.path)
    shown = subprocess.run(
        ["git", "show", f"HEAD:schemas/payment_events/{path.name}"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        pytest.skip("registry.json is not committed yet")
    committed = json.loads(shown.stdout)["schemas"]
    current = json.loads(path.read_text())["schemas"]
    assert current[: len(committed)] == committed


def test_every_version_of_a_subject_is_readable_by_every_later_one() -> None:
    checker = avro.compatibility.ReaderWriterCompatibilityChecker()
    for subject in {e.subject for e in REGISTRY.entries}:
        versions = [e.schema for e in REGISTRY.entries if e.subject == subject]
        for i, writer in enumerate(versions):
            for reader in versions[i + 1 :]:
                result = checker.get_compatibility(
                    avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
                )
                compatible = avro.compatibility.SchemaCompatibilityType.compatible
                assert result.compatibility is compatible, (subject, result.messages)


def test_an_incompatible_change_is_caught_by_the_checker() -> None:
    """Guards the guard: removing a default-less field from the reader side must fail."""
    topic = CATALOG[0]
    old = load_current_schema(topic.schema_file)
    new = json.loads(json.dumps(old))
    new["fields"].append({"name": "added_without_default", "type": "string"})
    result = avro.compatibility.ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(new)), avro.schema.parse(json.dumps(old))
    )
    assert result.compatibility is avro.compatibility.SchemaCompatibilityType.incompatible


def test_undecodable_bytes_and_unknown_schema_ids_are_named_errors() -> None:
    with pytest.raises(DecodeError) as bad:
        CODEC.decode(b"garbage")
    assert bad.value.code == "undecodable"
    with pytest.raises(UnknownSchema) as unknown:
        CODEC.decode(b"\x00\x00\x01\x00\x00\x02")
    assert unknown.value.code == "unknown_schema_id"


def test_every_avsc_file_is_in_the_catalog_and_every_topic_has_a_dead_letter_topic() -> None:
    assert {p.name for p in AVRO_DIR.glob("*.avsc")} == {t.schema_file for t in CATALOG}
    names = all_topic_names()
    assert all(f"{t.name}.dlq" in names for t in CATALOG)


def test_normalized_ignores_key_order_only() -> None:
    assert normalized({"a": 1, "b": 2}) == normalized({"b": 2, "a": 1})
    assert normalized({"a": 1}) != normalized({"a": 2})


def test_the_topic_catalog_doc_lists_every_topic_with_its_producer_and_consumers() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "topics.md").read_text()
    for topic in CATALOG:
        row = (
            f"| `{topic.name}` | {topic.event_type.__name__} | `{topic.schema_file}` "
            f"| {topic.producer} | {', '.join(topic.consumers)} |"
        )
        assert row in doc
