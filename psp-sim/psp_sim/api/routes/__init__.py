"""The API's routers: the provider operations under /v1, and health and metrics."""
