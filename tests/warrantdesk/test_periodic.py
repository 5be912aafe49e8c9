"""Periodic jobs (warrantdesk/periodic.py, manage.py run_periodic): one run at a time across processes."""

import base64
import dataclasses
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from tests.conftest import TEST_KEK, TEST_SIGNING_KEY_PEM
from warrantdesk import periodic
from warrantdesk.models import AuditAction, AuditEntry, PeriodicJob

ROOT = Path(settings.BASE_DIR)
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Calls:
    """A job that counts its runs (thread-safe) and returns a summary."""

    def __init__(self, summary=None):
        self.count = 0
        self.lock = threading.Lock()
        self.summary = summary if summary is not None else {"done": 1}

    def __call__(self):
        with self.lock:
            self.count += 1
        return self.summary


@pytest.fixture
def jobs(monkeypatch):
    """An empty registry for the test (the apps' jobs are put back afterwards); returns it."""
    registry: dict[str, periodic.Job] = {}
    monkeypatch.setattr(periodic, "REGISTRY", registry)
    return registry


def ran(name: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=AuditAction.PERIODIC_RAN, details__job=name))


# --- registering ----------------------------------------------------------------------------------


def test_registering_the_same_job_twice_is_a_no_op_and_another_job_under_its_name_is_refused(jobs):
    calls = Calls()

    periodic.register("sweep", every=dt.timedelta(minutes=5), run=calls)
    periodic.register("sweep", every=dt.timedelta(minutes=5), run=calls)

    assert list(periodic.registered()) == ["sweep"]
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        periodic.register("sweep", every=dt.timedelta(minutes=10), run=calls)
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        periodic.register("sweep", every=dt.timedelta(minutes=5), run=Calls())


@pytest.mark.parametrize("name", ["", "Sweep", "two words", "-dash-first", "x" * 65, "a/b", "naïve"])
def test_a_job_name_outside_the_safe_alphabet_is_refused(jobs, name):
    with pytest.raises(ImproperlyConfigured, match="name"):
        periodic.register(name, every=dt.timedelta(minutes=1), run=Calls())


@pytest.mark.parametrize("field", ["every", "lease"])
def test_a_zero_or_negative_interval_or_lease_is_refused(jobs, field):
    kwargs = {"every": dt.timedelta(minutes=1), field: dt.timedelta(0)}

    with pytest.raises(ImproperlyConfigured, match=field):
        periodic.register("sweep", run=Calls(), **kwargs)


def test_disclosure_registers_the_due_notices_job():
    job = periodic.registered()["notifications.send_due"]

    assert job.every == dt.timedelta(minutes=1)
    assert job.takes_stop


def test_the_summary_keeps_numbers_and_booleans_only():
    @dataclasses.dataclass
    class Result:
        sent: int = 3
        rate: float = 1.5
        complete: bool = True
        warrants: set = dataclasses.field(default_factory=lambda: {"WD-2026-000001"})
        subject: str = "Your data was disclosed"

    assert periodic.summarise(Result()) == {"sent": 3, "rate": 1.5, "complete": True}
    assert periodic.summarise({"removed": 2, "body": "hello", 7: 1, "Bad Key": 1, "nested": {"a": 1}}) == {"removed": 2}
    assert periodic.summarise(None) == {}
    assert periodic.summarise("3 sent") == {}


def test_a_failure_is_described_by_its_type_and_message_without_credentials_or_keys():
    key = base64.b64encode(bytes(range(32))).decode()
    exc = RuntimeError(f"connect postgres://warrant:s3cret@db/wd failed; password=hunter2 key {key}\nsecond line")

    described = periodic.describe_failure(exc)

    assert described.startswith("RuntimeError: connect postgres://***@db/wd failed;")
    assert "s3cret" not in described and "hunter2" not in described and key not in described
    assert "\n" not in described and len(periodic.describe_failure(RuntimeError("x" * 1000))) <= 300


# --- running --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_due_job_runs_once_is_audited_with_its_counts_and_is_due_again_after_its_interval(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    calls = Calls({"messages_removed": 120, "kept_by_holds": 4, "note": "never stored"})
    periodic.register("retention.purge", every=dt.timedelta(hours=1), run=calls)
    runner = periodic.Runner()

    first = runner.run_due()
    again = runner.run_due()

    assert [str(outcome) for outcome in first] == ["retention.purge: ok (messages_removed=120, kept_by_holds=4)"]
    assert again == [] and calls.count == 1
    row = PeriodicJob.objects.get(name="retention.purge")
    assert row.last_outcome == PeriodicJob.Outcome.OK
    assert row.last_started_at == row.last_finished_at == START
    assert row.next_due == START + dt.timedelta(hours=1)
    assert row.lease_until is None and row.claim_token == "" and row.running_on == ""
    assert row.last_summary == {"messages_removed": 120, "kept_by_holds": 4}
    (entry,) = ran("retention.purge")
    assert entry.details == {
        "job": "retention.purge",
        "result": "OK",
        "counts": {"kept_by_holds": 4, "messages_removed": 120},
        "runner": runner.holder,
    }
    assert entry.actor is None and entry.actor_label == "system"

    time_machine.move_to(START + dt.timedelta(minutes=59), tick=False)
    assert runner.run_due() == []
    time_machine.move_to(START + dt.timedelta(hours=1), tick=False)
    assert [outcome.job for outcome in runner.run_due()] == ["retention.purge"]
    assert calls.count == 2


@pytest.mark.django_db
def test_a_run_longer_than_the_interval_is_next_due_one_interval_after_it_ended(jobs, time_machine):
    time_machine.move_to(START, tick=False)

    def slow():
        time_machine.move_to(START + dt.timedelta(minutes=3), tick=False)
        return {}

    periodic.register("slow", every=dt.timedelta(minutes=1), run=slow)

    periodic.Runner().run_due()

    assert PeriodicJob.objects.get(name="slow").next_due == START + dt.timedelta(minutes=4)


@pytest.mark.django_db
def test_a_changed_interval_applies_from_now_on(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    periodic.register("digest", every=dt.timedelta(days=1), run=Calls())
    periodic.Runner().run_due()
    jobs.clear()
    periodic.register("digest", every=dt.timedelta(hours=1), run=Calls())

    periodic.Runner().sync()

    row = PeriodicJob.objects.get(name="digest")
    assert (row.interval, row.next_due) == (dt.timedelta(hours=1), START + dt.timedelta(hours=1))


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_others_and_is_retried_at_its_next_due_time(jobs, time_machine):
    time_machine.move_to(START, tick=False)

    def broken():
        raise ConnectionRefusedError("smtp://mailer:hunter2@mail.example refused")

    after = Calls({"sent": 2})
    periodic.register("a.broken", every=dt.timedelta(minutes=10), run=broken)
    periodic.register("b.after", every=dt.timedelta(minutes=10), run=after)
    out = io.StringIO()

    with pytest.raises(CommandError, match=r"1 job\(s\) failed: a.broken"):
        call_command("run_periodic", "--once", stdout=out)

    assert after.count == 1
    row = PeriodicJob.objects.get(name="a.broken")
    assert row.last_outcome == PeriodicJob.Outcome.FAILED
    assert row.last_error == "ConnectionRefusedError: smtp://***@mail.example refused"
    assert row.lease_until is None and row.next_due == START + dt.timedelta(minutes=10)
    (entry,) = ran("a.broken")
    assert entry.details["result"] == "FAILED" and entry.details["error"] == "ConnectionRefusedError"
    assert "hunter2" not in str(entry.details) and "mail.example" not in str(entry.details)
    assert "a.broken: FAILED (ConnectionRefusedError: smtp://***@mail.example refused)" in out.getvalue()
    assert "b.after: ok (sent=2)" in out.getvalue()

    time_machine.move_to(START + dt.timedelta(minutes=10), tick=False)
    with pytest.raises(CommandError):
        call_command("run_periodic", "--once", stdout=io.StringIO())
    assert len(ran("a.broken")) == 2 and after.count == 2


@pytest.mark.django_db
def test_once_runs_what_is_due_then_exits(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    due, later = Calls(), Calls()
    periodic.register("due", every=dt.timedelta(minutes=1), run=due)
    periodic.register("later", every=dt.timedelta(days=1), run=later)
    PeriodicJob.objects.create(name="later", interval=dt.timedelta(days=1), next_due=START + dt.timedelta(hours=5))
    out = io.StringIO()

    call_command("run_periodic", "--once", stdout=out)

    assert (due.count, later.count) == (1, 0)
    assert out.getvalue() == "[2026-12-01 18:00:00] run_periodic: due: ok (done=1)\n"  # TIME_ZONE Asia/Seoul


@pytest.mark.django_db
def test_job_runs_a_job_now_even_when_it_is_not_due(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    purge, other = Calls(), Calls()
    periodic.register("purge", every=dt.timedelta(days=1), run=purge)
    periodic.register("other", every=dt.timedelta(minutes=1), run=other)
    PeriodicJob.objects.create(name="purge", interval=dt.timedelta(days=1), next_due=START + dt.timedelta(hours=5))

    call_command("run_periodic", "--job", "purge", stdout=io.StringIO())

    assert (purge.count, other.count) == (1, 0)
    assert PeriodicJob.objects.get(name="purge").next_due == START + dt.timedelta(days=1)


@pytest.mark.django_db
def test_an_unknown_job_is_refused_with_the_known_names(jobs):
    periodic.register("purge", every=dt.timedelta(days=1), run=Calls())

    with pytest.raises(CommandError, match="unknown job nope; known: purge"):
        call_command("run_periodic", "--job", "nope")


@pytest.mark.django_db
def test_forcing_a_job_that_runs_elsewhere_names_the_runner_and_runs_nothing(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    purge = Calls()
    job = periodic.register("purge", every=dt.timedelta(days=1), run=purge)
    periodic.schedule_sync([job])
    assert periodic.job_claim(job, holder="worker-2:4242")

    with pytest.raises(CommandError, match="purge is running on worker-2:4242"):
        call_command("run_periodic", "--job", "purge")

    assert purge.count == 0


@pytest.mark.django_db
def test_list_shows_each_job_and_its_last_run(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    periodic.register("purge", every=dt.timedelta(hours=1), run=Calls())
    periodic.Runner().run_due()
    out = io.StringIO()

    call_command("run_periodic", "--list", stdout=out)

    assert out.getvalue() == "purge: every 1:00:00, next due 2026-12-01 19:00:00, last OK at 2026-12-01 18:00:00\n"


@pytest.mark.django_db
def test_the_due_notices_job_runs_through_the_command_and_audits_its_counts():
    call_command("run_periodic", "--job", "notifications.send_due", stdout=io.StringIO())

    (entry,) = ran("notifications.send_due")
    assert entry.details["result"] == "OK"
    assert entry.details["counts"] == {"closed": 0, "failed": 0, "letters": 0, "sent": 0, "unconfirmed": 0}


# --- one run at a time --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_while_one_runner_holds_a_job_another_runner_skips_it(jobs):
    inside, release = threading.Event(), threading.Event()
    runs = []

    def blocking():
        runs.append(threading.current_thread().name)
        inside.set()
        release.wait(timeout=30)
        return {"done": 1}

    periodic.register("purge", every=dt.timedelta(hours=1), run=blocking)
    first = threading.Thread(target=lambda: (periodic.Runner(holder="first:1").run_due(), connection.close()))
    first.start()
    assert inside.wait(timeout=30)

    skipped = periodic.Runner(holder="second:2").run_due()

    release.set()
    first.join(timeout=30)
    assert skipped == [] and len(runs) == 1
    assert [entry.details["runner"] for entry in ran("purge")] == ["first:1"]


RACERS = 6


@pytest.mark.django_db(transaction=True)
def test_runners_racing_for_the_same_due_jobs_run_each_exactly_once(jobs):
    calls = {name: Calls() for name in ("a", "b", "c")}
    for name, job in calls.items():
        periodic.register(name, every=dt.timedelta(hours=1), run=job)
    periodic.Runner().sync()
    start = threading.Barrier(RACERS)
    failures = []

    def race(number: int) -> None:
        try:
            runner = periodic.Runner(holder=f"racer:{number}")
            runner._synced = True
            start.wait(timeout=30)
            runner.run_due()
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(number,)) for number in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert {name: job.count for name, job in calls.items()} == {"a": 1, "b": 1, "c": 1}
    assert {name: len(ran(name)) for name in calls} == {"a": 1, "b": 1, "c": 1}


@pytest.mark.django_db
def test_a_crashed_runs_lease_expires_and_the_job_runs_again(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    purge = Calls()
    job = periodic.register("purge", every=dt.timedelta(hours=1), run=purge, lease=dt.timedelta(minutes=20))
    periodic.schedule_sync([job])
    crashed_token = periodic.job_claim(job, holder="dead-host:99")  # claimed, then the process died
    runner = periodic.Runner(holder="alive:1")

    time_machine.move_to(START + dt.timedelta(minutes=19), tick=False)
    assert runner.run_due() == [] and purge.count == 0
    assert runner.seconds_to_next() == 60.0  # MAX_SLEEP: the lease ends in 1 minute
    time_machine.move_to(START + dt.timedelta(minutes=20, seconds=1), tick=False)
    assert [outcome.job for outcome in runner.run_due()] == ["purge"]

    assert purge.count == 1
    row = PeriodicJob.objects.get(name="purge")
    assert row.lease_until is None and row.last_outcome == PeriodicJob.Outcome.OK
    # The dead runner's late report changes nothing in the schedule, and says the lease was lost.
    late = periodic.job_finish(
        job,
        token=crashed_token,
        holder="dead-host:99",
        started=START,
        outcome=periodic.Outcome(job="purge", ok=True, summary={}),
    )
    assert late.lease_lost
    assert PeriodicJob.objects.get(name="purge").last_started_at == START + dt.timedelta(minutes=20, seconds=1)
    assert [entry.details.get("lease_lost", False) for entry in ran("purge")] == [False, True]


@pytest.mark.django_db
def test_the_runner_sleeps_until_the_next_job_is_due(jobs, time_machine):
    time_machine.move_to(START, tick=False)
    periodic.register("often", every=dt.timedelta(seconds=30), run=Calls())
    periodic.register("rarely", every=dt.timedelta(hours=1), run=Calls())
    runner = periodic.Runner()
    runner.run_due()

    assert runner.seconds_to_next() == 30.0
    PeriodicJob.objects.filter(name="often").delete()
    assert runner.seconds_to_next() == 0.0
    runner.run_due()
    assert PeriodicJob.objects.filter(name="often").exists()


# --- the loop -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sigterm_stops_the_loop_after_the_running_job_is_recorded(jobs):
    stops_seen = []

    def terminate(stop):
        os.kill(os.getpid(), signal.SIGTERM)  # as systemd or make run's Ctrl-C would
        stops_seen.append(stop())
        return {"done": 1}

    after = Calls()
    periodic.register("a.terminate", every=dt.timedelta(seconds=1), run=terminate, takes_stop=True)
    periodic.register("b.after", every=dt.timedelta(seconds=1), run=after)
    before = signal.getsignal(signal.SIGTERM)
    out = io.StringIO()

    call_command("run_periodic", stdout=out)

    assert stops_seen == [True]  # a job that takes ``stop`` is told
    assert after.count == 0  # no new job starts once stopping
    assert len(ran("a.terminate")) == 1
    assert PeriodicJob.objects.get(name="a.terminate").lease_until is None
    assert out.getvalue().splitlines()[0].startswith("run_periodic: running a.terminate (every 0:00:01), b.after")
    assert out.getvalue().splitlines()[-1] == "run_periodic: stopped"
    assert signal.getsignal(signal.SIGTERM) is before


# --- two real processes at once -----------------------------------------------------------------

PROBES = 5
RUNNER_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from datetime import timedelta
    from pathlib import Path

    import django

    django.setup()
    from django.core.management import execute_from_command_line

    from warrantdesk import periodic

    work = Path(sys.argv[1])

    def probe(name):
        def run():
            # One file per run: a second run of the same job fails here (O_EXCL), or adds a second file.
            (work / "runs" / f"{name}.{os.getpid()}").touch(exist_ok=False)
            time.sleep(0.2)  # keep the lease a little while, so the other runner meets it
            return {"probed": 1}
        return run

    for number in range(int(sys.argv[2])):
        periodic.register(f"probe.{number}", every=timedelta(hours=1), run=probe(f"probe.{number}"))

    (work / f"ready.{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (work / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    execute_from_command_line(["manage.py", "run_periodic", "--once"])
    """
)


def database_url() -> str:
    """The URL of the test database itself, for the runners in subprocesses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def two_runners_at_once(tmp_path) -> list[subprocess.CompletedProcess]:
    (tmp_path / "runs").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    env |= {
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "warrantdesk.settings",
        "WARRANTDESK_VAR_DIR": str(tmp_path / "var"),
        "WARRANTDESK_KEK": base64.b64encode(TEST_KEK).decode(),
        "WARRANTDESK_SIGNING_KEY": TEST_SIGNING_KEY_PEM,
        "MAIL_BACKEND": "console",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RUNNER_SCRIPT, str(tmp_path), str(PROBES)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready.*"))) < 2 and time.monotonic() < deadline:
            if any(process.poll() is not None for process in processes):
                break
            time.sleep(0.05)
        (tmp_path / "go").touch()
        results = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=180)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


def assert_each_due_job_ran_exactly_once(tmp_path, results) -> None:
    for result in results:
        # 1 only when one of the apps' own jobs failed in this bare environment; it ran all the same
        assert result.returncode in (0, 1), result.stderr[-3000:]
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
    probes = [f"probe.{number}" for number in range(PROBES)]
    runs = sorted(path.name.rsplit(".", 1)[0] for path in (tmp_path / "runs").iterdir())
    assert runs == probes  # each probe once: none twice, none lost
    names = [*probes, *periodic.registered()]
    assert {name: len(ran(name)) for name in names} == dict.fromkeys(names, 1)
    rows = PeriodicJob.objects.filter(name__in=names)
    assert rows.count() == len(names)
    assert all(row.lease_until is None and row.last_outcome and row.next_due > timezone.now() for row in rows)
    printed = "".join(result.stdout for result in results)
    assert sorted(line.split(": ")[1] for line in printed.splitlines() if "run_periodic: " in line) == sorted(names)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_two_run_periodic_once_processes_at_once_run_each_due_job_exactly_once(tmp_path):
    results = two_runners_at_once(tmp_path)

    assert_each_due_job_ran_exactly_once(tmp_path, results)


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="the PostgreSQL run has its own test above"
)
@pytest.mark.django_db(transaction=True)
def test_on_sqlite_two_run_periodic_once_processes_at_once_run_each_due_job_exactly_once(tmp_path):
    results = two_runners_at_once(tmp_path)

    assert_each_due_job_ran_exactly_once(tmp_path, results)
