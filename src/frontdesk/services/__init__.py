"""Use cases shared by the web pages and the CLI (accounts, spaces, seeding)."""
