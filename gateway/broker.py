"""Celery's Redis transport (kombu), with two fixes: a worker survives losing Redis, and no one
waits forever on a Redis that hangs.

When the broker goes away, Celery collects and then closes the broken connection, which closes
the consumer's channel twice. The first close stops half-way (a BRPOP in flight on the dead
socket raises) and the connection then drops its transport; the second one tries to put the
channel's unacknowledged messages back through that transport, which no longer has a client:
``AttributeError: 'NoneType' object has no attribute 'hostname'``, "Unrecoverable error", and
the worker exits for good (kombu 5.7). A task that was running meanwhile (acks_late) and ends
after the worker has reconnected acknowledges its message through the old, closed channel:
the same error, the same exit. A worker holds unacknowledged messages whenever a task runs or
waits for its countdown, so a Redis restart stopped all publication until someone restarted
the worker (tests/test_stack_faults.py).

Here a channel whose connection is closed neither restores nor acknowledges through Redis: its
messages stay in Redis's set of unacknowledged messages, from which kombu restores them once
the visibility timeout has passed (tasks are idempotent), and the beat sweeper publishes what
their tasks would have meanwhile.

kombu also waits forever by default on a socket whose peer stopped answering without closing it
(a Redis that hangs, a failover, a NAT timeout): an upload that queues its publication after
its commit would then never answer. Socket timeouts bound that wait (transport options still
override them); the worker's BRPOP is unaffected, its own timeout is shorter.

Selected by CELERY_BROKER_TRANSPORT when REDIS_URL is set.
"""

from __future__ import annotations

import logging

from kombu.transport import redis, virtual

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def _connection_closed(self) -> bool:
        transport = self.channel.connection
        return transport is None or transport.client is None

    def restore_unacked(self, client=None):  # type: ignore[no-untyped-def]
        if client is None and self._connection_closed():
            logger.warning(
                "broker connection lost: %d unacknowledged message(s) stay in Redis until the visibility timeout",
                len(self._delivered),
            )
            return None
        return super().restore_unacked(client)

    def ack(self, delivery_tag):  # type: ignore[no-untyped-def]
        if self._connection_closed():
            logger.warning("acknowledged after the broker connection was lost: restored after the visibility timeout")
            virtual.QoS.ack(self, delivery_tag)  # this channel's own bookkeeping only
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):  # type: ignore[no-untyped-def]
        if self._connection_closed():
            logger.warning("rejected after the broker connection was lost: restored after the visibility timeout")
            virtual.QoS.ack(self, delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):
    QoS = QoS
    socket_timeout = 3.0  # above BRPOP's 1 s
    socket_connect_timeout = 2.0


class Transport(redis.Transport):
    Channel = Channel
