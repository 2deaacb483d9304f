"""What the steps of a run read as, from queued to finished (no I/O).

A run's steps are ``pending`` until the engine reaches them. When a run ends failed, a step it
never reached reads ``skipped``, and one its worker was running when it stopped reads
``failed``: a finished run has no step that seems still to come. A re-run is a new run, its
steps ``pending`` again.
"""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


ENDED_FAILED = {StepStatus.PENDING: StepStatus.SKIPPED, StepStatus.RUNNING: StepStatus.FAILED}
"""What a step still in one of these statuses reads as once its run has ended failed."""
