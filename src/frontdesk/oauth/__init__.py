"""The OAuth 2 protocol core: plain Python, no web framework, no SQL.

Each module holds one concern and cites the RFC section it implements. The web layer turns
HTTP requests into :class:`frontdesk.oauth.request.OAuthRequest` objects and the results back
into responses; storage is reached only through :mod:`frontdesk.oauth.storage`.
"""
