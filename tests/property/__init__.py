"""Property-based tests (Hypothesis) of the protocol's small, sharp functions, and schema
fuzzing (Schemathesis) of the JSON API."""
