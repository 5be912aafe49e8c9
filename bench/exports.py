"""Benchmark 5: exporting a warrant's package on the 1,000,000-message store.

The warrant's scope is the whole store: one synthetic target account (``bench-export-target``) is
made a member of every room for the whole period (one Membership row per room, joined before the
first message, never left), so every message of every room is in scope and "the same rows" means
all of them. The target sends nothing: all 10,000 senders are pseudonymised and every account is
in the redactor's name list, the heaviest case the store allows.

Figures (see bench/README.md):

1. raw SQL fetch: the exporter's own SELECT (same columns, filter and order), compiled from the
   ORM, run on a plain DB-API cursor (Django's chunked cursor: a server-side cursor on PostgreSQL)
   in a ``fetchmany(5000)`` loop, nothing else; median of 3 runs;
2. the JSON+CSV pass (``disclosure.exports.package._write_conversations``) of a real export and its ratio
   to (1);
3. the peak RSS of that export, run as a separate process (``python -m bench.exports --child``:
   ``django.setup()`` then ``call_command("export_warrant", ...)``, what ``manage.py export_warrant``
   runs): its VmHWM at the end; its children's (the reader, the PDF volume processes) through
   RUSAGE_CHILDREN once the forkserver that forked them has been reaped (the forkserver is started
   first thing, see child_main);
4. ``manage.py dumpdata disclosure.Message`` of the same messages, for comparison;
5. the PDF stage's rate (``_write_report``: reading messages.csv back, rendering the volumes in
   parallel processes), on the first ``--pdf-messages`` messages of the scope (default 100,000; a
   million would take 10-20 minutes): the child hands the real ``_write_report`` a copy of
   messages.csv cut after that many rows.

Imported only after django.setup() (see bench/run.py), except as the child (``python -m
bench.exports --child``), which sets Django up itself.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import csv
import datetime as dt
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.run import ROOT, Report, Row, say

GOAL_RATIO = 2.0  # JSON+CSV pass <= 2x the raw SQL fetch of the same rows
GOAL_RSS_MB = 150  # peak RSS of the export process, whatever the size
GOAL_PDF_RATE = 800  # messages/s on 2 cores
FETCH_CHUNK = 5000  # as exports._rows's iterator(chunk_size=5000)
RAW_RUNS = 3
TARGET_UID = "bench-export-target"
TARGET_NAME = "벤치 대상자"
PROFILE_LINES = 15
MB = 1024 * 1024


def bench_exports(args: argparse.Namespace, report: Report, people: dict) -> None:
    from django.db import connection

    from bench import fixtures
    from bench.conversations import ACCOUNTS, ROOMS, SEED
    from demo.generator import generate
    from disclosure.models import Message

    n = args.messages
    say(f"\n[5] exports: a warrant whose scope is the whole store of {n:,} messages ...")
    summary = generate(accounts=ACCOUNTS, rooms=ROOMS, messages=n, seed=SEED, progress=_tenths("messages"))
    if not summary.already_generated:
        say(f"    {summary}")
        fixtures.settle()
    env = _child_env(_bench_keys())
    warrant, target = _whole_store_warrant(people)
    scope = _scope(warrant)
    stored = Message.objects.count()
    say(f"    warrant {warrant.reference}: {len(scope.rooms)} rooms, {scope.message_count:,} of {stored:,} messages")
    if scope.message_count != stored:
        report.notes.append(f"export: the scope holds {scope.message_count:,} of {stored:,} messages, not all")
    fixtures.settle()

    # 1. the raw SQL fetch (the first run also warms the page cache for everything after it)
    sql, params = _scope_query(scope).query.sql_with_params()
    raw_runs = []
    for _ in range(RAW_RUNS):
        raw_runs.append(_raw_fetch(sql, params))
    raw_times = [run.wall for run in raw_runs]
    median_run = sorted(raw_runs, key=lambda run: run.wall)[len(raw_runs) // 2]
    raw, raw_cpu, rows = median_run.wall, median_run.cpu, median_run.rows
    report.add(
        Row(
            f"export: raw SQL fetch, {rows:,} rows",
            f"{raw:.2f} s",
            f"CPU {raw_cpu:.2f} s{median_run.server_text()}; {rows / raw:,.0f} rows/s, fetchmany({FETCH_CHUNK}); "
            f"load {median_run.load:.1f}",
            "(the yardstick: the same rows, sealed bodies as stored, no decryption)",
        )
    )
    from disclosure import bodies
    from disclosure.exports.package import _queries

    opener = bodies.row_opener(*_scope_period(scope))
    decrypted = decrypted_cpu = 0.0
    for room_sql, room_params in _queries(scope):  # the exporter's own queries (UTC text stamps)
        run = _raw_fetch(room_sql, room_params, opener)
        decrypted, decrypted_cpu = decrypted + run.wall, decrypted_cpu + run.cpu
    report.add(
        Row(
            "export: exporter's queries + decrypting the bodies",
            f"{decrypted:.2f} s",
            f"{decrypted / raw:.2f}x raw SQL; CPU {decrypted_cpu:.2f} s = {decrypted_cpu / raw_cpu:.2f}x; one "
            "process, AES-GCM",
            "no goal (the cost of encryption at rest)",
        )
    )
    orm = _orm_fetch(scope)
    report.add(
        Row(
            "export: ORM values_list().iterator(), same rows",
            f"{orm:.2f} s",
            f"{orm / raw:.2f}x raw SQL, no work per row",
            "no goal (where the floor is)",
        )
    )

    # 2, 3, 5: one real export in a separate process
    pdf_n = scope.message_count if args.pdf_messages <= 0 else min(args.pdf_messages, scope.message_count)
    say(f"    exporting in a separate process (PDF of the first {pdf_n:,} messages) ...")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        child = _run_child(warrant.reference, people["officer.kim"].get_username(), pdf_n, Path(tmp), env)
    if child.get("error"):
        report.notes.append(f"export failed, figures missing: {child['error']}")
        report.add(Row("export: JSON+CSV pass", "error", "", f"goal <= {GOAL_RATIO:.0f}x raw SQL", ok=False))
        return
    json_csv = child["json_csv"]
    ratio = json_csv / raw
    pass_cpu = child["cpu_export"] + child["cpu_reader"]
    report.add(
        Row(
            f"export: JSON+CSV pass, {child['messages']:,} messages",
            f"{json_csv:.2f} s",
            f"= {ratio:.2f}x raw SQL (wall); {child['messages'] / json_csv:,.0f} msgs/s; load {child['load']:.1f}",
            f"goal <= {GOAL_RATIO:.0f}x raw SQL",
            ok=ratio <= GOAL_RATIO,
        )
    )
    report.add(
        Row(
            "export: JSON+CSV pass, CPU time (user+sys)",
            f"{pass_cpu:.2f} s",
            f"export process {child['cpu_export']:.2f} s + reader process {child['cpu_reader']:.2f} s "
            f"= {pass_cpu / raw_cpu:.2f}x the raw fetch's CPU ({raw_cpu:.2f} s); database server's not counted",
            "no goal (wall time on a loaded machine is noisy)",
        )
    )
    main_mb, children_mb = child["rss_self"] / MB, child["rss_children"] / MB
    report.add(
        Row(
            "export: peak RSS, export_warrant process",
            f"{main_mb:.0f} MB",
            f"end of JSON+CSV {child['rss_after_json_csv'] / MB:.0f} MB, of PDF {child['rss_after_pdf'] / MB:.0f} MB",
            f"goal <= {GOAL_RSS_MB} MB",
            ok=main_mb <= GOAL_RSS_MB,
        )
    )
    report.add(
        Row(
            "export: peak RSS, largest child process",
            f"{children_mb:.0f} MB",
            f"reader; PDF: {child['processes']} at a time, {child['per_volume']:,} msgs/volume each",
            f"goal <= {GOAL_RSS_MB} MB (each process)",
            ok=children_mb <= GOAL_RSS_MB,
        )
    )
    pdf_rate = child["pdf_messages"] / child["pdf"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    report.add(
        Row(
            f"export: PDF, first {child['pdf_messages']:,} messages",
            f"{pdf_rate:,.0f}/s",
            f"{child['pdf']:.1f} s, {child['volumes']} volumes, {child['processes']} processes",
            f"goal >= {GOAL_PDF_RATE}/s on 2 cores" + ("" if cores == 2 else f" ({cores} here)"),
            ok=pdf_rate >= GOAL_PDF_RATE,
        )
    )

    # 4. dumpdata of the same messages
    say("    manage.py dumpdata disclosure.Message ...")
    dump = _dumpdata(env)
    if dump["status"] != 0:
        report.notes.append(f"manage.py dumpdata exited with status {dump['status']}: its figure is meaningless")
    report.add(
        Row(
            f"manage.py dumpdata disclosure.Message, {stored:,}",
            f"{dump['seconds']:.2f} s",
            f"{dump['seconds'] / json_csv:.2f}x the JSON+CSV pass, {dump['size'] / MB:,.0f} MB",
            "no goal (for comparison)",
        )
    )

    report.notes.append(
        f"export scope: synthetic target {TARGET_UID} ({target.display_name}) a member of all {len(scope.rooms)} "
        f"rooms from before the first message, warrant period {_stamp(warrant.period_start)} - "
        f"{_stamp(warrant.period_end)}: {scope.message_count:,} messages, {len(scope.participant_ids):,} senders, "
        f"all pseudonymised"
    )
    report.notes.append(
        f"export run (separate process): {child['command']:.1f} s in all; before the pass {child['setup']:.1f} s "
        f"(participants, redactor), JSON+CSV {json_csv:.1f} s, PDF {child['pdf']:.1f} s, manifest+signature+zip "
        f"{child['package']:.1f} s; conversations.json {child['json_size'] / MB:,.0f} MB, messages.csv "
        f"{child['csv_size'] / MB:,.0f} MB, package {child['zip_size'] / MB:,.0f} MB; "
        f"{child['pseudonymised']:,} pseudonymised"
    )
    report.notes.append(
        "export process peak RSS (VmHWM) at the end of each stage: Django+scope+setup "
        f"{child.get('rss_before_json_csv', 0) / MB:.0f} MB, JSON+CSV "
        f"{child['rss_after_json_csv'] / MB:.0f} MB, PDF {child['rss_after_pdf'] / MB:.0f} MB, manifest+zip "
        f"{child['rss_after_package'] / MB:.0f} MB, publish+copy (the end) {main_mb:.0f} MB"
    )
    report.notes.append(
        f"export raw SQL runs: {', '.join(f'{t:.2f} s' for t in raw_times)} ({connection.vendor}); "
        f"dumpdata peak RSS {dump['rss'] / MB:,.0f} MB"
    )
    if child["pdf_messages"] < child["messages"]:
        report.notes.append(
            f"export PDF: only the first {child['pdf_messages']:,} of {child['messages']:,} messages were rendered "
            f"(--pdf-messages; 0 = all); the JSON+CSV pass, raw SQL and dumpdata use all of them"
        )
    if args.profile or ratio > GOAL_RATIO:
        _profile_pass(warrant)


# --- the warrant ------------------------------------------------------------------------------------


def _tenths(what: str):
    shown = {"tenth": 0}

    def progress(done: int, total: int) -> None:
        if total and done * 10 // total > shown["tenth"]:
            shown["tenth"] = done * 10 // total
            say(f"    {done:,} {what}")

    return progress


def _bench_keys() -> dict[str, str]:
    """A fresh KEK and operator signing key, in this process's settings and for the child processes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.conf import settings

    kek = settings.WARRANTDESK_KEKS[0] if settings.WARRANTDESK_KEKS else os.urandom(32)  # the store's day keys' KEK
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    settings.WARRANTDESK_KEKS = [kek]
    settings.WARRANTDESK_SIGNING_KEY = pem
    return {"WARRANTDESK_KEK": base64.b64encode(kek).decode(), "WARRANTDESK_SIGNING_KEY": pem}


def _child_env(keys: dict[str, str]) -> dict[str, str]:
    """The bench's environment (data directory, settings) plus the keys, and on PostgreSQL the bench database."""
    from django.db import connection

    env = {**os.environ, **keys}
    for name in ("WARRANTDESK_KEK_FILE", "WARRANTDESK_SIGNING_KEY_FILE"):
        env.pop(name, None)
    if connection.vendor != "sqlite" and env.get("DATABASE_URL"):
        url = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _whole_store_warrant(people: dict):
    """An approved warrant whose one target is a member of every room during the whole period."""
    from django.db.models import Max, Min
    from django.utils import timezone

    from demo.management.commands.seed_demo import demo_pdf
    from disclosure.models import Account, Membership, Message, Room
    from requests_app import services
    from requests_app.models import Warrant
    from requests_app.services import TargetInput
    from tests.helpers import verify_signature

    bounds = Message.objects.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    start = bounds["first"].replace(second=0, microsecond=0)
    end = bounds["last"].replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    target, _created = Account.objects.get_or_create(uid=TARGET_UID, defaults={"display_name": TARGET_NAME})
    joined = start - dt.timedelta(days=1)
    member_of = set(Membership.objects.filter(account=target).values_list("room_id", flat=True))
    Membership.objects.bulk_create(
        Membership(room_id=room_id, account=target, joined_at=joined)
        for room_id in Room.objects.values_list("pk", flat=True)
        if room_id not in member_of
    )
    existing = Warrant.objects.filter(warrant_number="bench-export-all").first()
    if existing is not None:
        return existing, target
    officer, reviewer = people["officer.kim"], people["reviewer.park"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    now = timezone.now()
    warrant = services.warrant_register(
        actor=officer,
        agency=_agency(),
        warrant_number="bench-export-all",
        court="Seoul Central District Court",
        legal_basis="Protection of Communications Secrets Act art. 13",
        received_at=now,
        deadline=now + dt.timedelta(days=10),
        period_start=start,
        period_end=end,
        targets=[TargetInput("UID", TARGET_UID)],
        upload=SimpleUploadedFile("warrant.pdf", demo_pdf("Bench export warrant"), "application/pdf"),
    )
    services.warrant_assign(warrant=warrant, user=reviewer, actor=officer)
    verify_signature(warrant, actor=officer)
    return services.warrant_approve(warrant=warrant, actor=reviewer), target


def _agency():
    from bench import fixtures

    return fixtures.agencies()[0]


def _scope(warrant):
    from disclosure.scope import warrant_scope

    return warrant_scope(warrant)


def _scope_query(scope):
    """The exporter's query (disclosure.exports.package._rows) without the iterator."""
    from disclosure.models import Message

    return (
        Message.objects.filter(scope.message_filter())
        .order_by("room_id", "sent_at", "pk")
        .values_list("pk", "room_id", "sender_id", "sent_at", "kind", "sealed_body", "key_generation")
    )


def _scope_period(scope) -> tuple[dt.datetime, dt.datetime]:
    intervals = [interval for item in scope.rooms for interval in item.intervals]
    return min(i.start for i in intervals), max(i.end for i in intervals)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


# --- 1. raw SQL ----------------------------------------------------------------------------------


@dataclass
class Fetch:
    """One timed fetch: wall time, this process's CPU time (user+sys), the database server process's
    when it can be read (PostgreSQL on this machine: /proc of the connection's backend), the load."""

    wall: float
    cpu: float
    rows: int
    server_cpu: float | None
    load: float

    def server_text(self) -> str:
        return "" if self.server_cpu is None else f" + server {self.server_cpu:.2f} s"


def _cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _proc_cpu(pid: int, *, children: bool = False) -> float | None:
    """User+sys seconds of a process of this machine (with ``children``: of its reaped children), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    first = 13 if children else 11  # utime, stime are fields 14, 15; cutime, cstime 16, 17 (man 5 proc)
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def _raw_fetch(sql: str, params, opener=None) -> Fetch:
    """The rows as stored (sealed bodies: no decryption), or with ``opener`` (``bodies.row_opener``, its
    keys read beforehand) every batch's bodies decrypted too, in this one process."""
    from django.db import connection

    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    server_before = _proc_cpu(backend) if backend else None
    rows = 0
    cpu = _cpu_seconds()
    started = time.perf_counter()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(FETCH_CHUNK):
            if opener is not None:
                batch = opener(batch)
            rows += len(batch)
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    server_after = _proc_cpu(backend) if backend else None
    server = None if server_before is None or server_after is None else server_after - server_before
    return Fetch(wall, cpu, rows, server, os.getloadavg()[0])


def _orm_fetch(scope) -> float:
    started = time.perf_counter()
    for _row in _scope_query(scope).iterator(chunk_size=FETCH_CHUNK):
        pass
    return time.perf_counter() - started


# --- 2, 3, 5: the export in a child process --------------------------------------------------------


def _run_child(reference: str, username: str, pdf_messages: int, tmp: Path, env: dict[str, str]) -> dict:
    result = tmp / "result.json"
    command = [
        sys.executable,
        "-m",
        "bench.exports",
        "--child",
        reference,
        "--user",
        username,
        "--out",
        str(tmp / "package.zip"),
        "--pdf-messages",
        str(pdf_messages),
        "--result",
        str(result),
    ]
    with open(tmp / "stdout", "w") as out, open(tmp / "stderr", "w") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        _pid, status, _usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not result.exists():
        tail = (tmp / "stderr").read_text(errors="replace").replace("\r", "\n").strip().splitlines()[-3:]
        return {"error": f"exit {process.returncode}: {' / '.join(tail)}"}
    return json.loads(result.read_text())


def _vm_hwm(pid: int | str = "self") -> int:
    """The peak RSS so far of a process (VmHWM: its own memory only), in bytes; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def child_main(argv: list[str]) -> int:
    """The export as ``manage.py export_warrant`` runs it, with its stages timed from the inside."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", metavar="REFERENCE", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pdf-messages", type=int, required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    # getrusage's ru_maxrss would not do: on Linux a process inherits, at exec, the peak of the process
    # it was forked from (here the bench process), so the export process's own peak is read as VmHWM.
    # Its children (reader, PDF volumes) are forked by the multiprocessing forkserver, which is started now, while this
    # process is small, with the preload render_volumes asks for: started later, it would inherit this
    # process's peak at its exec. Their peak (and the forkserver's) then reaches RUSAGE_CHILDREN.
    from multiprocessing import forkserver

    from disclosure.exports.reader import forkserver_context  # pure: no Django yet

    forkserver_context()
    forkserver.ensure_running()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from disclosure.exports import package as exports

    figures: dict = {"per_volume": settings.WARRANTDESK_PDF_PER_VOLUME}
    real_build, real_conversations = exports.build_package, exports._write_conversations
    real_report = exports._write_report

    def build_package(scope, **kwargs):
        figures["build_started"] = time.perf_counter()
        try:
            return real_build(scope, **kwargs)
        finally:
            figures["package"] = time.perf_counter() - figures.pop("pdf_ended", figures["build_started"])
            figures["rss_after_package"] = _vm_hwm()

    server_pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]

    def write_conversations(scope, work, *rest, **kwargs):
        figures["rss_before_json_csv"] = _vm_hwm()
        # CPU: this process's, and the reader's: a child of the forkserver, which reaps it before
        # read_ahead returns, so its time reaches the forkserver's reaped-children counters.
        cpu, reaped = _cpu_seconds(), _proc_cpu(server_pid, children=True) or 0.0
        started = time.perf_counter()
        figures["setup"] = started - figures["build_started"]
        counts = real_conversations(scope, work, *rest, **kwargs)
        figures["json_csv"] = time.perf_counter() - started
        figures["cpu_export"] = _cpu_seconds() - cpu
        figures["cpu_reader"] = (_proc_cpu(server_pid, children=True) or 0.0) - reaped
        figures["load"] = os.getloadavg()[0]
        figures["rss_after_json_csv"] = _vm_hwm()
        figures["json_size"] = (work / "conversations.json").stat().st_size
        figures["csv_size"] = (work / "messages.csv").stat().st_size
        figures["messages"], figures["pseudonymised"] = counts["messages"], counts["pseudonymised"]
        return counts

    def write_report(scope, work, pseudonymiser, counts, *, progress):
        limit = min(args.pdf_messages, counts["messages"])
        source = work
        if limit < counts["messages"]:
            # The real stage on a messages.csv cut after ``limit`` rows (text may hold line breaks: csv).
            source = work / "bench-pdf"
            source.mkdir()
            with (
                open(work / "messages.csv", encoding="utf-8", newline="") as whole,
                open(source / "messages.csv", "w", encoding="utf-8", newline="") as cut,
            ):
                writer = csv.writer(cut)
                for index, row in enumerate(csv.reader(whole)):
                    if index > limit:
                        break
                    writer.writerow(row)
        started = time.perf_counter()
        names = real_report(scope, source, pseudonymiser, {**counts, "messages": limit}, progress=progress)
        figures["pdf_ended"] = time.perf_counter()
        figures["pdf"] = figures["pdf_ended"] - started
        figures["rss_after_pdf"] = _vm_hwm()
        figures["pdf_messages"], figures["volumes"] = limit, len(names)
        figures["processes"] = min(os.cpu_count() or 1, len(names))
        if source != work:
            for name in names:
                os.replace(source / name, work / name)
        return names

    exports.build_package, exports._write_conversations, exports._write_report = (
        build_package,
        write_conversations,
        write_report,
    )
    started = time.perf_counter()
    call_command("export_warrant", args.child, out=args.out, user=args.user)
    figures["command"] = time.perf_counter() - started
    figures["zip_size"] = Path(args.out).stat().st_size
    figures["rss_self"] = _vm_hwm()
    # The reader and PDF processes are children of the forkserver: reap it, so that their peak reaches
    # RUSAGE_CHILDREN (the kernel carries a reaped child's own children's peak up to its parent).
    server = forkserver._forkserver
    if getattr(server, "_forkserver_pid", None):
        server._stop()
    figures["rss_children"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    Path(args.result).write_text(json.dumps(figures))
    return 0


# --- 4. dumpdata -----------------------------------------------------------------------------------


def _dumpdata(env: dict[str, str]) -> dict:
    """Time ``manage.py dumpdata disclosure.Message`` into a temporary file; its peak RSS is sampled
    (VmHWM, every 0.2 s: its ru_maxrss would be this process's, inherited at exec)."""
    peak = 0
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "manage.py", "dumpdata", "disclosure.Message"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                peak = max(peak, _vm_hwm(process.pid))
        seconds = time.perf_counter() - started
        size = out.seek(0, io.SEEK_END)
    return {"seconds": seconds, "size": size, "rss": peak, "status": process.returncode}


# --- profile of the JSON+CSV pass -------------------------------------------------------------------


class _StopAfterPass(Exception):
    """Raised in place of the PDF stage: the profile is of the JSON+CSV pass only."""


def _profile_pass(warrant) -> None:
    """cProfile of ``_write_conversations`` as build_package calls it, in this process (own time)."""
    from disclosure.exports import package as exports

    scope = _scope(warrant)
    real_conversations, real_report = exports._write_conversations, exports._write_report
    profiler = cProfile.Profile()
    counts: dict = {}

    def write_conversations(*args, **kwargs):
        profiler.enable()
        try:
            counts.update(real_conversations(*args, **kwargs))
        finally:
            profiler.disable()
        return counts

    def write_report(*args, **kwargs):
        raise _StopAfterPass

    exports._write_conversations, exports._write_report = write_conversations, write_report
    out_dir = Path(tempfile.mkdtemp(prefix="bench-export-profile-"))
    started = time.perf_counter()
    try:
        exports.build_package(scope, out_dir=out_dir)
    except _StopAfterPass:
        pass
    finally:
        exports._write_conversations, exports._write_report = real_conversations, real_report
        shutil.rmtree(out_dir, ignore_errors=True)
    seconds = time.perf_counter() - started
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(PROFILE_LINES)
    say(
        f"\n    cProfile of the JSON+CSV pass ({counts.get('messages', 0):,} messages, {seconds:.1f} s under the "
        "profiler), sorted by own time:"
    )
    for line in text.getvalue().splitlines():
        if line.strip():
            say("    " + line)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
