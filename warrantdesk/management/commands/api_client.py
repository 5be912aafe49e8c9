"""`manage.py api_client`: API clients (scripts, systems) with their own tokens, audited.

    manage.py api_client create "SCDPO script" --user svc.scdpo --scope warrants:read --scope exports:read --days 90
    manage.py api_client list
    manage.py api_client revoke 1a2b3c4d

``create`` prints the token once (only its hash is kept): hand it over to the client's operator at once.
The client acts as ``--user`` (a service account made with ``create_staff``: its roles and assigned cases
bound what the client sees) and only within its scopes. ``revoke`` takes the token's prefix.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from warrantdesk.api_clients import SCOPES, api_client_create, api_client_revoke
from warrantdesk.exceptions import DomainError
from warrantdesk.models import ApiClient


class Command(BaseCommand):
    help = "Create, list or revoke API clients (per-client tokens with scopes and an expiry)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        create = commands.add_parser("create", help="a new client; prints its token once")
        create.add_argument("name")
        create.add_argument("--user", required=True, help="the service account the client acts as")
        create.add_argument("--scope", action="append", required=True, choices=SCOPES, help="repeat for several")
        create.add_argument("--days", type=int, default=90, help="the token's life in days (1-730; default 90)")
        commands.add_parser("list", help="the clients, without their tokens")
        revoke = commands.add_parser("revoke", help="revoke a client's token at once")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _create(self, *, name, user, scope, days, **options):
        account = get_user_model().objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"no user {user!r}: create the service account first (manage.py create_staff)")
        client, token = api_client_create(name=name, user=account, scopes=scope, days=days)
        self.stdout.write(
            f"API client {client.name!r} ({client.prefix}), acts as {user}, scopes {', '.join(client.scopes)}"
        )
        self.stdout.write(f"expires {client.expires_at:%Y-%m-%d %H:%M %Z}. Its token, shown only now:")
        self.stdout.write(token)

    def _list(self, **options):
        for client in ApiClient.objects.select_related("user"):
            state = "revoked" if client.revoked_at else f"expires {client.expires_at:%Y-%m-%d}"
            used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never"
            self.stdout.write(
                f"{client.prefix}  {client.name}  as {client.user.get_username()}  "
                f"[{', '.join(client.scopes)}]  {state}  last used {used}"
            )

    def _revoke(self, *, prefix, **options):
        client = ApiClient.objects.filter(prefix=prefix.removeprefix("wdk_").split("_")[0]).first()
        if client is None:
            raise CommandError(f"no API client with prefix {prefix!r}")
        api_client_revoke(client=client)
        self.stdout.write(f"revoked {client.name!r} ({client.prefix})")
