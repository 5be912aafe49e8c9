"""Load: gunicorn with 4 workers on the bench's PostgreSQL database, 50 concurrent users for 60 s (locust,
headless, in a process of its own: bench/locustfile.py), a mix of reads and writes.

Seeds its own data on the bench database (officers with a few hundred warrants each, a reviewer, an
auditor), signs each in with the second factor verified by writing the session rows directly (no password
or code goes over the wire), then starts gunicorn on 127.0.0.1 and a free port, and locust against it.
Prints the throughput, p50/p95/p99 per endpoint class and overall, and the count of 5xx answers, next to the
goals (0 server errors; warrant list p95 <= 100 ms). ``BENCH_LOAD_SECONDS`` (default 60; ``--quick``: 15),
``BENCH_LOAD_USERS`` (default 50) and ``BENCH_LOAD_WAIT`` (a user's pause between two clicks, "min,max"
seconds, default "1,5") change the load.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
OFFICERS = 10
WARRANTS_PER_OFFICER = 300
WORKERS = 4
LIST_GOAL_MS = 100.0
# A user's pause between two clicks, seconds: 1-5 s, locust's own example of a person using a site. The
# stress variant of earlier runs (0.2-1 s: 50 users asking ~70 pages a second of 2 shared cores) measures
# the machine's ceiling rather than a legal team's day; BENCH_LOAD_WAIT="0.2,1" runs it again.
WAIT = os.environ.get("BENCH_LOAD_WAIT", "1,5")
# Users arrive over the first seconds (50 users clicking at the same instant is a burst no office makes,
# and queued 50 requests on 4 workers); the figures are those of the requests started after the last one
# arrived: the steady state (bench/locustfile.py). 5xx answers are counted over the whole run.
RAMP_SECONDS = 5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return (
        f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'])}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{quote(db['NAME'])}"
    )


def verified_client(user):
    """A test client signed in as ``user`` with the second factor verified, as the login views leave it."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    try:
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice
    except ImportError:  # before two-factor login: the password session is enough
        return client
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def signed_in(user) -> dict:
    """The cookies of a session of ``user`` (password and second factor done), for locust."""
    from django.conf import settings
    from django.utils.crypto import get_random_string

    client = verified_client(user)
    return {
        "username": user.get_username(),
        "sessionid": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "csrftoken": get_random_string(32),  # a CSRF secret: the cookie holds it, the header repeats it
    }


def seed(people: dict) -> dict:
    """Officers with their warrants, the reviewer and the auditor, signed in; what locustfile.py reads."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from bench import fixtures
    from requests_app.models import Warrant
    from warrantdesk.roles import Role

    agency_list = fixtures.agencies()
    officers = []
    group = Group.objects.get(name=Role.INTAKE_OFFICER.value)
    for number in range(OFFICERS):
        user, _created = get_user_model().objects.get_or_create(username=f"load.officer.{number}")
        user.groups.add(group)
        fixtures.warrants(
            WARRANTS_PER_OFFICER, officer=user, reviewer=people["reviewer.park"], agency_list=agency_list, seed=number
        )
        session = signed_in(user)
        session["warrants"] = list(
            Warrant.objects.filter(created_by=user).order_by("?").values_list("pk", flat=True)[:200]
        )
        officers.append(session)
    fixtures.settle()
    return {
        "officers": officers,
        "reviewer": signed_in(people["reviewer.park"]),
        "auditor": signed_in(people["auditor.choi"]),
        "agency": agency_list[0].code,
    }


def _wait_up(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start (status {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within 60 s")


def _warm_up(base: str, session: dict) -> None:
    """A few requests of each kind first, so that every worker has imported its views and templates and
    holds its database connection: the figures are those of a running site, not of its first seconds."""
    cookie = f"sessionid={session['sessionid']}"
    paths = ["/warrants/", f"/warrants/{session['warrants'][0]}/", "/api/v1/warrants/", "/warrants/?q=WD-"]
    for _round in range(2 * WORKERS):
        for path in paths:
            request = urllib.request.Request(base + path, headers={"Cookie": cookie})
            with contextlib.suppress(OSError):  # HTTPError is an OSError
                urllib.request.urlopen(request, timeout=30).close()


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def _tree_cpu(pid: int, before: dict[int, float] | None = None):
    """CPU seconds of a process and its children: a map pid -> seconds, or with ``before`` the seconds
    spent since then by the processes there both times (a worker replaced mid-run is left out)."""
    import psutil

    try:
        processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        processes = []
    now: dict[int, float] = {}
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            now[process.pid] = times.user + times.system
    if before is None:
        return now
    return sum(seconds - before[pid] for pid, seconds in now.items() if pid in before)


def _database_cpu(before: dict[int, float] | None = None):
    """The same for every PostgreSQL server process on this machine (0 when the server is elsewhere)."""
    import psutil

    now: dict[int, float] = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] in {"postgres", "postmaster"} and process.info["cpu_times"] is not None:
            now[process.pid] = process.info["cpu_times"].user + process.info["cpu_times"].system
    if before is None:
        return now
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


def _machine_cpu() -> float:
    """Seconds of CPU the whole machine spent (user, nice, system, irq, softirq), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:8]
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields)
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def bench_load(args, report, people: dict) -> None:
    from django.db import connection

    from bench.run import Row, say

    if connection.vendor != "postgresql":
        if url := os.environ.get("BENCH_LOAD_DATABASE_URL"):
            _run_on_postgresql(args, report, url)
        else:
            report.notes.append("load: skipped (needs PostgreSQL: BENCH_DATABASE_URL or BENCH_LOAD_DATABASE_URL)")
        return
    seconds = int(os.environ.get("BENCH_LOAD_SECONDS") or (15 if args.quick else 60))
    users = int(os.environ.get("BENCH_LOAD_USERS") or 50)
    say(f"\n[load] seeding {OFFICERS} officers x {WARRANTS_PER_OFFICER} warrants, sessions with the second factor ...")
    sessions = seed(people)
    work = Path(tempfile.mkdtemp(prefix="warrantdesk-load-"))
    (work / "sessions.json").write_text(json.dumps(sessions))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(WORKERS),
        "GUNICORN_LOG_LEVEL": "warning",
        "LOG_LEVEL": "WARNING",
        "BENCH_LOAD_SESSIONS": str(work / "sessions.json"),
        "BENCH_LOAD_RESULT": str(work / "result.json"),
        "BENCH_LOAD_WAIT": WAIT,
        # As in production (WARRANTDESK_PRODUCTION=1): each worker keeps its database connection. Without
        # it every request opened one, a new server process and a SCRAM exchange each time.
        "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60"),
    }
    bin_dir = Path(sys.executable).parent
    # Locust's children must not die with a closed connection pool: they inherit no database connection.
    connection.close()
    server = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "gunicorn.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    load_before = os.getloadavg()[0]
    try:
        _wait_up(f"http://127.0.0.1:{port}/accounts/login/", server)
        _warm_up(f"http://127.0.0.1:{port}", sessions["officers"][0])
        say(f"[load] gunicorn ({WORKERS} workers) on 127.0.0.1:{port}; locust: {users} users for {seconds} s ...")
        started = time.perf_counter()
        machine_before, children_before = _machine_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
        app_before, database_before = _tree_cpu(server.pid), _database_cpu()
        subprocess.run(
            [
                str(bin_dir / "locust"),
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "--only-summary",
                "--users",
                str(users),
                "--spawn-rate",  # the users arrive over RAMP_SECONDS, not all at one instant
                str(max(users / RAMP_SECONDS, 1)),
                "--run-time",
                f"{seconds}s",
                "--stop-timeout",
                "10",
                "--host",
                f"http://127.0.0.1:{port}",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(work / "locust.log", "w"),  # noqa: SIM115
            check=False,
            timeout=seconds + 120,
        )
        elapsed = time.perf_counter() - started
        cpu = {
            "app": _tree_cpu(server.pid, app_before),
            "locust": _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu(children_before),
            "database": _database_cpu(database_before),
        }
        cpu["machine"] = _machine_cpu() - machine_before
        load_during = os.getloadavg()[0]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    result_file = work / "result.json"
    if not result_file.exists():
        tail = (work / "locust.log").read_text()[-1500:]
        report.add(Row("load: locust run", "no result", tail.replace("\n", " ")[:200], "goal: 0 errors", ok=False))
        shutil.rmtree(work, ignore_errors=True)
        return
    result = json.loads(result_file.read_text())
    server_errors = [line for line in (work / "gunicorn.log").read_text().splitlines() if "Traceback" in line]
    if "CPU usage above" in (work / "locust.log").read_text():
        report.notes.append("load: locust warned that its own CPU use went above 90%: the client was a bottleneck too")
    shutil.rmtree(work, ignore_errors=True)
    _report(report, result, seconds=seconds, elapsed=result.get("measured_seconds") or elapsed, users=users)
    answered = sum(count for _name, kind, count in result["status"] if kind != "no answer") or 1
    other = cpu["machine"] - cpu["app"] - cpu["locust"] - cpu["database"]
    report.notes.append(
        "load: CPU a request: "
        + ", ".join(
            f"{name} {seconds / answered * 1000:.1f} ms"
            for name, seconds in (
                ("gunicorn workers (the app)", cpu["app"]),
                ("PostgreSQL", cpu["database"]),
                ("locust", cpu["locust"]),
                ("anything else on the machine", max(other, 0.0)),
            )
        )
        + f"; the machine was busy {cpu['machine'] / elapsed / (os.cpu_count() or 1):.0%} of its "
        f"{os.cpu_count()} cores during the run"
    )
    counts: dict[str, int] = defaultdict(int)
    for _name, kind, count in result["status"]:
        counts[kind] += count
    errors = counts.get("5xx", 0) + counts.get("no answer", 0)
    refused = [f"{name} {count}" for name, kind, count in result["status"] if kind == "4xx"]
    if refused:
        report.notes.append(f"load: 4xx answers by request: {', '.join(refused)}")
    report.add(
        Row(
            f"load: 5xx answers ({users} users, {seconds} s)",
            str(errors),
            ", ".join(f"{kind} {count:,}" for kind, count in sorted(counts.items())),
            "goal: 0 errors",
            ok=errors == 0,
        )
    )
    report.notes.append(
        f"load: gunicorn {WORKERS} sync workers (database connections kept {env['DB_CONN_MAX_AGE']} s) + locust "
        f"({users} users arriving over {RAMP_SECONDS} s, figures of the requests after that; "
        f"wait {WAIT.replace(',', '-')} s between "
        "clicks) + PostgreSQL "
        f"on {os.cpu_count()} cores, shared with whatever else runs (load average 1 min: {load_before:.1f} before, "
        f"{load_during:.1f} at the end); {OFFICERS} officers x {WARRANTS_PER_OFFICER} warrants seeded; "
        f"tracebacks in gunicorn's log: {len(server_errors)}"
    )


def _run_on_postgresql(args, report, url: str) -> None:
    """The rest of the bench runs on SQLite: the load runs in a bench process of its own on PostgreSQL
    (its own warrantdesk_bench database there), whose rows come back through a JSON file."""
    from bench.run import Row, say

    say("\n[load] on PostgreSQL (BENCH_LOAD_DATABASE_URL), in a bench process of its own ...")
    with tempfile.TemporaryDirectory(prefix="warrantdesk-load-rows-") as tmp:
        rows_file = Path(tmp) / "rows.json"
        env = {
            **os.environ,
            "BENCH_DATABASE_URL": url,
            "BENCH_DB_NAME": "warrantdesk_bench_load",
            "BENCH_LOAD_ROWS": str(rows_file),
        }
        env.pop("BENCH_LOAD_DATABASE_URL")
        command = [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "load"] + (
            ["--quick"] if args.quick else []
        )
        subprocess.run(command, cwd=ROOT, env=env, check=False)
        if not rows_file.exists():
            report.add(Row("load on PostgreSQL", "did not run", "see the output above", "goal: 0 errors", ok=False))
            return
        rows, notes = json.loads(rows_file.read_text())
    for row in rows:
        report.add(Row(**row))
    report.notes.extend(notes)


def save_rows(report) -> None:
    """In the child of ``_run_on_postgresql``: hand the load's rows and notes to the parent."""
    import dataclasses

    if target := os.environ.get("BENCH_LOAD_ROWS"):
        rows = [dataclasses.asdict(row) for row in report.rows if row.label.startswith("load")]
        notes = [note for note in report.notes if note.startswith("load")]
        Path(target).write_text(json.dumps([rows, notes]))


def _report(report, result: dict, *, seconds: int, elapsed: float, users: int) -> None:
    from bench.run import Row

    by_name: dict[str, list[float]] = defaultdict(list)
    for name, ms in result["times"]:
        by_name[name].append(ms)
    classes: dict[str, list[float]] = defaultdict(list)
    for name, times in by_name.items():
        classes[name.split(":", 1)[0]].extend(times)
    everything = [ms for times in by_name.values() for ms in times]
    if not everything:
        report.add(Row("load: requests answered", "0", goal="goal: 0 errors", ok=False))
        return

    def figures(times: list[float]) -> str:
        return f"p50 {percentile(times, 50):.0f} / p95 {percentile(times, 95):.0f} / p99 {percentile(times, 99):.0f} ms"

    report.add(
        Row(
            f"load: overall, {users} users, {seconds} s",
            f"{len(everything) / elapsed:,.0f} req/s",
            f"{len(everything):,} requests; {figures(everything)}",
        )
    )
    for kind in sorted(classes):
        times = classes[kind]
        report.add(Row(f"load: all {kind}s", f"{len(times) / elapsed:,.1f} req/s", figures(times)))
    for name in sorted(by_name):
        times = by_name[name]
        is_list = name in {"read: warrant list (web)", "read: API list"}
        p95 = percentile(times, 95)
        report.add(
            Row(
                f"load: {name}",
                f"p95 {p95:.0f} ms",
                f"{len(times):,} requests; {figures(times)}",
                f"goal: p95 <= {LIST_GOAL_MS:.0f} ms" if is_list else "",
                ok=p95 <= LIST_GOAL_MS if is_list else None,
            )
        )
