/* Byte-level helpers shared by every parser: no allocation, no locale, no libc
 * number parsing (strtoull accepts signs, spaces and "0x" that the kernel never
 * prints, and silently saturates). */
#ifndef CGS_PARSE_H
#define CGS_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CGS_U64_MAX UINT64_MAX

/* Results of number parsing. */
enum { CGS_NUM_OK = 0, CGS_NUM_BAD = -1 };

static inline int cgs_is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Parses one cgroup number token [p, end) the way runc's ParseUint does:
 * decimal digits -> value (error on overflow past 2^64-1); "max" -> 2^64-1;
 * a negative decimal -> 0 (the kernel prints -1 for "unset"). Anything else,
 * including an empty token, is an error. */
static inline int cgs_parse_u64(const char *p, const char *end, uint64_t *out) {
    if (p >= end) return CGS_NUM_BAD;
    if (end - p == 3 && p[0] == 'm' && p[1] == 'a' && p[2] == 'x') {
        *out = CGS_U64_MAX;
        return CGS_NUM_OK;
    }
    int negative = 0;
    if (*p == '-') { negative = 1; p++; if (p >= end) return CGS_NUM_BAD; }
    uint64_t v = 0;
    int overflow = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9) return CGS_NUM_BAD;
        if (v > (CGS_U64_MAX - d) / 10) overflow = 1; else v = v * 10 + d;
    }
    if (negative) { *out = 0; return CGS_NUM_OK; }
    if (overflow) return CGS_NUM_BAD;
    *out = v;
    return CGS_NUM_OK;
}

/* Parses hex digits [p, end) (used for /proc/net tables); error on overflow. */
static inline int cgs_parse_hex_u64(const char *p, const char *end, uint64_t *out) {
    if (p >= end) return CGS_NUM_BAD;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned c = (unsigned char)*p, d;
        if (c - '0' <= 9) d = c - '0';
        else if ((c | 0x20) - 'a' <= 5) d = (c | 0x20) - 'a' + 10;
        else return CGS_NUM_BAD;
        if (v >> 60) return CGS_NUM_BAD;
        v = (v << 4) | d;
    }
    *out = v;
    return CGS_NUM_OK;
}

/* Saturating multiply for unit conversions (usec -> ns, ticks -> ns). */
static inline uint64_t cgs_scale(uint64_t v, uint64_t scale) {
    if (scale <= 1) return v;
    if (v > CGS_U64_MAX / scale) return CGS_U64_MAX;
    return v * scale;
}

/* End of the line starting at p (pointer to '\n' or to end). */
static inline const char *cgs_line_end(const char *p, const char *end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

static inline const char *cgs_skip_spaces(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p;
}

static inline const char *cgs_token_end(const char *p, const char *end) {
    while (p < end && !cgs_is_space(*p)) p++;
    return p;
}

#endif
