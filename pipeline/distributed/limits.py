"""Per-host politeness shared by every worker on every machine, kept in Redis.

``RedisSpacer`` is a ``HostSpacer`` whose clock lives in Redis: the next allowed request start
per host, the last send per host, the turn to send, and Retry-After blocks. Each step is one Lua
script, so two workers can never take the same slot; times come from the Redis server's clock
(``TIME``), so machines with different clocks still agree. ``host_slot`` caps the requests in
flight to one host across all workers (a sorted set of holders that expire, so a killed worker's
slot is freed after *ttl*).

A request counts as sent when its response has begun (or it failed), not when its turn came: a
worker may be descheduled for any time between the two, and only an answer proves that the
publisher has seen the request. So one worker at a time holds a host's turn to send, from
``pace`` until ``sent``, and the next may send *delay* after that moment. However long a worker
is descheduled (short of outliving its turn's ttl), the publisher never sees two request starts
closer than the delay, with no margin to guess. The price: requests to one host are spaced by
the delay plus the time the previous one took to answer (its connection and time to first
byte). That is acceptable: only work for that host waits (other hosts go on), a publisher that
answers slowly is asked less often (the polite direction), and no margin for descheduling is
added to the delay, so a host that answers quickly is asked about once per delay.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from ..fetch import HostSpacer

PREFIX = "mediawatch:host:"
# keys outlive the last slot they describe by 60 s (the 60000 in the scripts)

# KEYS: next-start, blocked-until. ARGV: delay ms, mode ("try": reserve only if free now;
# "wait": reserve the next free start). Returns {reserved (0/1), wait ms}.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local blk = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(now, nxt, blk)
if ARGV[2] == 'try' and start > now then
  return {0, start - now}
end
local free = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], free, 'PX', free - now + 60000)
return {1, start - now}
"""

# KEYS: last-send, sender. ARGV: delay ms, holder id, turn ttl ms. Returns {1, wait ms}: the
# turn is the holder's, to send after the wait and then CONFIRM; or {0, wait ms}: another worker's
# request is on its way, ask again after the wait (it confirms no sooner than now, so nobody may
# send before now + delay). Until confirmed, last-send says the turn's end: a worker killed
# holding the turn keeps the host for ttl + delay, not for ever.
PACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local delay = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, delay} end
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
local start = now
if last >= 0 then start = math.max(now, last + delay) end
local ttl = start - now + tonumber(ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
redis.call('SET', KEYS[1], now + ttl, 'PX', ttl + delay + 60000)
return {1, start - now}
"""

# KEYS: last-send, sender. ARGV: delay ms, holder id. The holder's request has left by now
# (rounded up to the ms). A holder whose turn ran out keeps the later of the two moments.
CONFIRM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.ceil(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1]) + 60000
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], now, 'PX', ttl)
elseif now > tonumber(redis.call('GET', KEYS[1]) or '-1') then
  redis.call('SET', KEYS[1], now, 'PX', ttl)
end
return 0
"""

# KEYS: blocked-until. ARGV: seconds ms. Keeps the later of the two blocks.
BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then redis.call('SET', KEYS[1], untl, 'PX', untl - now + 60000) end
return math.max(untl, cur) - now
"""

BLOCKED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blk = tonumber(redis.call('GET', KEYS[1]) or '0')
return math.max(0, blk - now)
"""

# KEYS: holders (sorted set). ARGV: limit, holder id, ttl ms. Returns 1 when the slot is taken.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 60000)
  return 1
end
return 0
"""


class HostBusyError(Exception):
    """Every slot of the host is taken by other workers; the task is tried again later."""


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30)


class RedisSpacer(HostSpacer):
    """``HostSpacer`` with its per-host clock in Redis (see the module's docstring).

    *turn_ttl*: seconds a turn to send is held at most without ``sent`` (a killed worker). It
    should cover a live worker's wait for the response (connect and read timeouts): a worker
    still waiting when its turn runs out lets the next one send *delay* after that."""

    def __init__(self, delay: float, r: redis.Redis, prefix: str = PREFIX, turn_ttl: float = 40.0) -> None:
        super().__init__(delay)
        self.redis = r
        self.prefix = prefix
        self.turn_ttl_ms = round(turn_ttl * 1000)
        self._turns = threading.local()  # per thread: host -> the holder id of its turn
        self._reserve: Any = r.register_script(RESERVE)
        self._pace: Any = r.register_script(PACE)
        self._confirm: Any = r.register_script(CONFIRM)
        self._block: Any = r.register_script(BLOCK)
        self._blocked_for: Any = r.register_script(BLOCKED_FOR)

    def _key(self, host: str, what: str) -> str:
        return f"{self.prefix}{host}:{what}"

    def _delay_ms(self, host: str) -> int:
        with self._lock:  # the Crawl-delay a worker read from robots.txt stays per process
            delay = self._delay(host)
        return round(delay * 1000)

    def _held(self) -> dict[str, str]:
        held: dict[str, str] | None = getattr(self._turns, "held", None)
        if held is None:
            held = self._turns.held = {}
        return held

    def block(self, host: str, seconds: float) -> None:
        self._block(keys=[self._key(host, "blocked")], args=[round(seconds * 1000)])

    def blocked_for(self, host: str) -> float:
        return float(self._blocked_for(keys=[self._key(host, "blocked")])) / 1000

    def try_reserve(self, host: str) -> float:
        keys = [self._key(host, "next"), self._key(host, "blocked")]
        reserved, wait_ms = self._reserve(keys=keys, args=[self._delay_ms(host), "try"])
        return 0.0 if reserved else float(wait_ms) / 1000

    def pace(self, host: str) -> None:
        """Take the host's turn to send (waiting while another worker's request is on its way),
        then sleep until *delay* after the last confirmed send. Call ``sent`` once it has left."""
        delay_ms = self._delay_ms(host)
        if not delay_ms:
            return
        if host in self._held():  # this thread's previous request was never confirmed: it has left
            self.sent(host)
        keys, holder = [self._key(host, "sent"), self._key(host, "sender")], uuid.uuid4().hex
        while True:
            granted, wait_ms = self._pace(keys=keys, args=[delay_ms, holder, self.turn_ttl_ms])
            if granted:
                break
            time.sleep(float(wait_ms) / 1000)
        self._held()[host] = holder
        if wait_ms > 0:
            time.sleep(float(wait_ms) / 1000)

    def sent(self, host: str) -> None:
        """The request this thread paced for *host* has left: its turn ends, the clock starts."""
        holder = self._held().pop(host, None)
        if holder is not None:
            keys = [self._key(host, "sent"), self._key(host, "sender")]
            self._confirm(keys=keys, args=[self._delay_ms(host), holder])

    def wait(self, host: str) -> None:
        keys = [self._key(host, "next"), self._key(host, "blocked")]
        _reserved, wait_ms = self._reserve(keys=keys, args=[self._delay_ms(host), "wait"])
        if wait_ms > 0:
            time.sleep(float(wait_ms) / 1000)
        self.pace(host)


class HostSlots:
    """At most *limit* requests in flight to one host across all workers."""

    def __init__(self, r: redis.Redis, limit: int, ttl: float, prefix: str = PREFIX) -> None:
        self.redis = r
        self.limit = limit
        self.ttl_ms = round(ttl * 1000)
        self.prefix = prefix
        self._acquire: Any = r.register_script(ACQUIRE)

    @contextmanager
    def slot(self, host: str, wait: float = 30.0, poll: float = 0.05) -> Iterator[None]:
        """Hold one of the host's slots; raise ``HostBusyError`` after *wait* seconds without one."""
        key, holder = f"{self.prefix}{host}:inflight", str(uuid.uuid4())
        deadline = time.monotonic() + wait
        while not self._acquire(keys=[key], args=[self.limit, holder, self.ttl_ms]):
            if time.monotonic() > deadline:
                raise HostBusyError(f"{host}: all {self.limit} request slots are taken by other workers")
            time.sleep(poll)
        try:
            yield
        finally:
            self.redis.zrem(key, holder)
