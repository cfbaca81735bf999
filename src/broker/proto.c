/* proto.c: URLs, keys, scripts, notifications and gap decisions for the Redis broker. */
#include "broker/proto.h"

#include "core/err.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ---------------------------------------------------------------------------- */

static int parse_int(const char *s, size_t n, long long min, long long max, long long *out)
{
    if (n == 0 || n > 18) return BH_EINVAL;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return BH_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max) return BH_EINVAL;
    *out = v;
    return 0;
}

int broker_url_parse(const char *url, broker_url_t *out)
{
    static const char scheme[] = "redis://";
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (url == NULL || strncmp(url, scheme, sizeof scheme - 1) != 0) return BH_EINVAL;
    const char *p = url + sizeof scheme - 1;
    const char *at = strchr(p, '@');
    if (at) {
        /* Only the password form ":secret@" (Redis before ACLs has no user names). */
        if (*p != ':' || (size_t)(at - p - 1) >= sizeof out->password) return BH_EINVAL;
        memcpy(out->password, p + 1, (size_t)(at - p - 1));
        p = at + 1;
    }
    const char *end = p + strcspn(p, ":/");
    if (end == p || (size_t)(end - p) > BROKER_HOST_MAX) return BH_EINVAL;
    memcpy(out->host, p, (size_t)(end - p));
    p = end;
    long long v;
    if (*p == ':') {
        const char *e = p + 1 + strcspn(p + 1, "/");
        if (parse_int(p + 1, (size_t)(e - p - 1), 1, 65535, &v) != 0) return BH_EINVAL;
        out->port = (int)v;
        p = e;
    }
    if (*p == '/') {
        size_t n = strlen(p + 1);
        if (n > 0) {
            if (parse_int(p + 1, n, 0, 1000000, &v) != 0) return BH_EINVAL;
            out->db = (int)v;
        }
        p += 1 + n;
    }
    return *p == '\0' ? 0 : BH_EINVAL;
}

/* ---- keys ------------------------------------------------------------------------------------- */

int broker_key_stream(char *out, size_t n, const char *prefix, int64_t org, const char *svc,
                      char kind)
{
    int len = snprintf(out, n, "%s:rt:{%lld:%s}:%c", prefix, (long long)org, svc, kind);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

int broker_key_global(char *out, size_t n, const char *prefix, const char *name)
{
    int len = snprintf(out, n, "%s:rt:%s", prefix, name);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

int broker_member_parse(const char *s, size_t len, int64_t *org, char svc[BROKER_SERVICE_MAX + 1])
{
    const char *colon = memchr(s, ':', len);
    if (colon == NULL) return BH_EINVAL;
    long long v;
    if (parse_int(s, (size_t)(colon - s), 1, INT64_MAX / 10, &v) != 0) return BH_EINVAL;
    size_t sl = len - (size_t)(colon - s) - 1;
    if (sl == 0 || sl > BROKER_SERVICE_MAX) return BH_EINVAL;
    memcpy(svc, colon + 1, sl);
    svc[sl] = '\0';
    *org = v;
    return 0;
}

/* ---- scripts ---------------------------------------------------------------------------------- */

/* KEYS: meta, log, streams set, the Idempotency-Key's key. ARGV: 1 epoch for a new stream,
 * 2 member "ORG:SVC", 3 property, 4 ts_ms, 5..7 the JSON around the id and the offset, 8 MAXLEN,
 * 9 oldest ts_ms kept, 10 channel, 11 "ORG SVC", 12 publisher's clock (us), 13 "1" when the
 * publish has an Idempotency-Key, 14 how long to remember it (ms).
 * A key seen before answers {offset, epoch, 1} and publishes nothing.
 * Offsets are the entry ids, so a fill is one XRANGE from "AFTER+1". Age trimming looks at the
 * oldest entry only, and drops at most 100 per publish: bounded work inside Redis. */
const char broker_lua_publish[] =
    "if ARGV[13] == '1' then\n"
    "  local d = redis.call('GET', KEYS[4])\n"
    "  local e0 = redis.call('HGET', KEYS[1], 'epoch')\n"
    "  if d and e0 then return {tonumber(d), e0, 1} end\n"
    "end\n"
    "local ep = redis.call('HGET', KEYS[1], 'epoch')\n"
    "if not ep then\n"
    "  ep = ARGV[1]\n"
    "  redis.call('HSET', KEYS[1], 'epoch', ep)\n"
    "  redis.call('SADD', KEYS[3], ARGV[2])\n"
    "end\n"
    "local off = string.format('%d', redis.call('HINCRBY', KEYS[1], 'head', 1))\n"
    "local json = ARGV[5] .. ep .. '-' .. off .. ARGV[6] .. off .. ARGV[7]\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], off .. '-0', 'p', ARGV[3], 't', ARGV[4],"
    " 'j', json)\n"
    "local min = tonumber(ARGV[9])\n"
    "local old = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)\n"
    "if #old > 0 and tonumber(old[1][2][4]) < min then\n"
    "  local cut = nil\n"
    "  for _, e in ipairs(redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 100)) do\n"
    "    if tonumber(e[2][4]) < min then cut = e[1] else break end\n"
    "  end\n"
    "  if cut then\n"
    "    local n = tonumber(string.match(cut, '^(%d+)'))\n"
    "    redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d', n + 1))\n"
    "  end\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[10], ARGV[11] .. ' ' .. ARGV[3] .. ' ' .. off .. ' ' .. ARGV[4]"
    " .. ' ' .. ARGV[12] .. ' ' .. ep .. '\\n' .. json)\n"
    "if ARGV[13] == '1' then redis.call('SET', KEYS[4], off, 'PX', ARGV[14]) end\n"
    "return {tonumber(off), ep}\n";

/* KEYS: meta, log. ARGV: 1 the caller's epoch, 2 its head, 3 COUNT. */
const char broker_lua_fill[] =
    "local m = redis.call('HMGET', KEYS[1], 'epoch', 'head')\n"
    "if not m[1] then return {false, 0, {}} end\n"
    "local e\n"
    "if m[1] ~= ARGV[1] then\n"
    "  local r = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[3])\n"
    "  e = {}\n"
    "  for i = #r, 1, -1 do e[#e + 1] = r[i] end\n"
    "else\n"
    "  e = redis.call('XRANGE', KEYS[2], string.format('%d', tonumber(ARGV[2]) + 1), '+',"
    " 'COUNT', ARGV[3])\n"
    "end\n"
    "return {m[1], tonumber(m[2]) or 0, e}\n";

void broker_script_sha(const char *script, char out[41])
{
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)script, strlen(script), d);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- notifications ---------------------------------------------------------------------------- */

/* Takes one space-terminated field starting at *p (before end). */
static int field(const char **p, const char *end, char stop, const char **f, size_t *n)
{
    const char *s = *p, *e = memchr(s, stop, (size_t)(end - s));
    if (e == NULL || e == s) return BH_EINVAL;
    *f = s;
    *n = (size_t)(e - s);
    *p = e + 1;
    return 0;
}

static int signed_field(const char *f, size_t n, long long min, long long *v)
{
    if (n > 0 && f[0] == '-') {
        if (parse_int(f + 1, n - 1, 0, INT64_MAX / 10, v) != 0) return BH_EINVAL;
        *v = -*v;
        return *v >= min ? 0 : BH_EINVAL;
    }
    return parse_int(f, n, min < 0 ? 0 : min, INT64_MAX / 10, v);
}

int broker_note_parse(const char *p, size_t len, broker_event_t *out)
{
    const char *end = p + len, *f;
    size_t n;
    long long v[5];
    memset(out, 0, sizeof *out);
    if (field(&p, end, ' ', &f, &n) || parse_int(f, n, 1, INT64_MAX / 10, &v[0])) return BH_EINVAL;
    if (field(&p, end, ' ', &f, &n) || n > BROKER_SERVICE_MAX) return BH_EINVAL;
    memcpy(out->service, f, n);
    if (field(&p, end, ' ', &f, &n) || signed_field(f, n, 0, &v[1])) return BH_EINVAL;
    if (field(&p, end, ' ', &f, &n) || parse_int(f, n, 1, INT64_MAX / 10, &v[2])) return BH_EINVAL;
    if (field(&p, end, ' ', &f, &n) || signed_field(f, n, 0, &v[3])) return BH_EINVAL;
    if (field(&p, end, ' ', &f, &n) || signed_field(f, n, 0, &v[4])) return BH_EINVAL;
    if (field(&p, end, '\n', &f, &n) || n != BROKER_EPOCH_LEN) return BH_EINVAL;
    memcpy(out->epoch, f, n);
    if (p >= end || *p != '{') return BH_EINVAL;
    out->org_id = v[0];
    out->property_id = v[1];
    out->offset = v[2];
    out->ts_ms = v[3];
    out->pub_us = v[4];
    out->json = p;
    out->json_len = (size_t)(end - p);
    return 0;
}

/* ---- gap tracking ----------------------------------------------------------------------------- */

broker_gap_action_t broker_gap_on_note(broker_gap_t *g, int64_t head, int64_t off)
{
    if (off <= head) return BROKER_DUP;
    if (off == head + 1) return BROKER_APPLY;
    if (g->filling) {
        /* The fill in flight may have been answered before this was published: remember it so
         * that the fill's end looks again rather than stopping short of it. */
        if (off > g->dropped_max) g->dropped_max = off;
        return BROKER_DUP;
    }
    g->filling = 1;
    g->dropped_max = off;
    return BROKER_FILL;
}

int broker_gap_after_fill(broker_gap_t *g, int64_t head, int64_t remote_head)
{
    if (head < remote_head || g->dropped_max > head) return 1;
    g->filling = 0;
    g->dropped_max = 0;
    return 0;
}
