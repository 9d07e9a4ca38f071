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

/* Scans the decimal number at p (its digits run to the first non-digit) into
 * *out, checking for overflow only from the 20th digit on, and returns the byte
 * after it; NULL if p holds no digit or the value passes 2^64-1. One pass, for
 * the long rows of counters in procfs tables; the caller checks that a
 * separator follows. */
static inline const char *cgs_scan_dec_u64(const char *p, const char *end, uint64_t *out) {
    const char *start = p;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9) break;
        if (p - start >= 19 && v > (CGS_U64_MAX - d) / 10) return NULL;
        v = v * 10 + d;
    }
    if (p == start) return NULL;
    *out = v;
    return p;
}

/* Parses unsigned decimal digits [p, end) as procfs prints its counters (%llu,
 * %lu, %u): digits only (no sign, no "max", unlike cgs_parse_u64, whose cgroup
 * rules would turn "-1" into a silent 0); error on an empty token or on a value
 * past 2^64-1. */
static inline int cgs_parse_dec_u64(const char *p, const char *end, uint64_t *out) {
    uint64_t v = 0;
    if (cgs_scan_dec_u64(p, end, &v) != end) return CGS_NUM_BAD;
    *out = v;
    return CGS_NUM_OK;
}

/* Lower-case ASCII prefix test: does [p, end) start with the lower-case literal
 * `prefix` (length plen), ignoring the case of [p, end)? */
static inline int cgs_has_prefix_ci(const char *p, const char *end, const char *prefix, size_t plen) {
    if ((size_t)(end - p) < plen) return 0;
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((unsigned)(c - 'A') < 26u) c |= 0x20;
        if (c != (unsigned char)prefix[i]) return 0;
    }
    return 1;
}

/* Skips every whitespace byte cgs_is_space knows (\v and \f too, which
 * cgs_skip_spaces leaves alone): within one line, with cgs_token_end, every
 * token found is then non-empty. */
static inline const char *cgs_skip_ws(const char *p, const char *end) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Runs of spaces (procfs pads its columns) 8 bytes at a time: the length
     * of a run then costs no mispredicted loop exit. */
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= 0x2020202020202020ULL;            /* zero bytes where p has ' ' */
        if (w) { p += __builtin_ctzll(w) >> 3; break; }
        p += 8;
    }
#endif
    /* ' ', or '\t' '\n' '\v' '\f' '\r' (9-13): cgs_is_space in two compares */
    while (p < end && (*p == ' ' || (unsigned)(unsigned char)*p - 9u <= 4u)) p++;
    return p;
}

#endif
