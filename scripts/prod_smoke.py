"""The driver of `make prod-smoke` (scripts/prod-smoke.sh starts the processes and calls it).

    prod_smoke.py BASE_URL DATA_DIR GUNICORN_PID WORKER_PID... PERIODIC_PID

With the production environment of prod-smoke.sh: checks the health endpoints and the security
headers through gunicorn, then, as the demo's intake officer, starts the export of the approved demo
warrant (the service the web page and the API call), waits for a task worker to build it, issues the
agency's one-time link, downloads the package through gunicorn like the agency's investigator, and
checks it with disclosure/exports/verify_package.py against the operator key gunicorn publishes. The
setup goes through the services (no staff login over HTTP: the login gains a second factor), what an
outsider does goes through HTTP. Exit status 0 when everything holds; one line per step on stdout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT_TIMEOUT = float(os.environ.get("PROD_SMOKE_EXPORT_TIMEOUT", "300"))


def say(message: str) -> None:
    print(f"prod-smoke: {message}", flush=True)


def fail(message: str) -> None:
    print(f"prod-smoke: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(base: str, path: str, *, https: bool = True, headers: dict | None = None):
    """(status, headers, body) of a GET through gunicorn; ``https`` as the TLS proxy in front would say."""
    proxy = {"X-Forwarded-Proto": "https"} if https else {}
    request = urllib.request.Request(base + path, headers=proxy)  # noqa: S310 - 127.0.0.1 of prod-smoke.sh
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            living.append(pid)
        except ProcessLookupError:
            pass
    return living


def wait_until_up(base: str, pids: list[int]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(alive(pids)) != len(pids):
            fail(f"a process exited while starting (alive: {alive(pids)} of {pids})")
        try:
            status, _, _body = http(base, "/healthz", https=False)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    fail("gunicorn did not answer /healthz within 60 s")


def check_web(base: str) -> None:
    status, _, body = http(base, "/healthz", https=False)
    say(f"GET /healthz (plain http, as a load balancer) -> {status} {body.decode()}")
    status, _, body = http(base, "/readyz", https=False)
    say(f"GET /readyz -> {status} {body.decode()}")
    if status != 200:
        fail("not ready")
    status, headers, _ = http(base, "/accounts/login/", https=False)
    say(f"GET /accounts/login/ over plain http -> {status} to {headers.get('Location')}")
    if status != 301 or not str(headers.get("Location", "")).startswith("https://"):
        fail("plain http is not redirected to https")
    status, headers, body = http(base, "/accounts/login/")
    csp = headers.get("Content-Security-Policy", "")
    say(
        f"GET /accounts/login/ via the proxy -> {status}; HSTS {headers.get('Strict-Transport-Security')!r}; "
        f"X-Frame-Options {headers.get('X-Frame-Options')}; CSP {csp[:60]!r}…"
    )
    if status != 200 or "max-age=" not in headers.get("Strict-Transport-Security", "") or "default-src" not in csp:
        fail("security headers missing")
    stylesheet = re.search(rb'href="(/static/css/app\.[0-9a-f]{12}\.css)"', body)
    if not stylesheet:
        fail("the login page does not link a content-hashed stylesheet (collectstatic, manifest storage)")
    status, headers, _css = http(base, stylesheet.group(1).decode(), headers={"Accept-Encoding": "gzip"})
    say(
        f"GET {stylesheet.group(1).decode()} (WhiteNoise) -> {status}, {headers.get('Content-Encoding')}, "
        f"{headers.get('Cache-Control')}"
    )
    if status != 200:
        fail("static file not served")


def run_export(base: str, data_dir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warrantdesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django_tasks_db.models import DBTaskResult

    from disclosure import services
    from disclosure.models import Export
    from requests_app.models import Warrant

    warrant = Warrant.objects.filter(status="APPROVED").order_by("pk").first()
    if warrant is None:
        fail("seed_demo left no approved warrant")
    officer = warrant.created_by
    export = services.export_start(warrant=warrant, actor=officer)
    say(f"export #{export.pk} of warrant {warrant.reference} started by user #{officer.pk} (an intake officer)")
    deadline = time.monotonic() + EXPORT_TIMEOUT
    while True:
        export.refresh_from_db()
        if export.status in {Export.Status.READY, Export.Status.FAILED}:
            break
        if time.monotonic() > deadline:
            fail(f"export #{export.pk} still {export.status} after {EXPORT_TIMEOUT:g} s")
        time.sleep(0.5)
    task = (
        DBTaskResult.objects.filter(task_path__endswith="run_export", args_kwargs__args=[export.pk])
        .order_by("-enqueued_at")
        .first()
    )
    if export.status != Export.Status.READY:
        fail(f"export #{export.pk} failed: {export.error}")
    took = (export.finished_at - export.requested_at).total_seconds()
    say(
        f"export #{export.pk} {export.status} after {took:.1f} s, built by task worker "
        f"{task.worker_ids if task else '?'}, package SHA-256 {export.package_sha256[:16]}…"
    )
    link, token = services.export_issue_link(export=export, actor=officer, recipient="Inspector (prod-smoke)")
    say(f"one-time link #{link.pk} issued (valid until {link.expires_at:%Y-%m-%d %H:%M} UTC)")

    status, _, pem = http(base, "/operator-key/operator-public-key.pem")
    key_path = data_dir / "operator-public-key.pem"
    key_path.write_bytes(pem)
    say(f"GET /operator-key/operator-public-key.pem -> {status} (the published key, {len(pem)} bytes)")
    status, headers, package = http(base, f"/d/{token}/")
    package_path = data_dir / "package.zip"
    package_path.write_bytes(package)
    digest = hashlib.sha256(package).hexdigest()
    say(f"GET /d/<token>/ -> {status}, {headers.get('Content-Type')}, {len(package)} bytes, SHA-256 {digest[:16]}…")
    if status != 200 or digest != export.package_sha256:
        fail("the package downloaded through gunicorn is not the one the worker built")
    checker = subprocess.run(  # noqa: S603 - our own checker, on the file we just wrote
        [
            sys.executable,
            str(ROOT / "disclosure/exports/verify_package.py"),
            str(package_path),
            "--public-key",
            key_path,
        ],
        capture_output=True,
        text=True,
    )
    last = (checker.stdout.strip().splitlines() or [""])[-1]
    say(f"verify_package.py --public-key operator-public-key.pem -> exit {checker.returncode}: {last}")
    if checker.returncode != 0:
        fail(checker.stdout + checker.stderr)
    status, _, _ = http(base, f"/d/{token}/")
    say(f"GET /d/<token>/ again -> {status} (the link is spent)")
    if status == 200:
        fail("a one-time link served twice")
    check_logs(data_dir, token)


def check_logs(data_dir: Path, token: str) -> None:
    logs = {path.name: path.read_text(errors="replace") for path in sorted(data_dir.glob("*.log"))}
    leaked = [name for name, text in logs.items() if token in text]
    if leaked:
        fail(f"the link's token is in {leaked}")
    access = [
        line
        for line in logs.get("gunicorn.log", "").splitlines()
        if line.startswith("{") and '"warrantdesk.access"' in line and '"/d/' not in line
    ]
    records = [json.loads(line) for line in access]
    downloads = [record for record in records if record.get("route") == "d/<str:token>/"]
    example = json.dumps(downloads[0]) if downloads else "-"
    say(f"logs: {len(records)} JSON access lines from gunicorn, none holds the token; e.g. {example}")
    if not downloads:
        fail("no JSON access line for the download")


def main() -> None:
    base, data_dir, *pid_args = sys.argv[1:]
    pids = [int(pid) for pid in pid_args]
    wait_until_up(base, pids)
    check_web(base)
    run_export(base, Path(data_dir))
    living = alive(pids)
    say(
        f"all {len(living)} processes still running" if living == pids else f"processes gone: {set(pids) - set(living)}"
    )
    if living != pids:
        fail("a process died during the smoke test")


if __name__ == "__main__":
    main()
