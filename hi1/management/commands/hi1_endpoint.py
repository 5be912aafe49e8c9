"""Register an agency's HI-1 sender identifier, or bind an API client to an agency for HI-1.

manage.py hi1_endpoint add --agency agency-a --country DE --identifier agency-a-hi1
manage.py hi1_endpoint bind --agency agency-a --client <token prefix>
manage.py hi1_endpoint list
"""

from django.core.management.base import BaseCommand, CommandError

from hi1 import registry
from hi1.models import ClientBinding, Endpoint
from requests_app.models import Agency
from warrantdesk.exceptions import DomainError
from warrantdesk.models import ApiClient


class Command(BaseCommand):
    help = "Register HI-1 sender identifiers and bind API clients to agencies."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["add", "bind", "list"])
        parser.add_argument("--agency")
        parser.add_argument("--country")
        parser.add_argument("--identifier")
        parser.add_argument("--client", help="the API client's token prefix")

    def handle(self, *args, action, agency=None, country=None, identifier=None, client=None, **options):
        if action == "list":
            for endpoint in Endpoint.objects.select_related("agency").order_by("agency__code", "pk"):
                self.stdout.write(f"{endpoint.agency.code}\t{endpoint.country_code}-{endpoint.unique_identifier}")
            for binding in ClientBinding.objects.select_related("agency", "client"):
                self.stdout.write(f"{binding.agency.code}\tclient {binding.client.prefix} ({binding.client.name})")
            return
        found = Agency.objects.filter(code=agency or "").first()
        if found is None:
            raise CommandError("--agency: no agency with this code")
        try:
            if action == "add":
                endpoint = registry.endpoint_add(agency=found, country=country or "", identifier=identifier or "")
                self.stdout.write(f"registered {endpoint}")
            else:
                api_client = ApiClient.objects.filter(prefix=client or "").first()
                if api_client is None:
                    raise CommandError("--client: no API client with this token prefix")
                registry.client_bind(agency=found, client=api_client)
                self.stdout.write(f"bound client {api_client.prefix} to {found.code}")
        except DomainError as exc:
            raise CommandError(str(exc)) from None
