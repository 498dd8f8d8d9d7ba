"""The status projector: downstream events in, the payments' status read model out. The same
process relays the BFF's outbox (`PaymentInitiated`) to Kafka."""
