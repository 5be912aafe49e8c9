from .audit import request_ip
from .refusals import record_refusal


class RequestContextMiddleware:
    """Make the client address available to audit entries written during this request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)

    def process_exception(self, request, exception):
        """A web view that lets ``PermissionDenied`` through (403): recorded like a refused action."""
        record_refusal(request, exception)
        return None
