"""The Redis side: where a workflow, its events and the effects live, and the scripts
that change them. Every change a step makes is ONE Lua script, so Redis applies it whole
or not at all; the workflow's version makes a step that ran twice commit once.

Keys (standalone Redis; the scripts reach a workflow's keys from its id):
  sd:wf:<wid>          hash: ver, status (new|waiting|done|failed|incompatible), why,
                       init (the signed call), state (the signed tasklet), waiting (the
                       event name it waits for), result (signed value or exception)
  sd:ev:<wid>:<name>   list: signed values of the events not yet consumed, oldest first
  sd:eid:<wid>         set: event ids already accepted (a retry with one is a no-op)
  sd:fx:<kind>         list: signed effect records, in commit order
  sd:active            sorted set: unfinished workflows by when they were last touched
"""
import redis

PREFIX = "sd:"
ACTIVE = PREFIX + "active"


def wf_key(wid):
    return PREFIX + "wf:" + wid


def event_key(wid, name):
    return PREFIX + "ev:" + wid + ":" + name


def event_ids_key(wid):
    return PREFIX + "eid:" + wid


def effects_key(kind):
    return PREFIX + "fx:" + kind


# KEYS: wf, active, the consumed event's list (or any key when none), effect lists...
# ARGV: wid, expected ver, consumed event's value ('' for none), status, waiting, state,
#       result, one effect record per effect list
_COMMIT = """
local ver = redis.call('HGET', KEYS[1], 'ver')
if ver ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then
  if redis.call('LINDEX', KEYS[3], 0) ~= ARGV[3] then
    return redis.error_reply('stackless_durable: event consumed without a commit')
  end
  redis.call('LPOP', KEYS[3])
end
redis.call('HSET', KEYS[1], 'ver', tonumber(ver) + 1, 'status', ARGV[4], 'why', '')
if ARGV[4] == 'waiting' then
  redis.call('HSET', KEYS[1], 'waiting', ARGV[5], 'state', ARGV[6])
  redis.call('HDEL', KEYS[1], 'init')
  redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'result', ARGV[7])
  redis.call('HDEL', KEYS[1], 'init', 'state', 'waiting')
  redis.call('ZREM', KEYS[2], ARGV[1])
end
for i = 4, #KEYS do redis.call('RPUSH', KEYS[i], ARGV[i + 4]) end
return 1
"""

# KEYS: wf, active. ARGV: wid, the signed call.
_CREATE = """
redis.call('HSET', KEYS[1], 'ver', 0, 'status', 'new', 'init', ARGV[2])
redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[1])
"""

# KEYS: wf. ARGV: expected ver, status, why, status it must have now ('' for any).
# Changes only the status: the state and the events stay as they are.
_MARK = """
if redis.call('HGET', KEYS[1], 'ver') ~= ARGV[1] then return 0 end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'status') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'why', ARGV[3])
return 1
"""

# KEYS: wf, the event's list, event ids. ARGV: signed value, event id ('' for none).
_SEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[2] ~= '' and redis.call('SADD', KEYS[3], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""

# KEYS: active. ARGV: prefix, stalled after (s), most to return.
# The unfinished workflows untouched for `stalled after` seconds that have work to do
# (not started, incompatible, or their awaited event is there); each one's time is
# reset, so another sweeper does not kick it again at once.
_SWEEP = """
local now = tonumber(redis.call('TIME')[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]),
                       'LIMIT', 0, tonumber(ARGV[3]))
local kick = {}
for _, wid in ipairs(old) do
  local f = redis.call('HMGET', ARGV[1] .. 'wf:' .. wid, 'status', 'waiting')
  if f[1] == 'new' or f[1] == 'incompatible' or (f[1] == 'waiting' and
      redis.call('LLEN', ARGV[1] .. 'ev:' .. wid .. ':' .. f[2]) > 0) then
    kick[#kick + 1] = wid
  end
  if f[1] then redis.call('ZADD', KEYS[1], now, wid) else redis.call('ZREM', KEYS[1], wid) end
end
return kick
"""


class Store:
    """One connection to the Redis that holds the workflows."""

    def __init__(self, url):
        self.redis = redis.Redis.from_url(url)
        self._create = self.redis.register_script(_CREATE)
        self._commit = self.redis.register_script(_COMMIT)
        self._mark = self.redis.register_script(_MARK)
        self._send = self.redis.register_script(_SEND)
        self._sweep = self.redis.register_script(_SWEEP)

    def create(self, wid, init):
        self._create(keys=[wf_key(wid), ACTIVE], args=[wid, init])

    def load(self, wid):
        """The workflow's hash as {str: bytes}, or None if there is no such workflow."""
        rec = self.redis.hgetall(wf_key(wid))
        return {k.decode(): v for k, v in rec.items()} or None

    def next_event(self, wid, name):
        """The oldest signed value of event `name` not yet consumed, or None."""
        return self.redis.lindex(event_key(wid, name), 0)

    def commit(self, wid, ver, event, status, *, waiting="", state=b"", result=b"",
               effects=()):
        """Apply one step: if the workflow is still at version `ver`, consume `event`
        (the signed value at the head of its list, or (None, None)), set the new status
        with its state or result, and append the effects ((kind, record) pairs), all in
        one script. Returns False when another run of the step committed first."""
        name, value = event
        keys = [wf_key(wid), ACTIVE, event_key(wid, name) if name else wf_key(wid)]
        keys += [effects_key(kind) for kind, _ in effects]
        args = [wid, ver, value or b"", status, waiting, state, result]
        args += [record for _, record in effects]
        return self._commit(keys=keys, args=args) == 1

    def mark(self, wid, ver, status, why, only_from=""):
        """Set the status and its reason (nothing else) if the version is still `ver`."""
        return self._mark(keys=[wf_key(wid)], args=[ver, status, why, only_from]) == 1

    def send_event(self, wid, name, value, event_id):
        """1: queued; 0: an event with this id was accepted before; -1: no workflow."""
        return self._send(keys=[wf_key(wid), event_key(wid, name), event_ids_key(wid)],
                          args=[value, event_id or ""])

    def effects(self, kind):
        return self.redis.lrange(effects_key(kind), 0, -1)

    def stalled(self, after, limit=1000):
        """Ids of workflows with work to do that nothing has touched for `after` s."""
        return [w.decode() for w in self._sweep(keys=[ACTIVE], args=[PREFIX, after, limit])]
