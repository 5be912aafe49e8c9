"""The whole journey in a real browser against the app as production runs it: gunicorn
(deploy/gunicorn.conf.py) with WARRANTDESK_PRODUCTION=1 on 127.0.0.1, static files through WhiteNoise
after collectstatic, a task worker (`manage.py task_worker`), the periodic jobs (`manage.py
run_periodic`), a real SMTP server on loopback for the user notices, and the standalone checkers an
agency and an auditor run on what they download. Demo mode stays on for the signed sample documents
(the demo agency's PKI), and the data (SQLite) lives in a throw-away directory.

HTTPS is real: gunicorn serves TLS itself with a certificate made for the run (there is no proxy in
front here), so the production defaults (secure cookies, HTTPS redirect, HSTS) stay as they are and
nothing is switched off for plain HTTP. Chromium (Debian's, headless) is told to accept that one
certificate; the harness's own requests pin it.

Each person uses a browser of their own (a context: their cookies, their language) and signs in once,
with the password and the current TOTP code. The journey runs once in English and once in Korean (each
page checked to be in Korean). A screenshot of every step goes to test-results/screenshots/<lang>/
(git-ignored; CI keeps test-results/ as the run's artefact), with the checkers' reports next to them.

Only CSS ids and classes and URLs are used to find things, so the same code reads both languages.
"""

import datetime as dt
import email.message
import email.utils
import ipaddress
import os
import re
import secrets
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django_otp.oath import TOTP

from demo.management.commands.seed_demo import DEMO_PASSWORD, DEMO_TOTP_KEY
from tests.helpers import Collector, free_port

ROOT = Path(settings.BASE_DIR)
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-results" / "screenshots"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SEOUL = ZoneInfo("Asia/Seoul")
WAIT_MS = 60_000  # background work (signature check, export, identity sheet) by the task worker
# Third-party static files no page of the journey loads (the admin's, DRF's browsable API, the Swagger
# and ReDoc bundles: 99% of the 20 MB, whose Brotli compression takes a minute on a loaded CI machine).
# The app's own (CSS, JS, htmx) go through collectstatic's manifest and compression as in production;
# a page that needed a skipped file would fail to render (the manifest is strict).
STATIC_SKIPPED = ("admin", "rest_framework", "drf_spectacular_sidecar")
# Records every state of the export's progress bar the page shows (htmx swaps the panel every 2 s; the
# page reloads itself when the export is done, so the states are kept in the tab's sessionStorage).
PROGRESS_RECORDER = """
new MutationObserver(() => {
  for (const bar of document.querySelectorAll('#export-panel progress')) {
    const label = document.querySelector('label[for="' + bar.id + '"]');
    const state = {max: bar.max, value: bar.value, text: bar.textContent.trim(),
                   label: label ? label.textContent.replace(/\\s+/g, ' ').trim() : ''};
    const seen = JSON.parse(sessionStorage.getItem('progress-seen') || '[]');
    if (JSON.stringify(seen[seen.length - 1]) !== JSON.stringify(state)) {
      seen.push(state);
      sessionStorage.setItem('progress-seen', JSON.stringify(seen));
    }
  }
}).observe(document, {childList: true, subtree: true});
"""


def _certificate(directory: Path) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1, valid for a day (gunicorn's TLS), and the base64 SHA-256
    of its public key (Chromium's ``--ignore-certificate-errors-spki-list`` pins it)."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


@dataclass
class Stack:
    """The running app: its URL, data directory and environment, and the mailbox of the SMTP server."""

    url: str
    data: Path
    env: dict
    mailbox: Collector
    spki: str
    processes: list = field(default_factory=list)

    def manage(self, *args: str, timeout: float = 180) -> str:
        """A management command with the app's environment, as an operator runs one; its output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def logs(self) -> dict[str, str]:
        return {path.name: path.read_text(errors="replace") for path in sorted(self.data.glob("*.log"))}

    def accounts(self) -> list[dict]:
        """The conversation store's accounts, read from the app's database (the harness's ground truth
        of who is who; the pages show only pseudonyms for non-targets)."""
        database = self.data / "var" / "warrantdesk.sqlite3"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute("SELECT uid, display_name, phone, email, locale FROM disclosure_account")
            return [dict(row) for row in rows]


def _start(stack: Stack, name: str, command: list[str]) -> None:
    log = (stack.data / f"{name}.log").open("w")
    stack.processes.append(
        subprocess.Popen(command, cwd=ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    )
    log.close()


def _stop(processes: list) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def stack():
    """Production settings on a fresh data directory: keys and secret, migrate, collectstatic, the demo
    data; then gunicorn (TLS), a task worker and the periodic jobs, with mail to a local SMTP server."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}; `make test` installs it")
    from aiosmtpd.controller import Controller

    data = Path(tempfile.mkdtemp(prefix="warrantdesk-journey."))
    data.chmod(0o700)
    smtp_port, port = free_port(), free_port()
    controller = Controller(Collector(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    cert, tls_key, spki = _certificate(data)
    (data / "secret_key").write_text(secrets.token_urlsafe(50))
    (data / "secret_key").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env |= {
        # deploy/warrantdesk.env.example, with this machine's values
        "WARRANTDESK_PRODUCTION": "1",
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
        "WARRANTDESK_VAR_DIR": str(data / "var"),
        "STATIC_ROOT": str(data / "staticfiles"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY_FILE": str(data / "secret_key"),
        "WARRANTDESK_KEK_FILE": str(data / "kek"),
        "WARRANTDESK_SIGNING_KEY_FILE": str(data / "operator-signing-key.pem"),
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        # The journey's choices: the signed sample documents, and notices due on delivery (no 30-day wait).
        "WARRANTDESK_DEMO": "1",
        "WARRANTDESK_NOTIFY_AFTER_DAYS": "0",
        # The journey's export is small: held 4 s at its first progress report, so that the page (polling
        # every 2 s) shows the bar counting before the export is done, on a fast machine too.
        "WARRANTDESK_FAULT_HOLD": "export.messages=4",
    }
    stack = Stack(url=f"https://127.0.0.1:{port}", data=data, env=env, mailbox=controller.handler, spki=spki)
    try:
        stack.manage("init_local_keys")  # the two key files named above (0600)
        stack.manage("migrate", "--noinput", "-v", "0")
        ignored = [arg for name in STATIC_SKIPPED for arg in ("-i", name)]
        _start(stack, "collectstatic", [sys.executable, "manage.py", "collectstatic", "--noinput", *ignored])
        stack.manage("seed_demo")
        assert stack.processes.pop().wait(timeout=180) == 0, stack.logs()["collectstatic.log"]
        stack.manage("audit_checkpoint")  # a first signed checkpoint, before the journey

        _start(stack, "gunicorn", [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
                                   "--certfile", str(cert), "--keyfile", str(tls_key)])  # fmt: skip
        _start(stack, "worker", [sys.executable, "manage.py", "task_worker", "--queue-name", "*", "--worker-id", "j-1"])
        _start(stack, "periodic", [sys.executable, "manage.py", "run_periodic"])
        tls = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{stack.url}/readyz", timeout=2, context=tls) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if any(process.poll() is not None for process in stack.processes) or time.monotonic() > deadline:
                pytest.fail(
                    "the app did not start:\n" + "\n".join(f"{n}: {t[-2000:]}" for n, t in stack.logs().items())
                )
            time.sleep(0.3)
        yield stack
        assert all(process.poll() is None for process in stack.processes), "a process of the app died"
    finally:
        _stop(stack.processes)
        controller.stop()
        shutil.rmtree(data, ignore_errors=True)


class Journey:
    def __init__(self, browser, stack: Stack, lang: str):
        self.browser, self.stack, self.url, self.lang, self.step = browser, stack, stack.url, lang, 0
        self.started = time.monotonic()
        self.shots = SHOTS / lang
        shutil.rmtree(self.shots, ignore_errors=True)
        self.shots.mkdir(parents=True)
        self.files = stack.data / "downloads" / lang
        self.files.mkdir(parents=True)

    def browser_of(self, *, progress: bool = False):
        """A person's own browser: cookies, language and downloads of their own (a context)."""
        context = self.browser.new_context(
            accept_downloads=True,
            locale="ko-KR" if self.lang == "ko" else "en-GB",
            timezone_id="Asia/Seoul",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)  # a loaded CI machine (2 cores shared with the worker)
        if progress:
            context.add_init_script(PROGRESS_RECORDER)
        return context.new_page()

    def shot(self, page, name: str, *, full_page: bool = True) -> None:
        from playwright.sync_api import expect

        self.step += 1
        expect(page.locator("html")).to_have_attribute("lang", self.lang)
        if self.lang == "ko":
            headings = " ".join(page.locator("main h1, main h2").all_inner_texts())
            assert HANGUL.search(headings), f"{name}: the headings are not in Korean: {headings}"
        page.screenshot(path=str(self.shots / f"{self.step:02d}-{name}.png"), full_page=full_page)
        print(f"{self.lang} {self.step:02d}-{name} at {time.monotonic() - self.started:.1f} s")

    def sign_in(self, username: str, *, progress: bool = False, shot: str = ""):
        """A new browser: the language chosen on the login page, the password, then the second factor
        (the current code of the demo's published TOTP key; a code is accepted once: if this user
        signed in within its 30 s already, the next one is awaited). The person's page."""
        from playwright.sync_api import expect

        page = self.browser_of(progress=progress)
        page.goto(self.url + "/accounts/login/")
        page.click(f"button[name=language][value={self.lang}]")
        expect(page.locator("html")).to_have_attribute("lang", self.lang)
        if shot:
            self.shot(page, shot)
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r".*/accounts/two-factor/.*"))
        for _attempt in range(2):
            page.fill("#id_code", f"{TOTP(DEMO_TOTP_KEY).token():06d}")
            page.click("main form.form button[type=submit]")
            page.wait_for_load_state()
            if "/accounts/two-factor/" not in page.url:
                return page
            time.sleep(31 - time.time() % 30)  # the code was used already: wait for the next one
        raise AssertionError(f"{username}: the second factor was refused")

    def download(self, page, selector: str) -> Path:
        with page.expect_download() as info:
            page.click(selector)
        target = self.files / info.value.suggested_filename
        info.value.save_as(target)
        return target

    def run(self, name: str, script: Path, *args) -> subprocess.CompletedProcess:
        """A downloaded checker, run as its user runs it (python3 and cryptography, in the folder of the
        downloads); its report is kept next to the screenshots."""
        done = subprocess.run(
            [sys.executable, script.name, *(arg.name if isinstance(arg, Path) else arg for arg in args)],
            cwd=self.files,
            capture_output=True,
            text=True,
            timeout=60,
        )
        (self.shots / f"{name}.txt").write_text(f"exit {done.returncode}\n{done.stdout}{done.stderr}")
        return done

    def wait_for(self, page, selector: str, *, reload: bool = False) -> None:
        """An element that appears when background work is done. The page's htmx panels poll and
        reload by themselves; with ``reload``, where nothing on the page polls yet (a task still
        queued), reload every second as a person would."""
        from playwright.sync_api import expect

        if not reload:
            expect(page.locator(selector).first).to_be_visible(timeout=WAIT_MS)
            return
        deadline = time.monotonic() + WAIT_MS / 1000
        while not page.locator(selector).first.is_visible():
            if time.monotonic() > deadline:
                raise AssertionError(f"{selector} did not appear within {WAIT_MS / 1000:.0f} s")
            page.wait_for_timeout(1000)
            page.reload()

    # --- the steps -------------------------------------------------------------------------------

    def log_warrant(self, officer):
        """The intake officer logs the sample warrant: downloaded, the form filled in as it reads; the
        task worker checks its signature."""
        from playwright.sync_api import expect

        expect(officer).to_have_url(f"{self.url}/warrants/")
        self.shot(officer, "warrant-list")
        officer.click("a[href='/warrants/new/']")
        officer.click("#demo-sample-fill")
        sample = self.download(officer, "#demo-sample-warrant")
        number = officer.input_value("#id_warrant_number")
        assert number.startswith("DEMO-") and officer.input_value("#id_targets")
        officer.set_input_files("#id_document", str(sample))
        self.shot(officer, "log-warrant")
        officer.click("form.form .form-actions button[type=submit]")
        expect(officer.locator(".case-head h1")).to_have_text(re.compile(r"WD-\d{4}-\d{6}"))
        reference = officer.inner_text(".case-head h1").strip()
        self.wait_for(officer, "#signature-panel .badge--sig-valid")
        self.shot(officer, "valid-verdict")
        for reviewer in ("reviewer.park", "reviewer.jung"):  # from the pick-list
            officer.select_option("#id_username", reviewer)
            officer.click("form[action$='/assign/'] button[type=submit]")
            expect(officer.locator(".people")).to_contain_text(reviewer)
        self.shot(officer, "reviewers-assigned")
        return reference, officer.url

    def approve_and_export(self, reviewer, warrant_url: str, reference: str) -> int:
        """A second officer (a reviewer) approves, confirming the case by name, and starts the export;
        its progress bar shows the stage and the share done until the package is ready. The number
        of messages exported."""
        from playwright.sync_api import expect

        reviewer.goto(warrant_url)
        approve = reviewer.locator("form:has(input[name=to][value=APPROVED])")
        approve.locator("#move-approved-confirm").check()
        expect(approve.locator("label[for=move-approved-confirm]")).to_contain_text(reference)
        self.shot(reviewer, "approve-confirmed")
        approve.locator("button[type=submit]").click()
        expect(reviewer.locator(".case-head .badge--approved")).to_be_visible()
        reviewer.click("#export-panel form[action$='/exports/start/'] button[type=submit]")
        expect(reviewer.locator("#export-panel progress")).to_be_attached()  # the first page after the start
        determinate = "#export-panel progress:not([max='1']), #export-panel .export--ready"
        expect(reviewer.locator(determinate).first).to_be_visible(timeout=WAIT_MS)
        reviewer.locator("#export-panel").screenshot(path=str(self.shots / f"{self.step + 1:02d}-export-progress.png"))
        self.step += 1
        self.wait_for(reviewer, "#export-panel .export--ready")
        self.shot(reviewer, "export-ready")
        messages = int(reviewer.locator("#export-panel .export--ready dd.num").first.inner_text().replace(",", ""))
        seen = reviewer.evaluate("JSON.parse(sessionStorage.getItem('progress-seen') || '[]')")
        assert seen, "no progress bar was shown while the export ran"
        shown = [state for state in seen if state["max"] > 1]
        assert shown, f"the progress bar never showed how far the export was: {seen}"
        print(f"{self.lang} the progress bar showed: {[state['label'] for state in seen]}")
        for state in shown:
            assert state["max"] == messages and 0 <= state["value"] <= messages, state
            assert re.fullmatch(r"\d{1,3}%", state["text"]), state
            assert f"{int(state['value'])} / {messages}" in state["label"].replace(",", ""), state
        return messages

    def verify_package(self, reviewer) -> None:
        """The reviewer downloads the package; the agency's investigator fetches the operator's key and
        the checker from the public page it is pointed to (not from the package), and checks it; a
        package changed by one byte is refused."""
        from playwright.sync_api import expect

        package = self.download(reviewer, "#export-panel .export--ready a[href$='/download/']")
        investigator = self.browser_of()
        investigator.goto(self.url + "/operator-key/")
        expect(investigator.locator("#operator-key-fingerprint")).to_be_visible()
        self.shot(investigator, "operator-key-page")
        key = self.download(investigator, "a[href='/operator-key/operator-public-key.pem']")
        checker = self.download(investigator, "a[href='/operator-key/verify_package.py']")
        investigator.context.close()

        done = self.run("verify-package", checker, package, "--public-key", key)
        assert done.returncode == 0 and "VALID" in done.stdout.splitlines()[-1], done.stdout + done.stderr

        changed = self.files / "package-one-byte-changed.zip"  # one byte of messages.csv, CRCs made anew
        with zipfile.ZipFile(package) as original, zipfile.ZipFile(changed, "w", zipfile.ZIP_DEFLATED) as copy:
            for item in original.infolist():
                content = original.read(item)
                if item.filename.endswith("messages.csv"):
                    content = content[:-2] + bytes([content[-2] ^ 1]) + content[-1:]
                copy.writestr(item, content)
        done = self.run("verify-package-changed", checker, changed, "--public-key", key)
        assert done.returncode == 1 and "messages.csv" in done.stdout, done.stdout + done.stderr
        flipped = self.files / "package-bit-flipped.zip"  # one byte of the file as it lies on the disk
        raw = bytearray(package.read_bytes())
        raw[len(raw) // 2] ^= 0x40
        flipped.write_bytes(bytes(raw))
        done = self.run("verify-package-flipped", checker, flipped, "--public-key", key)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr

    def deliver(self, reviewer) -> None:
        from playwright.sync_api import expect

        now = dt.datetime.now(SEOUL) - dt.timedelta(minutes=1)
        reviewer.click("#export-panel details:nth-of-type(1) summary")
        reviewer.fill("#export-panel [id^=d-recipient-]", "Inspector Han Jiwoo")
        reviewer.fill("#export-panel [id^=d-at-]", f"{now:%Y-%m-%dT%H:%M}")
        reviewer.click("#export-panel form[action$='/deliver/'] button[type=submit]")
        expect(reviewer.locator(".alert--success")).to_be_visible()

    def issue_link(self, reviewer) -> str:
        from playwright.sync_api import expect

        reviewer.click("#export-panel details:nth-of-type(2) summary")
        reviewer.fill("#export-panel [id^=l-recipient-]", "Inspector Han Jiwoo")
        reviewer.check("#l-confirm")
        reviewer.click("#export-panel form[action$='/link/'] button[type=submit]")
        expect(reviewer.locator(".alert--success")).to_contain_text(f"{self.url}/d/")
        self.shot(reviewer, "delivered-and-link")
        return re.search(r"/d/([^/\s]+)/", reviewer.inner_text(".alert--success")).group(1)

    def notices(self, reviewer, warrant_url: str) -> None:
        """The delivery planned a notice to each target, due now (WARRANTDESK_NOTIFY_AFTER_DAYS=0). The
        legal team sees them pending; what is due is sent (``send_notifications``, the one-shot form of
        the periodic process's job, run here at once instead of within its minute); the team sees them
        sent; the SMTP server has each, in the person's language, naming nobody else."""
        from playwright.sync_api import expect

        reviewer.goto(warrant_url)
        rows = reviewer.locator("#notification-panel tr.notification")
        expect(rows.first).to_be_visible()
        reviewer.locator("#notification-panel").scroll_into_view_if_needed()
        self.shot(reviewer, "notices-planned")
        self.stack.manage("send_notifications")
        # The periodic process sends what is due too (every minute): whichever of the two sends a notice,
        # it is sent once (a group claimed by one is skipped by the other) and the page shows it sent.
        self.wait_for(reviewer, "#notification-panel tr.notification--sent", reload=True)
        sent = reviewer.locator("#notification-panel tr.notification--sent")
        ids = [code.strip().strip("<>") for code in sent.locator("code.hash").all_inner_texts()]
        messages = {message["Message-ID"].strip("<>"): message for message in self.stack.mailbox.messages}
        accounts = self.stack.accounts()
        for message_id in ids:
            assert message_id in messages, f"the notice {message_id} did not reach the SMTP server"
            check_notice(messages[message_id], accounts)
        letters = reviewer.locator("#notification-panel tr.notification--needs_letter").count()
        assert rows.count() == len(ids) + letters, "a notice by e-mail was not sent"
        print(f"{self.lang} notices received by the SMTP server and checked: {len(ids)} (letters: {letters})")
        uid = sent.first.locator("td a").first.inner_text().strip()
        sent.first.locator("a[href^='/disclosure/notifications/']").click()
        expect(reviewer.locator("main")).to_contain_text(ids[0])
        notice = reviewer.frame_locator("iframe.preview-html").locator("body")
        expect(notice).to_contain_text(uid)  # rendered from its own address, in the sandboxed frame
        expect(notice).to_have_css("color", "rgb(26, 26, 26)")  # styled as sent (its inline styles apply)
        # Chromium paints the sandboxed frame once it has been in view: a full-page shot alone leaves it blank.
        reviewer.locator("iframe.preview-html").scroll_into_view_if_needed()
        self.shot(reviewer, "notice-preview")

    def follow_up(self, officer, warrant_url: str) -> str:
        """The officer logs the sample follow-up request (pseudonyms of the delivered export)."""
        from playwright.sync_api import expect

        officer.goto(warrant_url)
        officer.click("a[href$='/follow-ups/new/']")
        officer.click("#demo-sample-fill")
        request_pdf = self.download(officer, "#demo-sample-request")
        expect(officer.locator("input[name=pick]:checked")).to_have_count(2)
        officer.set_input_files("#id_document", str(request_pdf))
        self.shot(officer, "log-follow-up")
        officer.click("form.form .form-actions button[type=submit]")
        self.wait_for(officer, "#signature-panel .badge--sig-valid")
        self.wait_for(officer, "#followup-status.badge--fu-in_review")
        self.shot(officer, "follow-up-in-review")
        return officer.url

    def reveal(self, reviewers: dict, followup_url: str) -> None:
        """Two reviewers decide the reveal, each confirming; the identity sheet is made."""
        from playwright.sync_api import expect

        for name, page in reviewers.items():
            page.goto(followup_url)
            for choice in page.locator(".decision-form input[type=radio][value=approve]").all():
                choice.check()
            page.check("#decide-confirm")
            self.shot(page, f"decision-{name.split('.')[1]}")
            page.click(".decision-form button[type=submit]")
            expect(page.locator(".alert--success")).to_be_visible()
        self.wait_for(page, "#sheet-panel .export--ready", reload=True)
        self.shot(page, "identity-sheet-ready")

    def audit(self, auditor, reference: str) -> None:
        """The auditor verifies the chain of the log, opens the case's history, then checks the newest
        signed checkpoint and its consistency with the first one with the standalone checker, against
        the audit key published on its own public page."""
        from playwright.sync_api import expect

        expect(auditor).to_have_url(f"{self.url}/audit/")
        self.shot(auditor, "auditor-lands-on-audit-log", full_page=False)  # the first screen of a long log
        auditor.click("form[action='/audit/verify/'] button[type=submit]")
        expect(auditor.locator(".result--ok")).to_be_visible()
        self.shot(auditor, "audit-chain-verified")
        auditor.goto(f"{self.url}/audit/cases/{reference}/")
        expect(auditor.locator("h1")).to_have_text(reference)
        expect(auditor.locator(".timeline .timeline__item").first).to_be_visible()
        assert "/download/" not in auditor.content()
        self.shot(auditor, "auditor-case-history")

        self.stack.manage("audit_checkpoint")  # signed now, on demand (the periodic job signs one daily)
        auditor.goto(f"{self.url}/audit/checkpoints/")
        notes = auditor.locator("a[href^='/audit/checkpoints/'][download]")
        expect(notes.nth(1)).to_be_visible()
        self.shot(auditor, "audit-checkpoints")
        newest = self.download(auditor, f"a[href='{notes.first.get_attribute('href')}']")
        oldest = self.download(auditor, f"a[href='{notes.last.get_attribute('href')}']")
        sizes = [int(re.search(r"(\d+)\.txt$", path.name).group(1)) for path in (newest, oldest)]
        path = f"/api/v1/audit/checkpoints/{sizes[0]}/consistency/?from={sizes[1]}"  # the auditor's own session
        status, body = auditor.evaluate(
            "path => fetch(path, {headers: {Accept: 'application/json'}}).then(async r => [r.status, await r.text()])",
            path,
        )
        assert status == 200, body
        proof = self.files / "consistency.json"
        proof.write_text(body)
        auditor.click("a[href='/audit/key/']")
        expect(auditor.locator("#audit-key-fingerprint")).to_be_visible()
        self.shot(auditor, "audit-key-page")
        key = self.download(auditor, "a[href='/audit/key/audit-public-key.pem']")
        checker = self.download(auditor, "a[href='/audit/key/verify_checkpoint.py']")

        done = self.run("verify-checkpoint", checker, "checkpoint", newest, "--public-key", key)
        assert done.returncode == 0 and "VALID" in done.stdout, done.stdout + done.stderr
        assert f"\n{sizes[0]}\n" in newest.read_text()
        done = self.run(
            "verify-consistency", checker, "consistency", oldest, newest, "--proof", proof, "--public-key", key
        )
        assert done.returncode == 0 and "VALID" in done.stdout, done.stdout + done.stderr
        forged = self.files / "checkpoint-forged.txt"  # one more entry claimed under the same signature
        forged.write_text(newest.read_text().replace(f"\n{sizes[0]}\n", f"\n{sizes[0] + 1}\n", 1))
        done = self.run("verify-checkpoint-forged", checker, "checkpoint", forged, "--public-key", key)
        assert done.returncode == 1, done.stdout + done.stderr


def check_notice(message: email.message.EmailMessage, accounts: list[dict]) -> None:
    """One notice as the SMTP server received it: to one account's address, in that person's language,
    and naming no other account (ID, name, e-mail address or phone number)."""
    address = email.utils.parseaddr(message["To"])[1]
    (recipient,) = [account for account in accounts if account["email"] and account["email"] == address]
    assert message["Content-Language"] == recipient["locale"], (message["Content-Language"], recipient["locale"])
    parts = [message["Subject"]] + [
        part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
    ]
    text = "\n".join(parts)
    assert bool(HANGUL.search(message["Subject"])) == (recipient["locale"] == "ko"), message["Subject"]
    assert recipient["uid"] in text or recipient["display_name"] in text, "the notice does not say whom it is for"
    for other in accounts:
        if other["uid"] == recipient["uid"]:
            continue
        identities = [other["uid"], other["email"], other["phone"]]
        if len(other["display_name"]) > 1 and other["display_name"] not in recipient["display_name"]:
            identities.append(other["display_name"])
        leaked = [value for value in identities if value and value in text]
        assert not leaked, f"the notice to {recipient['uid']} names someone else: {leaked}"


def check_logs(stack: Stack, token: str) -> None:
    """No one-time link token, e-mail address or phone number of the conversation store in any log of
    gunicorn, the worker or the periodic jobs."""
    secrets_ = (
        [token]
        + [a["email"] for a in stack.accounts() if a["email"]]
        + [a["phone"] for a in stack.accounts() if a["phone"]]
    )
    for name, text in stack.logs().items():
        leaked = [value for value in secrets_ if value in text]
        assert not leaked, f"{name} holds {leaked[:3]}"
    access = [line for line in stack.logs()["gunicorn.log"].splitlines() if '"warrantdesk.access"' in line]
    assert access, "gunicorn wrote no JSON access line"


def walk(journey: Journey) -> None:
    officer = journey.sign_in("officer.kim", shot="login")
    reference, warrant_url = journey.log_warrant(officer)

    reviewers = {"reviewer.park": journey.sign_in("reviewer.park", progress=True)}
    park = reviewers["reviewer.park"]
    journey.approve_and_export(park, warrant_url, reference)
    journey.verify_package(park)
    journey.deliver(park)
    token = journey.issue_link(park)
    journey.notices(park, warrant_url)

    followup_url = journey.follow_up(officer, warrant_url)
    reviewers["reviewer.jung"] = journey.sign_in("reviewer.jung")
    journey.reveal(reviewers, followup_url)

    journey.audit(journey.sign_in("auditor.choi"), reference)
    check_logs(journey.stack, token)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the journey serves the app with its own data directory (SQLite): run once, on the SQLite pass",
)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_whole_journey_in_a_browser_against_gunicorn(stack, lang):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # The run's own certificate, pinned by its key: trusted as a CA-issued one would be.
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                f"--ignore-certificate-errors-spki-list={stack.spki}",
            ],
        )
        try:
            walk(Journey(browser, stack, lang))
        except BaseException:
            for name, text in stack.logs().items():  # what the app's processes said, for the failure
                print(f"----- {name} (last 30 lines) -----", *text.splitlines()[-30:], sep="\n")
            raise
        finally:
            browser.close()
