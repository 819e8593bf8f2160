"""What a process does with an edit another one left unfinished (a crash, a restart): one decision.

Invariants:
- a job whose API answer is stored (``JobStage.has_result``) is always delivered, or its delivery
  completed, and committed: a result that reached the user, or could still, is never refunded;
- a job cut off before or during the API call runs once more with its reservation kept
  (``ResumeMode.RETRY``), so an interrupted edit costs at most one extra paid call; when that run
  is cut off too, or with ``ResumeMode.REFUND``, it is refunded and its user told.
"""

from __future__ import annotations

from enum import StrEnum

from core.storage.protocol import Job

MAX_CALLS = 2
"""Edit-API calls one job may start: the first, and the one retry after an interruption."""


class ResumeMode(StrEnum):
    """``EDITBOT_RESUME_INTERRUPTED``: an edit cut off before its result is retried or refunded."""

    RETRY = "retry"
    REFUND = "refund"


class Resumption(StrEnum):
    """What happens to an interrupted job."""

    DELIVER = "deliver"  # the result is stored: send what is missing, then commit
    RUN = "run"  # run it (again) with the reservation it holds
    REFUND = "refund"  # give the credits back and tell the user


def plan(job: Job, mode: ResumeMode) -> Resumption:
    """The one rule for interrupted jobs (see the module's invariants)."""
    if job.stage.has_result or job.delivery:
        return Resumption.DELIVER
    if mode is ResumeMode.RETRY and job.attempts < MAX_CALLS:
        return Resumption.RUN
    return Resumption.REFUND
