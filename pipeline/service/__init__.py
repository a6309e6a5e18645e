"""`mediawatch run` as a long-running service: scheduled jobs (``jobs``), the one-scheduler lock
(``lock``) and the process around them (``runner``)."""

from .runner import LockHeldError, Service, job_specs, make_scheduler, run_service, stop_scheduler, sync_jobs

__all__ = [
    "LockHeldError",
    "Service",
    "job_specs",
    "make_scheduler",
    "run_service",
    "stop_scheduler",
    "sync_jobs",
]
