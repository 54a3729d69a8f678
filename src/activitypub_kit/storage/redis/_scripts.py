"""Lua scripts of the Redis queue: each runs atomically and touches O(log n) entries.

Layout under the queue prefix ``P`` (all keys share one ``{hash tag}`` so a queue lives in a
single Redis Cluster slot):

- ``P seq`` counter; ids are zero-padded so equal scores sort first-in first-out;
- ``P body`` / ``P att`` / ``P okey`` hashes: id -> JSON body / deliveries / ordering key;
- ``P all`` sorted set id by enqueue time (depth and oldest age);
- ``P ready`` sorted set id by visible time, holding only heads of ordering keys;
- ``P leased`` sorted set id by lease expiry, ``P tok`` hash id -> lease token;
- ``P chain:<key>`` list of the ids waiting on one ordering key, head first; ``P due`` hash
  id -> visible time of the non-head ids;
- ``P dedup:<key>`` a string whose native TTL is the deduplication window;
- ``P dead`` sorted set by dead-letter time, ``P dbody`` / ``P dmeta`` hashes.
"""

#: The fixed keys of one queue, each appended to its prefix (``wake`` is a pub/sub channel).
KEY_NAMES = (
    "seq", "body", "att", "okey", "due", "tok", "all", "ready", "leased",
    "dead", "dbody", "dmeta", "wake",
)  # fmt: skip

ENQUEUE = """
if ARGV[5] ~= '' then
  if not redis.call('SET', KEYS[8], '1', 'NX', 'PX', ARGV[5]) then return false end
end
local id = string.format('%016d', redis.call('INCR', KEYS[1]))
redis.call('HSET', KEYS[2], id, ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[2], id)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], id, ARGV[4])
  if redis.call('RPUSH', KEYS[7], id) > 1 then
    redis.call('HSET', KEYS[4], id, ARGV[3])
    return id
  end
end
redis.call('ZADD', KEYS[5], ARGV[3], id)
if ARGV[6] == '1' then redis.call('PUBLISH', KEYS[9], '1') end
return id
"""

# Move up to 100 expired leases back to ``ready`` (their holder's token stays valid until
# someone else is handed the message, as on the SQL backends), then lease the first ``n``
# visible heads.
RECEIVE = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES',
                           'LIMIT', 0, 100)
for i = 1, #expired, 2 do
  redis.call('ZREM', KEYS[2], expired[i])
  redis.call('ZADD', KEYS[1], expired[i + 1], expired[i])
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0,
                       tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  local tok = ARGV[4] .. ':' .. i
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[2], id)
  redis.call('HSET', KEYS[3], id, tok)
  local att = redis.call('HINCRBY', KEYS[4], id, 1)
  out[i] = {id, tok, att, redis.call('HGET', KEYS[5], id), redis.call('HGET', KEYS[6], id),
            redis.call('ZSCORE', KEYS[7], id)}
end
return out
"""

# Ack (ARGV[4] == 'ack') or dead-letter: remove the message, promote the next of its key.
FINISH = """
local id = ARGV[1]
if redis.call('HGET', KEYS[2], id) ~= ARGV[2] then return 0 end
local okey = redis.call('HGET', KEYS[5], id)
if (okey or '') ~= ARGV[6] then return 0 end
local body = redis.call('HGET', KEYS[3], id)
local att = redis.call('HGET', KEYS[4], id)
local enq = redis.call('ZSCORE', KEYS[6], id)
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[6], id)
redis.call('ZREM', KEYS[7], id)
redis.call('HDEL', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
if okey then
  redis.call('HDEL', KEYS[5], id)
  redis.call('LREM', KEYS[9], 1, id)
  local nxt = redis.call('LINDEX', KEYS[9], 0)
  if nxt then
    local due = redis.call('HGET', KEYS[8], nxt)
    redis.call('HDEL', KEYS[8], nxt)
    redis.call('ZADD', KEYS[7], due, nxt)
    redis.call('PUBLISH', KEYS[13], '1')
  end
end
if ARGV[4] == 'dead' then
  redis.call('ZADD', KEYS[10], ARGV[3], id)
  redis.call('HSET', KEYS[11], id, body)
  redis.call('HSET', KEYS[12], id, cjson.encode({reason = ARGV[5], attempts = tonumber(att),
    ordering_key = okey, enqueued_at = tonumber(enq)}))
end
return 1
"""

# Nack (back to ready at ARGV[3]) or extend (lease now ends at ARGV[3]).
RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[4] == 'extend' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('PUBLISH', KEYS[4], '1')
end
return 1
"""

# Compare-and-set of one key-value entry.
CAS = """
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
elseif ARGV[5] ~= '' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('SET', KEYS[1], ARGV[4])
end
return 1
"""

__all__ = ["CAS", "ENQUEUE", "FINISH", "KEY_NAMES", "RECEIVE", "RELEASE"]
