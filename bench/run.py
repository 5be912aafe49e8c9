"""warrantdesk benchmarks: `make bench` (or `.venv/bin/python bench/run.py [--help]`).

Runs on a fresh, throw-away database (SQLite in a temporary data directory, or a separate
`warrantdesk_bench` database on the PostgreSQL server named by BENCH_DATABASE_URL), never on the
developer's data. Prints each figure with its goal; a missed goal is printed as FAIL but the exit
status stays 0: benchmarks report, they do not fail the build. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB_NAME = os.environ.get("BENCH_DB_NAME", "warrantdesk_bench")  # bench/load.py runs on one of its own


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audit-entries", type=int, default=100_000, help="audit chain length (default 100,000)")
    parser.add_argument("--warrants", type=int, default=10_000, help="warrants in the big list (default 10,000)")
    parser.add_argument("--appends", type=int, default=1_000, help="audit_record calls timed (default 1,000)")
    parser.add_argument("--requests", type=int, default=20, help="requests timed per URL (default 20)")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile one verify_chain() run; EXPLAIN the scope queries"
    )
    parser.add_argument("--signature-runs", type=int, default=30, help="runs timed per signature figure (default 30)")
    parser.add_argument("--messages", type=int, help="generated messages (default 1,000,000; --quick 100,000)")
    parser.add_argument(
        "--pdf-messages", type=int, help="messages the export renders to PDF (default 100,000; --quick 20,000; 0 = all)"
    )
    parser.add_argument(
        "--merkle-entries",
        type=int,
        default=1_000_000,
        help="audit log length for the Merkle figures (default 1,000,000)",
    )
    parser.add_argument(
        "--report-warrants", type=int, default=100_000, help="warrants for the transparency report (default 100,000)"
    )
    parser.add_argument("--quick", action="store_true", help="a store of 100,000 messages instead of 1,000,000")
    parser.add_argument("--rows-json", metavar="FILE", help=argparse.SUPPRESS)  # the side-by-side run's rows
    parser.add_argument(
        "--only",
        choices=[
            "audit",
            "list",
            "signatures",
            "conversations",
            "exports",
            "notifications",
            "merkle",
            "report",
            "retention",
            "load",
        ],
        help="run one benchmark only",
    )
    args = parser.parse_args(argv)
    if args.messages is None:
        args.messages = 100_000 if args.quick else 1_000_000
    if args.pdf_messages is None:
        args.pdf_messages = 20_000 if args.quick else 100_000
    return args


# --- environment: must be settled before Django is imported -------------------------------------


def prepare_environment() -> tuple[Path, bool]:
    """A private data directory and database for this run; returns (data dir, is it temporary)."""
    keep = bool(os.environ.get("BENCH_KEEP"))
    var_dir = Path(tempfile.mkdtemp(prefix="warrantdesk-bench-"))
    os.environ["WARRANTDESK_VAR_DIR"] = str(var_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "warrantdesk.settings"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("MAIL_BACKEND", "locmem")
    # Encryption at rest is on, as in production: a fresh KEK for this run (never the developer's) and the
    # directory key store inside the data directory, so the figures include sealing and opening bodies.
    os.environ["WARRANTDESK_KEK"] = base64.b64encode(os.urandom(32)).decode()
    if keep:  # a kept store is only readable with its KEK: kept beside it (0600), for WARRANTDESK_KEK_FILE
        kek_file = var_dir / "kek.b64"
        kek_file.touch(mode=0o600)
        kek_file.write_text(os.environ["WARRANTDESK_KEK"] + "\n")
    os.environ.pop("WARRANTDESK_KEK_FILE", None)
    os.environ["WARRANTDESK_KEYSTORE"] = "dir"
    os.environ["WARRANTDESK_KEYRING_DIR"] = str(var_dir / "keyring")
    # The developer's DATABASE_URL is never used: PostgreSQL only through BENCH_DATABASE_URL, and
    # even then on a database of its own (created and dropped by the bench).
    os.environ.pop("DATABASE_URL", None)
    if url := os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("SECURE_COOKIES", "0")
    sys.path.insert(0, str(ROOT))
    return var_dir, not keep


def setup_database() -> str | None:
    """Migrate the fresh database quietly; on PostgreSQL create warrantdesk_bench first.

    Returns the original database name to restore (PostgreSQL) or None (SQLite file in the temp dir).
    """
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0, interactive=False)
        return None
    original = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = BENCH_DB_NAME
    # Creates (or clobbers) warrantdesk_bench, migrates it and switches the connection to it.
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
    return original


def teardown_database(original: str | None, *, keep: bool) -> None:
    from django.db import connection

    if original is not None and not keep:
        connection.creation.destroy_test_db(original, verbosity=0)


# --- reporting ------------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    value: str
    extra: str = ""
    goal: str = ""
    ok: bool | None = None  # None: no goal to meet


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The export section on SQLite (this run) beside the same section on PostgreSQL (a run of its own)
    side_by_side: list[tuple[Row, Row | None]] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        say(f"  -> {format_row(row)}")

    def print(self) -> None:
        print()
        print("=" * 136)
        print("warrantdesk benchmark results")
        print("=" * 136)
        for row in self.rows:
            print(format_row(row))
        if self.side_by_side:
            print("-" * 136)
            print(f"  {'exports, same store and warrant':<50} {'SQLite':>26}   {'PostgreSQL':>26}   goal")
            for mine, theirs in self.side_by_side:
                print(f"  {(mine.label + ' ').ljust(50, '.')} {_cell(mine):>26}   {_cell(theirs):>26}   {mine.goal}")
        rows = self.rows + [theirs for _mine, theirs in self.side_by_side if theirs is not None]
        met = sum(1 for row in rows if row.ok)
        failed = sum(1 for row in rows if row.ok is False)
        print("-" * 136)
        print(f"goals: {met} OK, {failed} FAIL (exit status stays 0: benchmarks never fail the build)")
        for note in self.notes:
            print(f"note: {note}")


def _cell(row: Row | None) -> str:
    if row is None:
        return "-"
    verdict = "" if row.ok is None else (" OK" if row.ok else " FAIL")
    return f"{row.value}{verdict}"


def format_row(row: Row) -> str:
    verdict = "" if row.ok is None else ("OK" if row.ok else "FAIL")
    return f"  {(row.label + ' ').ljust(50, '.')} {row.value:>9}  {row.extra:<38} {row.goal:<31} {verdict}".rstrip()


def say(message: str) -> None:
    print(message, flush=True)


def median_time(func: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def machine_lines() -> list[str]:
    import django
    from django.db import connection

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]} (file in a temporary directory, WAL)"
        else:
            cursor.execute("show server_version")
            database = f"{connection.vendor} {cursor.fetchone()[0]} (database {connection.settings_dict['NAME']})"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return [
        f"machine : {platform.node()}  {usable} CPUs usable (nproc)  {cpu}  load average {load}",
        f"python  : {platform.python_implementation()} {platform.python_version()}  Django {django.get_version()}",
        f"database: {database}",
    ]


# --- 1. audit chain -------------------------------------------------------------------------------


def bench_audit(args: argparse.Namespace, report: Report, people: dict) -> None:
    from django.core.management import call_command

    from bench import fixtures
    from warrantdesk.audit import audit_record, verify_chain
    from warrantdesk.models import AuditAction, AuditEntry

    n = args.audit_entries
    say(f"\n[1] audit chain: building {n:,} entries (hashes in chain order, bulk insert) ...")
    started = time.perf_counter()
    fixtures.audit_chain(n - AuditEntry.objects.count(), people)
    fixtures.settle()
    say(f"    built in {time.perf_counter() - started:.1f} s")

    result = verify_chain()
    if not result.ok:
        report.notes.append(f"audit chain is BROKEN ({result.problem}); verification figures are meaningless")
        report.add(Row(f"audit verify {result.count:,} entries", "BROKEN", goal="<= 1 s", ok=False))
        return
    count = result.count
    verify, runs = median_time(verify_chain, 3)
    report.add(
        Row(
            f"audit verify_chain() {count:,} entries",
            f"{verify:.2f} s",
            f"{count / verify:,.0f} entries/s",
            goal_for(count),
            ok=verify * 100_000 / count <= 1.0,
        )
    )
    report.notes.append(f"verify_chain() runs: {', '.join(f'{t:.2f} s' for t in runs)}")

    def command() -> str:
        out = io.StringIO()
        call_command("verify_audit_log", stdout=out)
        return out.getvalue()

    command_time, _runs = median_time(command, 3)
    output = command().strip()
    if not output.startswith("OK"):
        report.notes.append(f"verify_audit_log did not report OK: {output}")
    report.add(
        Row(
            f"manage.py verify_audit_log {count:,} entries",
            f"{command_time:.2f} s",
            f"{count / command_time:,.0f} entries/s",
            goal_for(count),
            ok=command_time * 100_000 / count <= 1.0 and output.startswith("OK"),
        )
    )

    if args.profile:
        profile_verify(report)

    officer = people["officer.kim"]

    def append() -> None:
        audit_record(
            action=AuditAction.DOCUMENT_VIEWED,
            actor=officer,
            warrant_ref="WD-2026-000042",
            details={"sha256": "ab" * 32},
            ip="10.20.3.4",
        )

    append_time, _runs = median_time(append, args.appends)
    report.add(
        Row(
            f"audit_record() one append (median of {args.appends:,})",
            ms(append_time),
            f"{1 / append_time:,.0f}/s on a {count:,} chain",
            "no goal set (every action)",
        )
    )
    after = verify_chain()
    if not after.ok or after.count != count + args.appends:
        report.notes.append(f"chain after the appends is not valid: {after}")
    else:
        report.notes.append(f"chain still verifies after the appends: {after.count:,} entries OK")


def goal_for(count: int) -> str:
    # The goal is stated for 100,000 entries; other lengths are held to the same rate.
    return "goal <= 1 s" if count == 100_000 else f"goal <= {count / 100_000:.2f} s (1 s/100k)"


def profile_verify(report: Report) -> None:
    from warrantdesk.audit import verify_chain

    profiler = cProfile.Profile()
    profiler.enable()
    verify_chain()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    say("\n    cProfile of one verify_chain() run (sorted by own time):")
    for line in out.getvalue().splitlines():
        if line.strip():
            say("    " + line)


# --- 2. warrant list ------------------------------------------------------------------------------

URLS = [
    # label, user, path
    ("API list, officer (object perms), page 1 of 50", "officer.kim", "/api/v1/warrants/"),
    ("API list, admin (global perm), page 1 of 50", "admin", "/api/v1/warrants/"),
    ("API list ?status=RECEIVED&overdue=1, officer", "officer.kim", "/api/v1/warrants/?status=RECEIVED&overdue=1"),
    ("API list, officer, last page", "officer.kim", "/api/v1/warrants/?page=last"),
    ("web /warrants/, officer", "officer.kim", "/warrants/"),
    ("web /warrants/, admin", "admin", "/warrants/"),
]


@dataclass
class Measured:
    median: float  # seconds per request
    queries: int  # SQL queries in one request (-1: the request failed)
    answer: str  # what came back, to show the request did real work
    db_time: float = 0.0  # seconds spent in SQL during the counted request
    slowest: tuple[float, str] = (0.0, "")  # the slowest query of the counted request


def measure_urls(people: dict, runs: int) -> dict[str, Measured]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.load import verified_client

    clients = {}
    results = {}
    for label, username, path in URLS:
        if username not in clients:  # signed in with the second factor, as staff must be
            clients[username] = verified_client(people[username])
        client = clients[username]
        accept = "application/json" if path.startswith("/api/") else "text/html"
        response = client.get(path, HTTP_ACCEPT=accept)  # also the warm-up
        if response.status_code != 200:
            results[label] = Measured(float("nan"), -1, f"HTTP {response.status_code}")
            continue
        if path.startswith("/api/"):
            data = response.json()
            answer = f"{len(data['results'])} of {data['count']:,} warrants"
        else:
            answer = f"{len(response.content) // 1024} KiB of HTML"
        with CaptureQueriesContext(connection) as captured:
            client.get(path, HTTP_ACCEPT=accept)
        # Read now: the next request's request_started signal empties the query log it reads.
        queries = [(float(query["time"]), query["sql"]) for query in captured.captured_queries]
        elapsed, _times = median_time(
            lambda client=client, path=path, accept=accept: client.get(path, HTTP_ACCEPT=accept), runs
        )
        results[label] = Measured(
            elapsed, len(queries), answer, sum(t for t, _sql in queries), max(queries, default=(0.0, ""))
        )
    return results


def bench_list(args: argparse.Namespace, report: Report, people: dict) -> None:
    from bench import fixtures
    from requests_app.models import Warrant

    agency_list = fixtures.agencies()
    kwargs = {"officer": people["officer.kim"], "reviewer": people["reviewer.park"], "agency_list": agency_list}
    small_count = 10
    say(f"\n[2] warrant list: {small_count} warrants ...")
    fixtures.warrants(small_count - Warrant.objects.count(), **kwargs)
    fixtures.settle()
    before = measure_urls(people, args.requests)

    say(f"    adding warrants up to {args.warrants:,} (bulk insert, 1-3 targets, officer object permission) ...")
    started = time.perf_counter()
    total = fixtures.warrants(args.warrants - Warrant.objects.count(), **kwargs)
    fixtures.settle()
    say(f"    {total:,} warrants in {time.perf_counter() - started:.1f} s; measuring ...")
    after = measure_urls(people, args.requests)

    for label, _username, _path in URLS:
        small, big = before[label], after[label]
        if big.queries < 0 or small.queries < 0:
            report.add(Row(label, "error", f"{small.answer} / {big.answer}", "goal: queries constant", ok=False))
            continue
        report.add(
            Row(
                label,
                ms(big.median),
                f"{big.queries} queries; at {small_count}: {small.queries} q, {ms(small.median)}",
                f"goal: same queries at {small_count} & {total:,}",
                ok=big.queries == small.queries,
            )
        )
        slow_time, slow_sql = big.slowest
        report.notes.append(
            f"{label}: {big.answer}; SQL {ms(big.db_time)} of the request, slowest query {ms(slow_time)}: "
            f"{shorten(slow_sql)}"
        )


def shorten(sql: str, width: int = 170) -> str:
    """The query's shape: what it selects from and its WHERE clause, whitespace squeezed, cut to ``width``."""
    sql = " ".join(sql.split()).replace('"', "")
    head, _sep, rest = sql.partition(" FROM ")
    table = rest.split(" ", 1)[0]
    _before, where, condition = rest.partition(" WHERE ")
    shape = f"{'COUNT(*) ' if 'COUNT(*)' in head else ''}FROM {table}" + (f" … WHERE {condition}" if where else "")
    return shape if len(shape) <= width else shape[: width - 1] + "…"


# --- 3. signature check ---------------------------------------------------------------------------


def signature_full_check(people: dict) -> Callable[[bytes], object] | None:
    """Hook: the whole check of an uploaded warrant document (signature check, registry look-up,
    stored result), as a callable taking the signed PDF bytes; None until the Django layer exists.

    It runs on the bench database: register agency A's anchors and its chief investigator from
    ``tests.pki.pki()`` here, create one warrant received at ``pki.RECEIPT``, and return a function
    that runs the services' check of that warrant's document for the given bytes.
    """
    from django.core.files.uploadedfile import SimpleUploadedFile

    from requests_app import registry, services, verification
    from requests_app.services import TargetInput
    from tests import pki

    ca = pki.pki()
    officer = people["officer.kim"]
    agency = registry.agency_save(code="bench-agency-a", name="Bench Agency A", actor=None)
    registry.anchor_add(agency=agency, certificate=ca.agency_a.anchors_pem, actor=None)
    registry.investigator_register(
        agency=agency, certificate=ca.chief_a.pem, name="Bench chief", is_chief=True, actor=None
    )
    warrant = services.warrant_register(
        actor=officer,
        agency=agency,
        warrant_number="BENCH-SIG-1",
        court="Bench court",
        legal_basis="Bench",
        received_at=pki.RECEIPT,
        deadline=pki.RECEIPT + dt.timedelta(days=7),
        period_start=pki.RECEIPT - dt.timedelta(days=30),
        period_end=pki.RECEIPT,
        targets=[TargetInput("UID", "bench-target")],
        upload=SimpleUploadedFile("w.pdf", pki.make_pdf(), "application/pdf"),
    )
    document = services.current_warrant_document(warrant)

    def full_check(pdf: bytes) -> object:
        # What document_check_signature does after reading the file: the registry look-up inside
        # judge_document, then the stored row, its audit entry and the warrant's move.
        verdict = verification.judge_document(pdf, agency=agency, at=warrant.received_at)
        check = services._signature_check_record(document=document, verdict=verdict, actor=officer)
        return check.outcome

    return full_check


def bench_signatures(args: argparse.Namespace, report: Report, people: dict) -> None:
    from bench.signatures import GOAL_FACTOR, bench_signature_check

    full_check = signature_full_check(people)
    say("\n[3] signature check: 1-page and 50-page warrants signed by a chief investigator (test PKI) ...")
    figures = bench_signature_check(full_check, runs=args.signature_runs)
    goal = f"goal <= {GOAL_FACTOR:.0f}x bare pyHanko"
    for figure in figures:
        bare = f"bare pyHanko {ms(figure.bare)}"
        if figure.full is not None:
            report.add(
                Row(
                    f"signature check (whole), {figure.label}",
                    ms(figure.full),
                    f"{bare} = {figure.full / figure.bare:.2f}x",
                    goal,
                    ok=figure.ok,
                )
            )
        report.add(
            Row(
                f"signature check verify_pdf, {figure.label}",
                ms(figure.pure),
                f"{bare} = {figure.pure / figure.bare:.2f}x",
                goal if figure.full is None else "",
                ok=figure.ok if figure.full is None else None,
            )
        )
        if figure.outcome != "VALID":
            report.notes.append(f"signature check, {figure.label}: outcome {figure.outcome}, figures meaningless")
    if full_check is None:
        report.notes.append(
            "signature check: only the pure part (verify_pdf) is measured so far; the whole check with the "
            "registry look-up and the stored result plugs in at bench/run.py signature_full_check()"
        )
    report.notes.append(
        f"signature check: medians of {args.signature_runs} runs; documents "
        + ", ".join(f"{figure.label} {figure.size // 1024} KiB" for figure in figures)
    )


# --- main -----------------------------------------------------------------------------------------


def _export_postgres_url(args: argparse.Namespace) -> str | None:
    """PostgreSQL for the export section's second run: ``BENCH_EXPORT_DATABASE_URL`` (``make bench``
    gives the local server's), when this run is on SQLite and not itself that second run."""
    from django.db import connection

    if args.rows_json or connection.vendor != "sqlite":
        return None
    return os.environ.get("BENCH_EXPORT_DATABASE_URL") or None


def _exports_side_by_side(args: argparse.Namespace, report: Report, mine: list[Row], url: str) -> None:
    """The export section again on PostgreSQL (same generator seed, same sizes: the same store), in a
    bench process of its own, its rows shown beside this run's."""
    say("\n[5] exports again on PostgreSQL (BENCH_EXPORT_DATABASE_URL), in a bench process of its own ...")
    with tempfile.TemporaryDirectory(prefix="warrantdesk-bench-pg-") as tmp:
        rows_file = Path(tmp) / "rows.json"
        command = [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "exports", "--rows-json", str(rows_file)]
        for option in ("messages", "pdf_messages"):
            if getattr(args, option) is not None:
                command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
        if args.quick:
            command.append("--quick")
        env = {**os.environ, "BENCH_DATABASE_URL": url}
        env.pop("BENCH_KEEP", None)
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not rows_file.exists():
            tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            report.notes.append(f"exports on PostgreSQL: the run failed (exit {done.returncode}): {tail}")
            return
        theirs = {row["label"]: Row(**row) for row in json.loads(rows_file.read_text())}
    for row in theirs.values():
        say(f"  -> [PostgreSQL] {format_row(row)}")
    report.side_by_side = [(row, theirs.get(row.label)) for row in mine]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    var_dir, temporary = prepare_environment()

    import django

    django.setup()

    from bench import fixtures

    begun = time.perf_counter()
    original_db = setup_database()
    report = Report()
    try:
        for line in machine_lines():
            say(line)
        say(f"data    : {var_dir}" + ("" if temporary else "  (kept: BENCH_KEEP is set)"))
        people = fixtures.users()
        if args.only in (None, "audit"):
            bench_audit(args, report, people)
        if args.only in (None, "list"):
            bench_list(args, report, people)
        if args.only in (None, "signatures"):
            bench_signatures(args, report, people)
        if args.only in (None, "conversations"):
            from bench.conversations import bench_conversations

            bench_conversations(args, report, people)
        if args.only in (None, "exports"):
            from bench.exports import bench_exports

            first = len(report.rows)
            bench_exports(args, report, people)
            if postgres := _export_postgres_url(args):
                _exports_side_by_side(args, report, report.rows[first:], postgres)
        if args.only in (None, "notifications"):
            from bench.notifications import bench_notifications

            bench_notifications(args, report, people)
        if args.only in (None, "merkle"):
            from bench.merkle import bench_merkle

            bench_merkle(args, report, people)
        if args.only in (None, "report"):
            from bench.report import bench_report

            bench_report(args, report, people)
        if args.only in (None, "load"):  # gunicorn + locust on PostgreSQL (bench/load.py)
            from bench.load import bench_load

            bench_load(args, report, people)
        if args.only in (None, "retention"):  # last: the purge deletes most of the shared store
            from bench.retention import bench_retention

            bench_retention(args, report, people)
    finally:
        teardown_database(original_db, keep=not temporary)
        if temporary:
            shutil.rmtree(var_dir, ignore_errors=True)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    report.notes.append(f"whole run {time.perf_counter() - begun:.0f} s; load average at the end {load}")
    report.print()
    if args.rows_json:
        Path(args.rows_json).write_text(json.dumps([row.__dict__ for row in report.rows]))
    if args.only == "load":
        from bench.load import save_rows

        save_rows(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
