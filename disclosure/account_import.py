"""Loading the operator's account directory from a file: ``manage.py import_accounts``.

The directory is what scope previews, exports and notices look people up in: account ID (``uid``),
display name, phone number, e-mail address, language, and (only for paper notices) a postal address.
It comes from the operator's own systems as CSV with a header row or as JSON lines, one object per line.

Decisions:

* **Everything is checked before anything is written.** A bad row (missing ID or name, a phone number
  that is not one, an invalid e-mail address, an unknown language, control characters, an ID given twice)
  is reported by its line number with the reason, never with its values (they are people's identities,
  and the report may end up in a cron mail). With bad rows nothing is loaded, unless the operator asks
  explicitly for the good rows alone (``skip_bad``). The good rows are then written in one transaction:
  a failure half-way leaves the directory as it was.
* **Idempotent.** Rows are matched by ``uid``: a new ID is created, a known one is updated where a value
  differs and left alone otherwise, so loading the same file twice changes nothing the second time. A
  column the file does not have (a JSON line without the key) leaves the stored value as it is; an empty
  value clears it. Accounts absent from the file are kept: the directory only grows or changes here.
* **Fast.** Stored accounts are read as plain rows in batches; new and changed ones are written in
  batches of plain INSERTs and UPDATEs through the driver's ``executemany`` (``_insert``, ``_update``:
  ``bulk_create`` and ``bulk_update`` took 7 and 40 s of CPU), the matching columns
  (``phone_normalized``, ``email_normalized``) from ``Account.normalized_fields``.
* **Audited**: one entry with the counts and the file's SHA-256, no identity.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import json
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from .identifiers import normalize_phone
from .models import Account

BATCH = 2000
FIELDS = ("uid", "display_name", "phone", "email", "locale", "postal_address")
REQUIRED = ("uid", "display_name")
# Header spellings seen in operators' exports, lower-cased, with spaces and hyphens as underscores.
ALIASES = {
    "id": "uid",
    "account_id": "uid",
    "account": "uid",
    "user_id": "uid",
    "name": "display_name",
    "displayname": "display_name",
    "nickname": "display_name",
    "phone_number": "phone",
    "mobile": "phone",
    "tel": "phone",
    "e_mail": "email",
    "mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "language": "locale",
    "lang": "locale",
    "address": "postal_address",
    "postal": "postal_address",
}
MAX_LENGTH = {
    "uid": Account._meta.get_field("uid").max_length,
    "display_name": Account._meta.get_field("display_name").max_length,
    "phone": Account._meta.get_field("phone").max_length,
    "email": 254,
    "postal_address": 1000,
}
FORMATS = ("csv", "jsonl")
ENCODINGS = ("utf-8-sig", "cp949")  # UTF-8 (with or without BOM), else the Korean Windows code page
# The columns a row may change, as stored (the matching columns follow the phone and the e-mail).
STORED = ("display_name", "phone", "email", "locale", "postal_address", "phone_normalized", "email_normalized")
NEW_ACCOUNT = {"display_name": "", "phone": "", "email": "", "locale": Account.Locale.KO.value, "postal_address": ""}


class AccountImportFailed(Exception):
    """The file cannot be read as a directory at all (nothing was written)."""


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class AccountImportSummary:
    format: str = ""
    encoding: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0
    loaded: bool = False
    dry_run: bool = False
    errors: list[BadRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["errors"] = [{"line": error.line, "reason": error.reason} for error in self.errors]
        return data


@dataclass
class _Row:
    line: int
    values: dict[str, str]  # only the columns the row has


# --- reading ---------------------------------------------------------------------------------------


def _decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    for candidate in (encoding,) if encoding else ENCODINGS:
        try:
            return data.decode(candidate), "utf-8" if candidate == "utf-8-sig" else candidate
        except (UnicodeDecodeError, LookupError) as exc:
            if encoding:
                raise AccountImportFailed(f"the file is not readable as {encoding}: {exc}") from exc
    raise AccountImportFailed("the file is neither UTF-8 nor CP949 text: give its encoding with --encoding")


def detect_format(path: Path, text: str) -> str:
    """By extension (.csv; .jsonl, .ndjson, .json), else by content: a first line that opens a JSON
    object is JSON lines, anything else CSV."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return "jsonl" if first.startswith("{") else "csv"


def _column(name: str) -> str:
    key = "_".join(name.strip().lower().replace("-", " ").split())
    return ALIASES.get(key, key)


def _columns(names: list[str], where: str) -> list[str]:
    columns = [_column(name) for name in names]
    unknown = [name for name, column in zip(names, columns, strict=True) if column not in FIELDS]
    if unknown:
        shown = unknown[0] if len(unknown[0]) <= 40 and unknown[0].isprintable() else "(unreadable)"
        raise AccountImportFailed(
            f"{where}: unknown column {shown!r} (known: {', '.join(FIELDS)}; nothing is guessed, as a "
            "misread column would lose data)"
        )
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise AccountImportFailed(f"{where}: column {repeated[0]!r} given twice")
    return columns


def _csv_rows(text: str, errors: list[BadRow]) -> Iterator[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = _columns(record, f"line {line} (header)")
                missing = [column for column in REQUIRED if column not in header]
                if missing:
                    raise AccountImportFailed(
                        f"line {line} (header): the column {missing[0]!r} is missing (a CSV file starts with "
                        f"a header row naming its columns, among {', '.join(FIELDS)})"
                    )
                continue
            if len(record) != len(header):
                errors.append(BadRow(line, f"{len(record)} fields where the header has {len(header)}"))
                continue
            yield _Row(line, dict(zip(header, record, strict=True)))
    except csv.Error as exc:
        raise AccountImportFailed(f"line {start}: not readable as CSV ({exc})") from exc
    if header is None:
        raise AccountImportFailed("the file is empty: a CSV file starts with a header row")


def _json_rows(text: str, errors: list[BadRow]) -> Iterator[_Row]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as exc:
            where = f" ({exc.msg} at column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            errors.append(BadRow(number, f"not a JSON object{where}"))
            continue
        if not isinstance(item, dict):
            errors.append(BadRow(number, "not a JSON object (one object per line)"))
            continue
        try:
            columns = _columns(list(item), f"line {number}")
        except AccountImportFailed as exc:
            errors.append(BadRow(number, str(exc).removeprefix(f"line {number}: ")))
            continue
        values: dict[str, str] = {}
        for column, value in zip(columns, item.values(), strict=True):
            if value is None:
                value = ""
            if isinstance(value, bool) or not isinstance(value, str | int):
                errors.append(BadRow(number, f"{column}: a text value is expected"))
                break
            values[column] = str(value)
        else:
            yield _Row(number, values)


# --- checking --------------------------------------------------------------------------------------


def _bad_characters(value: str, *, newlines: bool = False) -> bool:
    """Control and format characters (bidirectional overrides, zero-width) have no place in an ID or a
    name: they hide what is shown, or forge lines."""
    if value.isprintable():  # the usual case, in C: no control, format or line separator characters
        return False
    for char in value:
        if newlines and char == "\n":
            continue
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}:
            return True
    return False


def _locale(value: str) -> str | None:
    key = value.strip().lower().replace("_", "-")
    if not key:
        return Account.Locale.KO.value
    if key in {"ko", "kor", "korean", "한국어"} or key.startswith("ko-"):
        return Account.Locale.KO.value
    if key in {"en", "eng", "english", "영어"} or key.startswith("en-"):
        return Account.Locale.EN.value
    return None


def _clean(row: _Row) -> dict[str, str] | str:
    """The row's values ready to store, or the reason it is refused (never quoting a value)."""
    values = {column: value.strip() for column, value in row.values.items()}
    if "postal_address" in values:
        lines = values["postal_address"].replace("\r\n", "\n").split("\n")
        values["postal_address"] = "\n".join(line.strip() for line in lines if line.strip())
    for column in ("display_name", "postal_address"):
        if column in values:
            values[column] = unicodedata.normalize("NFC", values[column])
    for column in REQUIRED:
        if not values.get(column):
            return f"{column}: missing"
    for column, value in values.items():
        if column in MAX_LENGTH and len(value) > MAX_LENGTH[column]:
            return f"{column}: longer than {MAX_LENGTH[column]} characters"
        if _bad_characters(value, newlines=column == "postal_address"):
            return f"{column}: contains control or invisible formatting characters"
    if values["uid"].split() != [values["uid"]]:
        return "uid: contains spaces"
    if values.get("phone") and normalize_phone(values["phone"]) is None:
        return "phone: not a phone number"
    if values.get("email"):
        try:
            validate_email(values["email"])
        except ValidationError:
            return "email: not a valid e-mail address"
    if "locale" in values:
        locale = _locale(values["locale"])
        if locale is None:
            return "locale: unknown language (ko or en)"
        values["locale"] = locale
    return values


# --- loading ---------------------------------------------------------------------------------------


def accounts_import(
    path: Path | str,
    *,
    actor=None,
    skip_bad: bool = False,
    dry_run: bool = False,
    fmt: str | None = None,
    encoding: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AccountImportSummary:
    """Load the account directory in ``path`` (see the module docstring for the rules).

    Raises ``AccountImportFailed`` when the file cannot be read as a directory. Bad rows are listed in
    the summary; with any, nothing is written unless ``skip_bad``. ``dry_run`` checks and counts only.
    """
    path = Path(path)
    data = path.read_bytes()
    text, used_encoding = _decode(data, encoding)
    summary = AccountImportSummary(format=fmt or detect_format(path, text), encoding=used_encoding, dry_run=dry_run)
    if summary.format not in FORMATS:
        raise AccountImportFailed(f"unknown format {summary.format!r} (csv or jsonl)")
    errors: list[BadRow] = []
    rows = _csv_rows(text, errors) if summary.format == "csv" else _json_rows(text, errors)
    good: dict[str, tuple[int, dict[str, str]]] = {}
    for row in rows:
        cleaned = _clean(row)
        if isinstance(cleaned, str):
            errors.append(BadRow(row.line, cleaned))
        elif cleaned["uid"] in good:
            errors.append(BadRow(row.line, f"uid: already given on line {good[cleaned['uid']][0]}"))
        else:
            good[cleaned["uid"]] = (row.line, cleaned)
    summary.errors = sorted(errors, key=lambda error: error.line)
    summary.bad = len(summary.errors)
    summary.rows = len(good) + summary.bad
    if (summary.bad and not skip_bad) or dry_run:
        changed, new, summary.unchanged, _columns_touched = _plan(good)
        summary.updated, summary.created = len(changed), len(new)
        return summary
    with transaction.atomic(durable=True):
        _load(summary, good, progress)
        audit_record(
            action=AuditAction.REGISTRY_CHANGED,
            actor=actor,
            actor_label=None if actor is not None else f"cli:{getpass.getuser()}",
            details={
                "op": "accounts_import",
                "sha256": hashlib.sha256(data).hexdigest(),
                "format": summary.format,
                "rows": summary.rows,
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "bad_rows_skipped": summary.bad,
            },
        )
    summary.loaded = True
    return summary


def _merged(stored: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """The account's columns after the row: the row's values over the stored ones, with the matching
    columns computed again when the phone or the e-mail address is given."""
    merged = {**stored, **{column: value for column, value in values.items() if column != "uid"}}
    if "phone" in values or "email" in values:
        merged.update(Account.normalized_fields(phone=merged["phone"], email=merged["email"]))
    return merged


def _existing(uids: list[str]) -> Iterator[tuple[int, str, dict[str, str]]]:
    """(pk, uid, stored columns) of the accounts among ``uids``: plain rows, no model instances."""
    for start in range(0, len(uids), BATCH):
        found = Account.objects.filter(uid__in=uids[start : start + BATCH]).values_list("pk", "uid", *STORED)
        for pk, uid, *stored in found:
            yield pk, uid, dict(zip(STORED, stored, strict=True))


def _plan(good: dict[str, tuple[int, dict[str, str]]]) -> tuple[list[Account], list[dict], int, list[str]]:
    """What the load does: accounts to update, the columns of accounts to create, how many stay as they
    are, and the columns the updates change."""
    changed: list[Account] = []
    columns: set[str] = set()
    unchanged = 0
    seen: set[str] = set()
    for pk, uid, stored in _existing(list(good)):
        seen.add(uid)
        merged = _merged(stored, good[uid][1])
        if merged == stored:
            unchanged += 1
            continue
        changed.append(Account(pk=pk, uid=uid, **merged))
        columns.update(column for column in STORED if merged[column] != stored[column])
    blank = {**NEW_ACCOUNT, **Account.normalized_fields()}
    new = [{"uid": uid, **_merged(blank, values)} for uid, (_line, values) in good.items() if uid not in seen]
    return changed, new, unchanged, sorted(columns)


def _db_column(name: str) -> str:
    """The database column of the account's concrete field ``name``."""
    field = Account._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise ValueError(f"Account.{name} has no column")
    return field.column


def _insert(rows: list[dict], now) -> None:
    """One INSERT per new account through the driver's ``executemany``, as ``_update`` does: what
    ``bulk_create`` writes, without building and compiling 100,000 model instances (7 s of CPU here,
    against about one)."""
    quote = connection.ops.quote_name
    columns = ["uid", *STORED]
    names = ", ".join(quote(_db_column(column)) for column in [*columns, "created_at"])
    marks = ", ".join(["%s"] * (len(columns) + 1))
    sql = f"INSERT INTO {quote(Account._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608 (names from STORED)
    created_at = Account._meta.get_field("created_at").get_db_prep_save(now, connection)
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[row[column] for column in columns] + [created_at] for row in rows])


def _update(accounts: list[Account], columns: list[str]) -> None:
    """``UPDATE … WHERE id = %s`` once per account through the driver's ``executemany``: the same rows
    as ``bulk_update``, whose CASE expression per column and row took 40 s of CPU for 66,000 rows here,
    against about a second this way. Values go as parameters, names through ``quote_name``."""
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(_db_column(column))} = %s" for column in columns)
    sql = f"UPDATE {quote(Account._meta.db_table)} SET {assignments} WHERE {quote(Account._meta.pk.column)} = %s"  # noqa: S608 (names from STORED)
    with connection.cursor() as cursor:
        cursor.executemany(
            sql, [[getattr(account, column) for column in columns] + [account.pk] for account in accounts]
        )


def _load(
    summary: AccountImportSummary,
    good: dict[str, tuple[int, dict[str, str]]],
    progress: Callable[[int, int], None] | None,
) -> None:
    changed, new, summary.unchanged, columns = _plan(good)
    total, done = len(good), summary.unchanged
    for start in range(0, len(changed), BATCH):
        _update(changed[start : start + BATCH], columns)
        done += len(changed[start : start + BATCH])
        if progress:
            progress(done, total)
    now = timezone.now()
    for start in range(0, len(new), BATCH):
        _insert(new[start : start + BATCH], now)
        done += len(new[start : start + BATCH])
        if progress:
            progress(done, total)
    summary.updated, summary.created = len(changed), len(new)
    if progress:
        progress(total, total)
