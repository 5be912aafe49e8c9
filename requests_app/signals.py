"""What this app tells the apps above it, without importing them.

``signature_checked`` is sent inside the transaction that records a signature check, with
``document`` (the checked Document) and ``outcome`` (a SignatureOutcome value). ``disclosure``
listens to move a follow-up request to review, or to signature failed, with the verdict.

``warrant_logged`` (``warrant``) and ``warrant_moved`` (``warrant``, ``from_status``, ``to_status``,
``actor``) are sent once the transaction that logged or moved the warrant has committed (robust
``on_commit``: a failing receiver is logged, it never undoes or fails the warrant's change).
``disclosure`` listens to place a preservation hold on a new warrant's scope and to release it when
the warrant is rejected; its hourly retention purge repairs a hold a failed receiver missed.
"""

from django.dispatch import Signal

signature_checked = Signal()
warrant_logged = Signal()
warrant_moved = Signal()
