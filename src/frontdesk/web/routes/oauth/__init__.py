"""OAuth endpoints: authorization, token (and, later, revocation, introspection, metadata)."""
