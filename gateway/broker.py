"""Celery's Redis transport (kombu), with one fix: a worker survives losing Redis.

When the broker goes away, Celery collects and then closes the broken connection, which closes
the consumer's channel twice. The first close stops half-way (a BRPOP in flight on the dead
socket raises) and the connection then drops its transport; the second one tries to put the
channel's unacknowledged messages back through that transport, which no longer has a client:
``AttributeError: 'NoneType' object has no attribute 'hostname'``, "Unrecoverable error", and
the worker exits for good (kombu 5.7). A worker holds unacknowledged messages whenever it has
a task with a countdown waiting, or a task running (acks_late), so a Redis restart would stop
all publication until someone restarts the worker (tests/test_stack_faults.py).

Here that restore is skipped when the connection is already closed: the messages stay in
Redis's set of unacknowledged messages, from which kombu restores them once the visibility
timeout has passed, and the beat sweeper publishes what their tasks would have meanwhile.
Selected by CELERY_BROKER_TRANSPORT when REDIS_URL is set.
"""

from __future__ import annotations

import logging

from kombu.transport import redis

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client=None):  # type: ignore[no-untyped-def]
        if client is None and self.channel.connection.client is None:
            logger.warning(
                "broker connection lost: %d unacknowledged message(s) stay in Redis until the visibility timeout",
                len(self._delivered),
            )
            return None
        return super().restore_unacked(client)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
