"""The API tests' world (users, spaces, an app) and token maker, for the security tests."""

from tests.api.conftest import issue, world  # noqa: F401  (fixtures)
