"""Project tests: Hypothesis profiles and shared fixtures."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# dev: quick local runs; ci: derandomized and reproducible; thorough: before a release.
settings.register_profile("dev", max_examples=25)
settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

pytest_plugins = ["pytester", "tests.fixtures.spec", "tests.fixtures.messages", "tests.fixtures.mock",
                  "tests.fixtures.references", "tests.fixtures.alone", "tests.fixtures.browser"]

