"""``python -m examples.bookings_api``: serve the Bookings API on BOOKINGS_PORT (default 9100)."""

from __future__ import annotations

import os

import uvicorn
from examples.bookings_api.app import Settings, create_app

if __name__ == "__main__":
    uvicorn.run(
        create_app(Settings.from_env()), host="127.0.0.1", port=int(os.environ.get("BOOKINGS_PORT", "9100"))
    )
