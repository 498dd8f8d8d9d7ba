"""The API's routers: the provider operations under /v1, health and metrics, and /admin."""
