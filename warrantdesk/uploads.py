"""Upload parsing that remembers the file name the client really sent.

Django strips directories from uploaded file names ("../../x.pdf" becomes "x.pdf"), which makes a
path-traversal attempt invisible to the form that should refuse it. This parser keeps the raw
name on the uploaded file as ``client_name`` so validation can refuse it with a clear message.
"""

import html

from django.http.multipartparser import MultiPartParser


class NameKeepingMultiPartParser(MultiPartParser):
    def sanitize_file_name(self, file_name):
        clean = super().sanitize_file_name(file_name)
        raw = html.unescape(file_name)
        if clean is None and raw:
            # Django would silently drop a file named "." or ".."; keep it so it can be refused.
            clean = "upload"
        self._raw_names = getattr(self, "_raw_names", {})
        self._raw_names.setdefault(clean, raw)
        return clean

    IE_sanitize = sanitize_file_name

    def parse(self):
        post, files = super().parse()
        raw_names = getattr(self, "_raw_names", {})
        for _field, uploads in files.lists():
            for uploaded in uploads:
                uploaded.client_name = raw_names.get(uploaded.name, uploaded.name)
        return post, files


class UploadNameGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.multipart_parser_class = NameKeepingMultiPartParser
        return self.get_response(request)
