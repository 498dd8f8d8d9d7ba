"""The BFF's HTTP API under /v1."""
