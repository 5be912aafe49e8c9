"""The warrant page's HI-1 panel: the messages in and out of a case that came (or went) through HI-1,
pretty-printed with document and delivery bodies elided. Shown to whoever may see the warrant page."""

from __future__ import annotations

import logging

from django.urls import reverse

from requests_app.page_hooks import Panel
from requests_app.permissions import can_view

from . import exchange, xml
from .models import Message

logger = logging.getLogger(__name__)


def exchange_panel(request, warrant) -> Panel | None:
    if not can_view(request.user, warrant):
        return None
    messages = list(Message.objects.filter(warrant=warrant))
    shown = []
    for message in messages:
        try:
            body = xml.pretty(exchange.message_bytes(message))
        except Exception:  # a destroyed key or a damaged file: the row stays, its body cannot be shown
            logger.warning("HI-1 message %s of %s cannot be opened", message.pk, warrant.reference)
            body = None
        shown.append({"message": message, "body": body})
    return Panel(
        "hi1/panel.html",
        {
            "hi1_messages": shown,
            "hi1_export_url": reverse("hi1:warrant-export", args=[warrant.pk]),
        },
    )
