"""Property tests that drive the real app reuse the OAuth fixtures of tests/oauth.

No example database is kept (nothing is written to the working tree); set
``HYPOTHESIS_PROFILE=thorough`` to run many more examples when hunting for bugs."""

from __future__ import annotations

import os

from hypothesis import settings

from tests.oauth.conftest import dev, logged_in, person, registered  # noqa: F401 - fixtures

settings.register_profile("frontdesk", database=None, deadline=None)
settings.register_profile("thorough", database=None, max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "frontdesk"))
