"""`manage.py rotate_kek`: re-wrap every data key of the key store under the newest KEK.

    manage.py rotate_kek [--dry-run] [--verbose] [--batch-size N] [--progress]

The newest KEK is the first entry of ``WARRANTDESK_KEK``; the others still unwrap. Every live key
(``warrantdesk.keystore``) that is wrapped under an older KEK is re-wrapped under the newest one with
``keystore.rewrap``: the data key itself does not change, so nothing else (files, message bodies,
pseudonyms) is rewritten. Destroyed keys (tombstones) hold no key material and are skipped; a key
destroyed while the rotation runs stays destroyed (``rewrap`` swaps only over the entry it read).

Keys are taken in batches of ``--batch-size`` names, in name order, with a progress bar on stderr
(on a terminal, or with ``--progress``). Ctrl-C or SIGTERM stops it after the key in hand: it then
reports and exits with status 130 (SIGINT) or 143 (SIGTERM). Running it again continues: a key
already under the newest KEK is skipped. A run killed outright (SIGKILL, power loss) loses nothing
either: each key is replaced atomically, under the old KEK or the new one.

At the end the store is read again and the command prints what still uses an older KEK (counts per
KEK id; the names with ``--verbose``) and says plainly whether an older KEK can now be removed from
``WARRANTDESK_KEK``. Exit status 1 when some key could not be re-wrapped (its KEK is not configured,
or it does not open).

Every run that changes something, or tried to, is audited once (``keys.rotated``: counts per KEK id,
never a key or a key name). ``--dry-run`` reads and reports only: it changes nothing, audits nothing.
"""

from __future__ import annotations

import signal
from collections import Counter
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError

from warrantdesk import keystore
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction
from warrantdesk.progress import plain, progress_bar

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass
class Survey:
    """What the key store holds, by state: live keys per KEK id (with their names), tombstones, and
    leftovers (names that are no key: a temporary file of a write cut short)."""

    by_kek: dict[str, list[str]] = field(default_factory=dict)
    destroyed: int = 0
    leftovers: list[str] = field(default_factory=list)

    def add(self, name: str, entry: keystore.Entry | None) -> None:
        if entry is None:  # gone between listing and reading
            return
        if entry.destroyed_at is not None:
            self.destroyed += 1
        else:
            self.by_kek.setdefault(entry.kek_id, []).append(name)


def is_leftover(name: str) -> bool:
    """Names the application never gives a key: a part starting with "." (the directory backend's
    ``.tmp-…`` files of an interrupted write)."""
    return any(part.startswith(".") for part in name.split("/"))


def survey(names: list[str]) -> Survey:
    store, found = keystore.backend(), Survey()
    for name in names:
        if is_leftover(name):
            found.leftovers.append(name)
        else:
            found.add(name, store.read(name))
    if isinstance(store, keystore.DirectoryBackend):  # names() skips them: look on disk
        found.leftovers.extend(leftover for leftover in store.leftovers() if leftover not in found.leftovers)
    return found


class Command(BaseCommand):
    help = (
        "Re-wrap every data key of the key store under the newest KEK (first of WARRANTDESK_KEK), in "
        "batches; interrupt with Ctrl-C and run again to continue; reports what still uses an older KEK."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report only: change nothing, audit nothing")
        parser.add_argument("--verbose", action="store_true", help="name the keys still under an older KEK")
        parser.add_argument(
            "--batch-size", type=int, default=200, help="keys read and re-wrapped per batch (default 200)"
        )
        parser.add_argument("--progress", action="store_true", help="progress bar on stderr even when not a terminal")

    def handle(
        self,
        *args,
        dry_run: bool = False,
        verbose: bool = False,
        batch_size: int = 200,
        progress: bool = False,
        **options,
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            configured = keystore.keks()
        except keystore.KeyUnavailable as exc:
            raise CommandError(str(exc)) from exc
        newest = next(iter(configured))
        older = [kek for kek in configured if kek != newest]
        self.stdout.write(
            f"Newest KEK: {newest}"
            + (f"; older KEK{'s' if len(older) != 1 else ''} still configured: {', '.join(older)}" if older else "")
        )
        names = keystore.names()
        if dry_run:
            self._report(survey(names), configured, newest, verbose=verbose, dry_run=True)
            return

        stopped: dict[str, int] = {}

        def stop(signum, frame):
            stopped.setdefault("signal", signum)

        previous = {signum: signal.signal(signum, stop) for signum in EXIT_SIGNAL}
        rewrapped: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        already = destroyed = 0
        bar = progress_bar(self.stderr, unit="keys", min_total=1) if progress or self.stderr.isatty() else None
        done = 0
        try:
            store = keystore.backend()
            for start in range(0, len(names), batch_size):
                for name in names[start : start + batch_size]:
                    if stopped:
                        break
                    done += 1
                    entry = None if is_leftover(name) else store.read(name)
                    if entry is None:
                        continue
                    if entry.destroyed_at is not None:
                        destroyed += 1
                    elif entry.kek_id == newest:
                        already += 1
                    else:
                        try:
                            if keystore.rewrap(name):
                                rewrapped[entry.kek_id] += 1
                            else:  # destroyed or rotated by another process meanwhile
                                already += 1
                        except (keystore.KeyUnavailable, ValueError):
                            failed[entry.kek_id] += 1
                if bar is not None:
                    bar(done, len(names))
                if stopped:
                    break
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            interrupted = bool(stopped)
            audit_record(
                action=AuditAction.KEYS_ROTATED,
                details={
                    "newest_kek": newest,
                    "rewrapped": dict(rewrapped),
                    "failed": dict(failed),
                    "already_newest": already,
                    "destroyed_skipped": destroyed,
                    "keys_seen": done,
                    "keys_listed": len(names),
                    "interrupted": interrupted,
                },
            )

        total = sum(rewrapped.values())
        if not total and not failed and not interrupted:
            self.stdout.write(f"Nothing to re-wrap: no live key was under a KEK other than {newest}; nothing changed.")
        self.stdout.write(
            f"Re-wrapped {total} key{'s' if total != 1 else ''} under {newest}"
            + "".join(f"; {count} from {kek}" for kek, count in sorted(rewrapped.items()))
            + f". Already under it: {already}. Destroyed (skipped, never revived): {destroyed}."
        )
        if failed:
            self.stderr.write(
                "Could not re-wrap: "
                + ", ".join(f"{count} under {kek or '(no KEK)'}" for kek, count in sorted(failed.items()))
                + " (that KEK is not configured, or the stored key does not open).",
                style_func=plain,
            )
        if interrupted:
            self.stdout.write(
                f"Interrupted after {done} of {len(names)} keys: run `manage.py rotate_kek` again to continue."
            )
        unfinished = self._report(survey(keystore.names()), configured, newest, verbose=verbose, dry_run=False)
        if interrupted:
            raise CommandError("interrupted", returncode=EXIT_SIGNAL.get(signal.Signals(stopped["signal"]), 1))
        if failed or unfinished:
            raise CommandError("some keys are still under an older KEK (see above)")

    def _report(
        self, found: Survey, configured: dict[str, bytes], newest: str, *, verbose: bool, dry_run: bool
    ) -> bool:
        """Print what uses which KEK and whether the older ones can go; True when some live key is
        still under an older KEK."""
        live = sum(len(names) for names in found.by_kek.values())
        on_newest = len(found.by_kek.get(newest, []))
        self.stdout.write(
            f"Key store: {live} live key{'s' if live != 1 else ''}, {on_newest} under the newest KEK {newest}; "
            f"{found.destroyed} destroyed (tombstones, no key material)."
        )
        stale = {kek: names for kek, names in sorted(found.by_kek.items()) if kek != newest}
        for kek, names in stale.items():
            if kek not in configured:
                state = "NOT configured: these keys cannot be read"
            else:
                state = "configured; a run would re-wrap them" if dry_run else "configured"
            self.stdout.write(f"  still under {kek or '(no KEK)'} ({state}): {len(names)}")
            if verbose:
                for name in names:
                    self.stdout.write(f"    {name}")
        if found.leftovers:
            self.stdout.write(
                f"  {len(found.leftovers)} leftover temporary file(s) of an interrupted write in the keyring "
                "(not keys; they may hold an old wrapped copy of a key):"
            )
            for name in found.leftovers:
                self.stdout.write(f"    {name}")
        if not stale and on_newest == live:
            removable = [kek for kek in configured if kek != newest]
            if removable:
                plural = len(removable) != 1
                self.stdout.write(
                    f"Every live key is under the newest KEK {newest}. The older KEK{'s' if plural else ''} "
                    f"{', '.join(removable)} can now be removed from WARRANTDESK_KEK (keep "
                    f"{'them' if plural else 'it'} offline only as long as you keep keyring backups taken before "
                    "this rotation)."
                )
            else:
                self.stdout.write(f"Every live key is already under {newest}, the only KEK configured: nothing to do.")
            return False
        self.stdout.write(
            "Some keys are still under an older KEK: do NOT remove it from WARRANTDESK_KEK yet"
            + (" (this was a dry run: run without --dry-run)." if dry_run else "; run `manage.py rotate_kek` again.")
        )
        return True
