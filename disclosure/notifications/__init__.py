"""User notifications: telling each person what was disclosed about them, once the disclosure is done.

The modules, in the order a notice lives through them:

- ``planning``: who is notified and when (planned at delivery, due after a delay, deferrals end);
- ``messages``: what the notice says and how it is written (e-mail templates in the person's
  language, the stable Message-ID, the paper letter as HTML and PDF);
- ``sender``: sending the due e-mails at most once each, in claimed groups over one SMTP connection
  per batch, with back-off for refused messages (the at-most-once rule is described there);
- ``services``: the legal team's actions (defer, mark sent or posted, re-queue, switch to a letter,
  open the letter to print), each audited;
- ``lifecycle``: the warrant's NOTIFYING and CLOSED stages, driven by its notices;
- ``selectors``: what a user may see, and what is overdue.

Other modules import from this package, not from its modules: the names below are its public API.
(``sender.RECORD_EVERY`` is not re-exported: a test tunes it on ``sender`` itself, where it is read.)
Audit entries name notifications by id and accounts by pk only, never a name, phone number or e-mail
address.
"""

from .lifecycle import OPEN_FOLLOW_UPS, warrant_mark_notifying, warrants_close_settled
from .messages import (
    NOTICE,
    NoticeFacts,
    NoticeRenderer,
    address_lines,
    disclosure_rows,
    is_letter,
    letter_html,
    make_message,
    new_message_id,
    notice_facts,
    notice_message,
    render_letter,
)
from .planning import due_q, letter_may_be_posted, notice_delay, notifications_plan
from .selectors import notification_get_visible, notifications_visible_to, overdue_count, overdue_q
from .sender import BACKOFF, REFUSED, SendResult, backoff, notifications_send_due
from .services import (
    can_manage,
    letter_open,
    notification_defer,
    notification_mark_sent,
    notification_requeue,
    notification_to_letter,
)

__all__ = [
    "BACKOFF",
    "NOTICE",
    "OPEN_FOLLOW_UPS",
    "REFUSED",
    "NoticeFacts",
    "NoticeRenderer",
    "SendResult",
    "address_lines",
    "backoff",
    "can_manage",
    "disclosure_rows",
    "due_q",
    "is_letter",
    "letter_html",
    "letter_may_be_posted",
    "letter_open",
    "make_message",
    "new_message_id",
    "notice_delay",
    "notice_facts",
    "notice_message",
    "notification_defer",
    "notification_get_visible",
    "notification_mark_sent",
    "notification_requeue",
    "notification_to_letter",
    "notifications_plan",
    "notifications_send_due",
    "notifications_visible_to",
    "overdue_count",
    "overdue_q",
    "render_letter",
    "warrant_mark_notifying",
    "warrants_close_settled",
]
