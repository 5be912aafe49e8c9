"""Periodic jobs: one registry, one runner (``manage.py run_periodic``), a schedule table, a database lease.

Registering a job is one line in the owning app's ``AppConfig.ready`` (warrantdesk imports no app;
the apps come to it)::

    from datetime import timedelta
    from warrantdesk import periodic

    periodic.register("notifications.send_due", every=timedelta(minutes=1), run=notifications_send_due, takes_stop=True)
    periodic.register("retention.purge", every=timedelta(hours=1), run=messages_purge_expired, lease=timedelta(hours=2))

``register(name, *, every, run, lease=None, takes_stop=False)``:

- ``name``: stable and unique (``[a-z0-9_.-]``, up to 64 characters); it names the job's row in
  ``PeriodicJob``, its audit entries and ``run_periodic --job NAME``.
- ``every``: the interval. A job is due at ``next_due``; after a run (successful or not) it is due
  ``every`` after the start of that run, or ``every`` after its end if the run took longer.
- ``run``: a callable without required arguments. It returns its summary: a mapping or a dataclass
  of counts (``{"messages_removed": 120, "kept_by_holds": 4}``). Only numbers and booleans are kept
  (they go into the audit log, which never holds content); anything else is left out. It commits its
  own work (it is not run inside a transaction) and must be safe to run twice: a lease that expired
  while the run was still going, or a runner that crashed after the work but before recording it,
  runs it again.
- ``lease``: how long a run may take before it is presumed crashed and may be claimed again
  (default ``DEFAULT_LEASE``, 30 minutes). Give long jobs a longer lease.
- ``takes_stop``: ``run`` accepts ``stop``, a callable asked between two units of work, true once the
  runner was told to stop (SIGTERM, Ctrl-C): the job then returns early and the rest waits for the
  next run.

How one run at a time is guaranteed, across processes and machines: a runner claims a due job with
one conditional ``UPDATE … SET lease_until = now + lease, claim_token = … WHERE name = … AND next_due
<= now AND (lease_until IS NULL OR lease_until < now)``. On PostgreSQL a second, concurrent UPDATE
waits for the first one's row lock and then re-checks its WHERE against the committed row, so it
matches nothing; SQLite runs one writer at a time. Exactly one claimant gets the row count 1. Only the
holder of the claim token records the end of the run (outcome, summary, next due time, lease
released) and writes the ``periodic.ran`` audit entry, in one transaction. A failing job records its
exception type and a scrubbed message, does not stop the other jobs, and is retried at its next due
time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import audit_labels
from .audit import audit_record
from .models import AuditAction, PeriodicJob

logger = logging.getLogger(__name__)

DEFAULT_LEASE = dt.timedelta(minutes=30)
MAX_SLEEP = 60.0  # the loop looks at the table at least this often (another runner may have run a job)
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")

audit_labels.register(
    labels={"job": _("job"), "result": _("result"), "counts": _("counts"), "runner": _("runner")},
    values={"result": PeriodicJob.Outcome.choices},
)


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    run: Callable[..., Any]
    lease: dt.timedelta = DEFAULT_LEASE
    takes_stop: bool = False


REGISTRY: dict[str, Job] = {}


def register(
    name: str,
    *,
    every: dt.timedelta,
    run: Callable[..., Any],
    lease: dt.timedelta | None = None,
    takes_stop: bool = False,
) -> Job:
    """Add a periodic job (from an ``AppConfig.ready``). Registering the same job again is a no-op;
    another job under a name already taken is a configuration error."""
    if not _NAME.fullmatch(name):
        raise ImproperlyConfigured(f"periodic job name {name!r}: use 1-64 of a-z 0-9 _ . - (starting alphanumeric)")
    if every <= dt.timedelta(0):
        raise ImproperlyConfigured(f"periodic job {name}: 'every' must be positive")
    if lease is not None and lease <= dt.timedelta(0):
        raise ImproperlyConfigured(f"periodic job {name}: 'lease' must be positive")
    job = Job(name=name, every=every, run=run, lease=lease or DEFAULT_LEASE, takes_stop=takes_stop)
    existing = REGISTRY.get(name)
    if existing is not None and existing != job:
        raise ImproperlyConfigured(f"periodic job {name} is already registered (by {existing.run!r})")
    REGISTRY[name] = job
    return job


def registered() -> dict[str, Job]:
    return dict(sorted(REGISTRY.items()))


# --- what a run leaves behind ---------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    job: str
    ok: bool
    summary: dict[str, int | float | bool]
    error: str = ""  # "ExceptionType: scrubbed message"
    lease_lost: bool = False

    def __str__(self) -> str:
        counts = ", ".join(f"{key}={value}" for key, value in self.summary.items())
        text = f"{self.job}: ok ({counts})" if self.ok else f"{self.job}: FAILED ({self.error})"
        return text + (" [lease expired during the run]" if self.lease_lost else "")


def summarise(result: Any) -> dict[str, int | float | bool]:
    """The counts of a job's result (a mapping or a dataclass): numbers and booleans only."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        items: Iterable[tuple[Any, Any]] = ((f.name, getattr(result, f.name)) for f in dataclasses.fields(result))
    elif isinstance(result, Mapping):
        items = result.items()
    else:
        return {}
    kept: dict[str, int | float | bool] = {}
    for key, value in items:
        if isinstance(key, str) and _NAME.fullmatch(key) and isinstance(value, bool | int | float):
            kept[key] = value
    return kept


_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@")  # scheme://user:password@
_ASSIGNED = re.compile(r"(?i)\b(password|passwd|secret|token|key)(\s*[=:]\s*)\S+")
_OPAQUE = re.compile(r"[A-Za-z0-9+/_=-]{32,}")  # key material, tokens, long hex/base64 strings


def describe_failure(exc: BaseException) -> str:
    """``Type: message`` for the job's row and the log, without what looks like a credential or key."""
    message = _CREDENTIALS.sub(r"\1***@", str(exc))
    message = _ASSIGNED.sub(r"\1\2***", message)
    message = _OPAQUE.sub("***", message)
    return f"{type(exc).__name__}: {' '.join(message.split())}"[:300]


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def holder_dead(holder: str) -> bool:
    """Whether ``holder`` (a ``holder_name()``) is a runner of this machine whose process is gone. A lease
    held by a runner killed outright (SIGKILL, OOM) is then taken over at once instead of after the lease;
    a holder on another machine, or a process id in use (maybe reused), counts as alive."""
    host, _sep, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user holds that id now
        return False
    return False


# --- the schedule table ---------------------------------------------------------------------------


def schedule_sync(jobs: Iterable[Job], *, now: dt.datetime | None = None) -> None:
    """A row for every job (a new one is due at once); a changed interval applies from now on."""
    now = now or timezone.now()
    jobs = list(jobs)
    PeriodicJob.objects.bulk_create(
        [PeriodicJob(name=job.name, interval=job.every, next_due=now) for job in jobs], ignore_conflicts=True
    )
    for job in jobs:
        PeriodicJob.objects.filter(name=job.name).exclude(interval=job.every).update(
            interval=job.every, next_due=Least("next_due", now + job.every)
        )


def job_claim(job: Job, *, holder: str, now: dt.datetime | None = None, force: bool = False) -> str | None:
    """Take the lease of ``job`` if it is due (any time with ``force``) and nobody holds a live lease.

    One conditional UPDATE, atomic on SQLite and PostgreSQL: of several runners claiming at once,
    exactly one gets the row. Returns the claim token, or None when the job is not ours to run."""
    now = now or timezone.now()
    token = secrets.token_hex(16)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    holder_now = PeriodicJob.objects.filter(name=job.name).values_list("running_on", flat=True).first()
    if holder_now and holder_dead(holder_now):
        free |= Q(running_on=holder_now)  # its runner was killed on this machine: no need to wait for the lease
    rows = PeriodicJob.objects.filter(free, name=job.name)
    if not force:
        rows = rows.filter(next_due__lte=now)
    claimed = rows.update(lease_until=now + job.lease, claim_token=token, running_on=holder, last_started_at=now)
    return token if claimed == 1 else None


def _next_due(job: Job, *, started: dt.datetime, finished: dt.datetime) -> dt.datetime:
    due = started + job.every
    return due if due > finished else finished + job.every


@transaction.atomic
def job_finish(job: Job, *, token: str, holder: str, started: dt.datetime, outcome: Outcome) -> Outcome:
    """Record the end of a run and its ``periodic.ran`` audit entry, in one transaction. Only the
    holder of ``token`` updates the row; a run whose lease expired meanwhile is audited all the same."""
    finished = timezone.now()
    fields: dict[str, Any] = {
        "last_finished_at": finished,
        "last_outcome": PeriodicJob.Outcome.OK if outcome.ok else PeriodicJob.Outcome.FAILED,
        "last_summary": outcome.summary,
        "last_error": outcome.error,
        "next_due": _next_due(job, started=started, finished=finished),
    }
    released = PeriodicJob.objects.filter(name=job.name, claim_token=token).update(
        lease_until=None, claim_token="", running_on="", **fields
    )
    outcome.lease_lost = released == 0
    details: dict[str, Any] = {
        "job": job.name,
        "result": fields["last_outcome"].value,
        "counts": outcome.summary,
        "runner": holder,
    }
    if not outcome.ok:
        details["error"] = outcome.error.split(":", 1)[0]  # the type only: the audit log keeps no message
    if outcome.lease_lost:
        details["lease_lost"] = True
    audit_record(action=AuditAction.PERIODIC_RAN, details=details)
    return outcome


def job_run(job: Job, *, token: str, holder: str, started: dt.datetime, stop: Callable[[], bool]) -> Outcome:
    """Run a claimed job outside any transaction and record how it went."""
    try:
        result = job.run(stop=stop) if job.takes_stop else job.run()
    except Exception as exc:  # one failing job must not stop the others
        outcome = Outcome(job=job.name, ok=False, summary={}, error=describe_failure(exc))
        logger.error("periodic job %s failed: %s", job.name, outcome.error)
        if isinstance(exc, DatabaseError):
            _drop_broken_connections()
    else:
        outcome = Outcome(job=job.name, ok=True, summary=summarise(result))
    return job_finish(job, token=token, holder=holder, started=started, outcome=outcome)


def _drop_broken_connections() -> None:
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


# --- the runner -----------------------------------------------------------------------------------


class Busy(Exception):
    """A forced job is running elsewhere (its lease is live)."""

    def __init__(self, job: str, running_on: str, until: dt.datetime | None):
        when = f" (lease until {until:%Y-%m-%d %H:%M:%S %Z})" if until else ""
        super().__init__(f"{job} is running on {running_on or 'another runner'}{when}")


class Runner:
    """Runs the due jobs of one process; ``run_periodic`` drives it, once or in a loop."""

    def __init__(
        self,
        jobs: Mapping[str, Job] | None = None,
        *,
        holder: str | None = None,
        stop: Callable[[], bool] = lambda: False,
    ):
        self.jobs = dict(sorted((jobs if jobs is not None else REGISTRY).items()))
        self.holder = holder or holder_name()
        self.stop = stop
        self._synced = False

    def sync(self) -> None:
        if not self._synced:
            schedule_sync(self.jobs.values())
            self._synced = True

    def run_due(self, *, only: Iterable[str] | None = None, force: bool = False) -> list[Outcome]:
        """Run, one after the other, every job that is due and not leased elsewhere (``force``: the
        ``only`` jobs now, due or not; one that is leased elsewhere raises ``Busy``)."""
        self.sync()
        names = list(only) if only is not None else list(self.jobs)
        outcomes = []
        for name in names:
            if self.stop():
                break
            job = self.jobs[name]
            started = timezone.now()
            token = job_claim(job, holder=self.holder, now=started, force=force)
            if token is None:
                if force:
                    row = PeriodicJob.objects.get(name=name)
                    raise Busy(name, row.running_on, row.lease_until)
                continue
            outcomes.append(job_run(job, token=token, holder=self.holder, started=started, stop=self.stop))
        return outcomes

    def seconds_to_next(self, *, now: dt.datetime | None = None) -> float:
        """How long until one of our jobs may be claimed (due, and its lease, if any, expired)."""
        now = now or timezone.now()
        rows = PeriodicJob.objects.filter(name__in=list(self.jobs)).values_list("next_due", "lease_until")
        moments = [max(due, lease) if lease else due for due, lease in rows]
        if len(moments) < len(self.jobs):  # a row was deleted: recreate it at the next run
            self._synced = False
            return 0.0
        if not moments:
            return MAX_SLEEP
        return min(MAX_SLEEP, max(0.0, (min(moments) - now).total_seconds()))
