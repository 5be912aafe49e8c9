"""`manage.py create_staff`: a staff account of the legal team with its role(s), audited.

    manage.py create_staff kim.minji --role intake-officer --name "Kim Minji" --email minji@example.kr
    printf '%s\\n' "$PASSWORD" | manage.py create_staff park.seoyeon --role reviewer --password-stdin
    manage.py create_staff kim.minji --role intake-officer --role reviewer --update

Roles (repeat --role for several): intake-officer, reviewer, auditor, administrator. The password is
asked twice on the terminal, or read from the first line of stdin with --password-stdin, and checked
with the project's password validators. An existing user is refused unless --update is given; with
--update the roles are replaced, and the e-mail, the name and the password change only when given
(--password-stdin, or --set-password to be asked). Every change is one "role.changed" audit entry.
"""

import getpass
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from warrantdesk.exceptions import DomainError
from warrantdesk.roles import Role
from warrantdesk.staff import role_from_name, staff_save


class Command(BaseCommand):
    help = "Create (or with --update change) a staff account with its roles; password prompted or read from stdin."

    stealth_options = ("stdin",)  # tests hand the password over as call_command(..., stdin=...)

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            action="append",
            required=True,
            metavar="ROLE",
            help=f"one of {', '.join(role.name.lower().replace('_', '-') for role in Role)} (repeat for several)",
        )
        parser.add_argument("--email", help="the person's e-mail address")
        parser.add_argument("--name", help='full name, "First Last"')
        parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
        parser.add_argument("--set-password", action="store_true", help="with --update: ask for a new password")
        parser.add_argument("--update", action="store_true", help="change the user if it exists already")

    def handle(self, *args, username, role, email, name, password_stdin, set_password, update, **options):
        try:
            roles = list(dict.fromkeys(role_from_name(item) for item in role))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        password = None
        if password_stdin:
            password = self._read_stdin(options.get("stdin") or sys.stdin)
        elif not update or set_password:
            password = self._prompt()
        try:
            user, created = staff_save(
                username=username, roles=roles, password=password, email=email, name=name, update=update
            )
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        names = ", ".join(role.value for role in roles)
        self.stdout.write(f"{'created' if created else 'updated'} {user.get_username()}: {names}")

    def _read_stdin(self, stream) -> str:
        line = stream.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise CommandError("--password-stdin: stdin gave no password (one line expected)")
        return password

    def _prompt(self) -> str:
        if not sys.stdin.isatty():
            raise CommandError("no terminal to ask for the password on: give it on stdin with --password-stdin")
        first = getpass.getpass("Password: ")
        if not first:
            raise CommandError("no password given")
        if getpass.getpass("Password (again): ") != first:
            raise CommandError("the two passwords differ: nothing was changed")
        return first
