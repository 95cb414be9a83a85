"""Hypothesis profile for the processor's property tests: no deadline (CI machines vary), a
moderate number of examples so the suite stays fast. Override with HYPOTHESIS_PROFILE=thorough."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ddbstream",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("ddbstream"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ddbstream"))
