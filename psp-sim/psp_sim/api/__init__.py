"""psp-sim's HTTP API."""
