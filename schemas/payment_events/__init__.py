"""Event contracts: Avro schemas in `avro/`, their dataclasses, the topic catalog and the codec."""
