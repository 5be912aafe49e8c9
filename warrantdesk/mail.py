"""A console mail backend that writes one line per message instead of the whole MIME text.

``MAIL_BACKEND=console`` (the default, what ``make run`` uses) selects it. Django's own console backend
prints every notice in full, bodies included, into the terminal and whatever collects it: the name of
the person, what was disclosed about them. A line says enough to follow the sending:

    mail: message-id=<notice.…@warrantdesk.invalid> lang=ko to-domain=example.kr

the Message-ID (to match against the notification), the language and the recipients' domains only,
never an address, a name or a subject.
"""

import re

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend

# Anything that could forge a second log line or hide text: control characters, spaces, separators.
_UNSAFE = re.compile(r"[^\x21-\x7e\u00a1-\uffff]|[\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _clean(value: str, limit: int = 200) -> str:
    return _UNSAFE.sub("?", value)[:limit] or "-"


def recipient_domain(address: str) -> str:
    """The part after the last "@" of an address, lower-cased; "-" when there is none."""
    _local, at, domain = address.strip().rstrip(">").rpartition("@")
    return _clean(domain.lower()) if at and domain else "-"


def summary_line(message) -> str:
    """One line about ``message``: its Message-ID, language and recipients' domains."""
    recipients = [*message.to, *message.cc, *message.bcc]
    domains = sorted({recipient_domain(str(address)) for address in recipients}) or ["-"]
    message_id = message.extra_headers.get("Message-ID") or message.message()["Message-ID"] or ""
    language = message.extra_headers.get("Content-Language") or "-"
    return f"mail: message-id={_clean(str(message_id))} lang={_clean(str(language), 16)} to-domain={','.join(domains)}"


class EmailBackend(DjangoConsoleBackend):
    """Django's console backend (thread-safe, ``stream`` option), one summary line per message."""

    def write_message(self, message) -> None:
        self.stream.write(summary_line(message) + "\n")
