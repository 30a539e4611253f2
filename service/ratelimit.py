"""Per-key token bucket in Redis for job and clone submissions.

One hash per key (``avops:rl:<key_id>``: tokens, ts). The whole read-refill-take-write runs
as one Lua script, so concurrent API workers never race, and the clock is Redis's
(``TIME``), so several API processes share one notion of time. A bucket holds at most
RATE_LIMIT_BURST tokens and refills at RATE_LIMIT_PER_MINUTE; a submission takes one.
An empty bucket answers how long until the next token: the API's ``Retry-After``.

Only accepted work is counted: the API takes the token before the request is handled (so
concurrent requests cannot overdraw the bucket) and gives it back (``refund``: the same
script with a negative cost, capped at the burst) when the request is rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis

KEY_PREFIX = "avops:rl:"

TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = math.min(burst, tokens - cost)
  allowed = 1
else
  retry = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return {allowed, tostring(retry), tostring(tokens)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float
    remaining: float

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


class RateLimiter:
    def __init__(self, client: redis.Redis, per_minute: float, burst: int) -> None:
        self.per_second = per_minute / 60.0
        self.burst = burst
        self._script = client.register_script(TOKEN_BUCKET)

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def hit(self, key_id: str, cost: int = 1) -> Decision:
        if not self.enabled:
            return Decision(True, 0.0, float(self.burst))
        allowed, retry, tokens = self._script(
            keys=[KEY_PREFIX + key_id], args=[self.per_second, self.burst, cost]
        )
        return Decision(bool(int(allowed)), float(retry), float(tokens))

    def refund(self, key_id: str, cost: int = 1) -> Decision:
        """Give back tokens taken for work that was then rejected (never above the burst)."""
        return self.hit(key_id, -cost)
