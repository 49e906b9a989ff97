"""The HTTP layer: FastAPI routers for pages and the JSON API, and ASGI middleware."""
