/*
 * linebuf.c - see linebuf.h.
 *
 * The lines of a log are short (the benchmark's are 7 bytes with their
 * newline), so a call to memchr and two to memcpy per line cost more
 * than the bytes they move: newlines are found 8 bytes at a time in a
 * word, and the head and a short line are copied in blocks of fixed size
 * (the compiler turns them into a few vector moves), writing past the
 * end of what counts into the slack the caller keeps.
 */
#include <stdint.h>
#include <string.h>

#include "supervise/linebuf.h"

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define NLS (ONES * '\n')

/* Head and line sizes copied in one fixed block (at most SV_LINES_SLACK
 * together). */
#define HEAD_BLOCK 64
#define LINE_BLOCK 32

/* The index of the first '\n' in in[from..n), or n. */
static size_t next_nl(const char *in, size_t from, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (from + 8 <= n) {
		uint64_t w;
		memcpy(&w, in + from, 8);
		w ^= NLS;
		/* a byte of w that is zero sets its high bit here; the lowest
		 * one set is always a true zero */
		uint64_t z = (w - ONES) & ~w & HIGHS;
		if (z)
			return from + (size_t)(__builtin_ctzll(z) >> 3);
		from += 8;
	}
#endif
	const char *p = memchr(in + from, '\n', n - from);
	return p ? (size_t)(p - in) : n;
}

struct sv_lines sv_lines_head(const char *in, size_t n, const char *head, size_t hl, char *out,
                              size_t cap)
{
	struct sv_lines r = { 0, 0, 0 };
	for (;;) {
		size_t nl = next_nl(in, r.in, n);
		if (nl == n)
			return r;
		size_t len = nl + 1 - r.in; /* the line and its newline */
		if (r.out + hl + len + SV_LINES_SLACK > cap) {
			r.full = 1;
			return r;
		}
		char *d = out + r.out;
		if (hl <= HEAD_BLOCK)
			memcpy(d, head, HEAD_BLOCK);
		else
			memcpy(d, head, hl);
		d += hl;
		if (len <= LINE_BLOCK && r.in + LINE_BLOCK <= n)
			memcpy(d, in + r.in, LINE_BLOCK);
		else
			memcpy(d, in + r.in, len);
		r.out += hl + len;
		r.in = nl + 1;
	}
}
