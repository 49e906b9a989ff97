"""Every HTTP route lives in exactly one module under this package."""
