"""``change_committed`` is sent after a transaction with trust-state changes commits.

The outbox knows nothing of publication; the trustlist app listens (trustlist.apps)."""

from django.dispatch import Signal

change_committed = Signal()
