"""The Redis cache backend (gateway/cache.py): one client per pool, and still a working cache,
also across a Redis restart and in a forked child."""

from __future__ import annotations

import os

import pytest

from gateway.cache import RedisCache
from tests import processes


def test_one_client_per_pool_not_per_call():
    cache = RedisCache("redis://127.0.0.1:1/0", {})  # no connection is opened to build clients
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client() is client


@pytest.mark.postgres  # the run with the real services
def test_flags_work_across_a_restart_and_a_fork():
    port = processes.free_port()
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_timeout": 2}})
    with processes.redis_server(port):
        assert cache.add("flag", 1, 30) is True
        assert cache.add("flag", 1, 30) is False
    with processes.redis_server(port):  # a new, empty server on the same port: the client reconnects
        assert cache.add("flag", 1, 30) is True
        child = os.fork()
        if child == 0:  # the pool notices the fork and opens its own connection
            os._exit(0 if cache.add("flag", 1, 30) is False and cache.get("flag") == 1 else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        cache.delete("flag")
        assert cache.get("flag") is None
