"""What this app tells the apps above it, without importing them.

``signature_checked`` is sent inside the transaction that records a signature check, with
``document`` (the checked Document) and ``outcome`` (a SignatureOutcome value). ``disclosure``
listens to move a follow-up request to review, or to signature failed, with the verdict.
"""

from django.dispatch import Signal

signature_checked = Signal()
