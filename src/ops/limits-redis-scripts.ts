/**
 * The Lua the Redis limiter runs: each script is one round trip and atomic, which
 * is what makes rpm and concurrent exact across instances. Times come from the
 * calling instance (ARGV), so instances need clocks in step (NTP), not Redis's.
 *
 * Per key: `rpm` a sorted set of admission times; `conc` a sorted set of leases
 * (member per request, score = when the lease lapses, renewed while the request
 * runs, so a crashed instance's requests free themselves); `tpm` a hash of
 * tokens per whole second; `spend` a hash {usd, tokens} for the current period.
 */

/** KEYS: rpm, conc, tpm, spend. ARGV: now, rpm, concurrent, tpm, budget usd, budget tokens (-1 = no limit), period end, member, lease ms. */
export const ADMIT = `
local now = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local conc = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local busd = tonumber(ARGV[5])
local btok = tonumber(ARGV[6])
if conc >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= conc then return {'concurrent'} end
end
if rpm >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
  local n = redis.call('ZCARD', KEYS[1])
  if n >= rpm then
    local wait = 60000
    if rpm > 0 then
      local at = redis.call('ZRANGE', KEYS[1], n - rpm, n - rpm, 'WITHSCORES')
      wait = tonumber(at[2]) + 60000 - now
    end
    return {'rpm', tostring(wait)}
  end
end
if tpm >= 0 then
  local second = math.floor(now / 1000)
  local all = redis.call('HGETALL', KEYS[3])
  local used = 0
  local buckets = {}
  for i = 1, #all, 2 do
    local s = tonumber(all[i])
    if s <= second - 60 then
      redis.call('HDEL', KEYS[3], all[i])
    else
      local v = tonumber(all[i + 1])
      used = used + v
      buckets[#buckets + 1] = {s, v}
    end
  end
  if used >= tpm then
    table.sort(buckets, function(a, b) return a[1] < b[1] end)
    local left = used
    local wait = 60000
    for _, b in ipairs(buckets) do
      left = left - b[2]
      if left < tpm then
        wait = (b[1] + 60) * 1000 - now
        break
      end
    end
    return {'tpm', tostring(wait), tostring(used)}
  end
end
if busd >= 0 or btok >= 0 then
  local spent = redis.call('HMGET', KEYS[4], 'usd', 'tokens')
  local usd = tonumber(spent[1]) or 0
  local tokens = tonumber(spent[2]) or 0
  if (busd >= 0 and usd >= busd) or (btok >= 0 and tokens >= btok) then
    return {'budget', tostring(tonumber(ARGV[7]) - now), tostring(usd), tostring(tokens)}
  end
end
if conc >= 0 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[9]), ARGV[8])
  redis.call('PEXPIRE', KEYS[2], ARGV[9])
end
if rpm >= 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[8])
  redis.call('PEXPIRE', KEYS[1], 60000)
end
return {'ok'}
`;

/** KEYS: conc, tpm, spend. ARGV: member, now, tokens, usd, count tokens (1/0), spend expires at (0 = no budget). */
export const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
local tokens = tonumber(ARGV[3])
if ARGV[5] == '1' and tokens > 0 then
  redis.call('HINCRBY', KEYS[2], tostring(math.floor(tonumber(ARGV[2]) / 1000)), tokens)
  redis.call('PEXPIRE', KEYS[2], 61000)
end
if ARGV[6] ~= '0' then
  redis.call('HINCRBYFLOAT', KEYS[3], 'usd', ARGV[4])
  redis.call('HINCRBY', KEYS[3], 'tokens', tokens)
  redis.call('PEXPIREAT', KEYS[3], ARGV[6])
end
return 1
`;

/** KEYS: spend. ARGV: usd, tokens, expires at. Only fills a period nobody has counted yet (Redis restarted, or the first instance). */
export const SEED = `
redis.call('HSETNX', KEYS[1], 'usd', ARGV[1])
redis.call('HSETNX', KEYS[1], 'tokens', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`;
