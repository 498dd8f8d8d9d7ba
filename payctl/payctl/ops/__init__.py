"""The ops verbs: what an operator runs against a stack after an outage (replay, dead letters,
lag, one payment's trace, reconciliation). Each works on the embedded stack and on a real
cluster alike, reading the same settings as the services (`payctl.ops.target`)."""
