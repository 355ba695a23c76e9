/*
 * json.c - see json.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervise/json.h"

/* ---- writing ---------------------------------------------------------- */

static void put(struct jbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void putc1(struct jbuf *b, char c)
{
	put(b, &c, 1);
}

void jb_free(struct jbuf *b)
{
	free(b->p);
	*b = (struct jbuf){ 0 };
}

void jb_reset(struct jbuf *b)
{
	b->len = 0;
	b->failed = 0;
	b->need_comma = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* Before a value (or a key) at the current level. */
static void sep(struct jbuf *b)
{
	if (b->need_comma)
		putc1(b, ',');
	b->need_comma = 1;
}

void jb_obj(struct jbuf *b)
{
	sep(b);
	putc1(b, '{');
	b->need_comma = 0;
}

void jb_end_obj(struct jbuf *b)
{
	putc1(b, '}');
	b->need_comma = 1;
}

void jb_arr(struct jbuf *b)
{
	sep(b);
	putc1(b, '[');
	b->need_comma = 0;
}

void jb_end_arr(struct jbuf *b)
{
	putc1(b, ']');
	b->need_comma = 1;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = c & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void string_body(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0; /* bytes copied as they are, pending */
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		size_t l = c >= 0x20 && c != '"' && c != '\\' ? utf8_len(u + i, n - i) : 0;
		if (l) {
			i += l;
			run += l;
			continue;
		}
		put(b, s + i - run, run);
		run = 0;
		char esc[8];
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof esc, "\\%c", c);
		else if (c == '\n')
			snprintf(esc, sizeof esc, "\\n");
		else if (c == '\t')
			snprintf(esc, sizeof esc, "\\t");
		else if (c == '\r')
			snprintf(esc, sizeof esc, "\\r");
		else if (c < 0x20)
			snprintf(esc, sizeof esc, "\\u%04x", c);
		else
			snprintf(esc, sizeof esc, "\\ufffd"); /* not UTF-8 */
		put(b, esc, strlen(esc));
		i++;
	}
	put(b, s + n - run, run);
}

void jb_key(struct jbuf *b, const char *key)
{
	sep(b);
	putc1(b, '"');
	string_body(b, key, strlen(key));
	put(b, "\":", 2);
	b->need_comma = 0;
}

void jb_strn(struct jbuf *b, const char *s, size_t n)
{
	sep(b);
	putc1(b, '"');
	string_body(b, s, n);
	putc1(b, '"');
}

void jb_str(struct jbuf *b, const char *s)
{
	if (!s)
		jb_null(b);
	else
		jb_strn(b, s, strlen(s));
}

void jb_int(struct jbuf *b, long long v)
{
	char num[32];
	sep(b);
	put(b, num, (size_t)snprintf(num, sizeof num, "%lld", v));
}

void jb_bool(struct jbuf *b, int v)
{
	sep(b);
	put(b, v ? "true" : "false", v ? 4 : 5);
}

void jb_null(struct jbuf *b)
{
	sep(b);
	put(b, "null", 4);
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	sep(b);
	put(b, s, n);
}

void jb_kstr(struct jbuf *b, const char *key, const char *s)
{
	jb_key(b, key);
	jb_str(b, s);
}

void jb_kint(struct jbuf *b, const char *key, long long v)
{
	jb_key(b, key);
	jb_int(b, v);
}

void jb_kbool(struct jbuf *b, const char *key, int v)
{
	jb_key(b, key);
	jb_bool(b, v);
}

void jb_line(struct jbuf *b)
{
	putc1(b, '\n');
	b->need_comma = 0;
}

/* ---- reading ---------------------------------------------------------- */

struct parser {
	const char *s, *end;
	const char *why;
	int depth;
};

static void skip_ws(struct parser *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static int fail(struct parser *p, const char *why)
{
	if (!p->why)
		p->why = why;
	return -1;
}

static int literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0)
		return fail(p, "invalid literal");
	p->s += n;
	return 0;
}

static int hex4(struct parser *p, unsigned *out)
{
	if (p->end - p->s < 4)
		return fail(p, "short \\u escape");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = *p->s++;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(p, "bad \\u escape");
	}
	*out = v;
	return 0;
}

static void put_utf8(struct jbuf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f)),
		u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	else
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f)),
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	put(b, u, n);
}

static int escape(struct parser *p, struct jbuf *b)
{
	char c = *p->s++;
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k = c ? strchr(from, c) : NULL;
	if (k) {
		putc1(b, to[k - from]);
		return 0;
	}
	if (c != 'u')
		return fail(p, "bad escape");
	unsigned cp;
	if (hex4(p, &cp) < 0)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		unsigned lo;
		if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u')
			return fail(p, "lone surrogate");
		p->s += 2;
		if (hex4(p, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return fail(p, "lone surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		return fail(p, "lone surrogate");
	}
	if (cp == 0)
		return fail(p, "\\u0000 in a string");
	put_utf8(b, cp);
	return 0;
}

static int string(struct parser *p, char **out, size_t *outlen)
{
	struct jbuf b = { 0 };
	p->s++; /* the opening quote */
	for (;;) {
		if (p->s >= p->end) {
			jb_free(&b);
			return fail(p, "unterminated string");
		}
		unsigned char c = (unsigned char)*p->s;
		if (c == '"')
			break;
		if (c < 0x20) {
			jb_free(&b);
			return fail(p, "control character in a string");
		}
		if (c == '\\') {
			p->s++;
			if (p->s >= p->end || escape(p, &b) < 0) {
				jb_free(&b);
				return fail(p, "bad escape");
			}
			continue;
		}
		size_t l = utf8_len((const unsigned char *)p->s, (size_t)(p->end - p->s));
		if (!l) {
			jb_free(&b);
			return fail(p, "invalid UTF-8");
		}
		put(&b, p->s, l);
		p->s += l;
	}
	p->s++;
	put(&b, "", 0); /* a terminator even for "" */
	if (b.failed) {
		jb_free(&b);
		return fail(p, "out of memory");
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

static int number(struct parser *p, double *out)
{
	const char *start = p->s;
	if (p->s < p->end && *p->s == '-')
		p->s++;
	if (p->s >= p->end || *p->s < '0' || *p->s > '9')
		return fail(p, "bad number");
	if (*p->s == '0')
		p->s++;
	else
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
			p->s++;
	if (p->s < p->end && *p->s == '.') {
		p->s++;
		if (p->s >= p->end || *p->s < '0' || *p->s > '9')
			return fail(p, "bad number");
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
			p->s++;
	}
	if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
		p->s++;
		if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
			p->s++;
		if (p->s >= p->end || *p->s < '0' || *p->s > '9')
			return fail(p, "bad number");
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
			p->s++;
	}
	char tmp[64];
	size_t n = (size_t)(p->s - start);
	if (n >= sizeof tmp)
		return fail(p, "number too long");
	memcpy(tmp, start, n);
	tmp[n] = '\0';
	*out = strtod(tmp, NULL);
	if (!isfinite(*out))
		return fail(p, "number out of range");
	return 0;
}

static int value(struct parser *p, struct jv *v);

/* Appends a zeroed member to v->kids (and a key slot for objects). */
static struct jv *add_kid(struct parser *p, struct jv *v, char *key)
{
	struct jv *kids = realloc(v->kids, (v->n + 1) * sizeof *kids);
	if (!kids) {
		fail(p, "out of memory");
		return NULL;
	}
	v->kids = kids;
	if (v->type == J_OBJ) {
		char **keys = realloc(v->key, (v->n + 1) * sizeof *keys);
		if (!keys) {
			fail(p, "out of memory");
			return NULL;
		}
		v->key = keys;
		v->key[v->n] = key;
	}
	memset(&v->kids[v->n], 0, sizeof v->kids[v->n]);
	return &v->kids[v->n++];
}

static int container(struct parser *p, struct jv *v, char close)
{
	if (++p->depth > JSON_DEPTH_MAX)
		return fail(p, "nested too deeply");
	v->type = close == '}' ? J_OBJ : J_ARR;
	p->s++;
	skip_ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		p->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		skip_ws(p);
		if (v->type == J_OBJ) {
			size_t kl;
			if (p->s >= p->end || *p->s != '"')
				return fail(p, "expected a key");
			if (string(p, &key, &kl) < 0)
				return -1;
			skip_ws(p);
			if (p->s >= p->end || *p->s != ':') {
				free(key);
				return fail(p, "expected ':'");
			}
			p->s++;
		}
		struct jv *kid = add_kid(p, v, key);
		if (!kid) {
			free(key);
			return -1;
		}
		if (value(p, kid) < 0)
			return -1;
		skip_ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == close) {
			p->s++;
			p->depth--;
			return 0;
		}
		return fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int value(struct parser *p, struct jv *v)
{
	skip_ws(p);
	if (p->s >= p->end)
		return fail(p, "unexpected end");
	switch (*p->s) {
	case '{': return container(p, v, '}');
	case '[': return container(p, v, ']');
	case '"': v->type = J_STR; return string(p, &v->str, &v->slen);
	case 't': v->type = J_BOOL; v->b = 1; return literal(p, "true");
	case 'f': v->type = J_BOOL; v->b = 0; return literal(p, "false");
	case 'n': v->type = J_NULL; return literal(p, "null");
	default: v->type = J_NUM; return number(p, &v->num);
	}
}

static void free_value(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free_value(&v->kids[i]);
		if (v->key)
			free(v->key[i]);
	}
	free(v->kids);
	free(v->key);
	free(v->str);
}

void json_free(struct jv *v)
{
	if (!v)
		return;
	free_value(v);
	free(v);
}

struct jv *json_parse(const char *s, size_t len, const char **why)
{
	struct parser p = { .s = s, .end = s + len };
	struct jv *root = calloc(1, sizeof *root);
	if (!root) {
		*why = "out of memory";
		return NULL;
	}
	if (value(&p, root) == 0) {
		skip_ws(&p);
		if (p.s == p.end)
			return root;
		fail(&p, "text after the document");
	}
	*why = p.why;
	json_free(root);
	return NULL;
}

const struct jv *json_get(const struct jv *o, const char *key)
{
	if (!o || o->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->key[i], key) == 0)
			return &o->kids[i];
	return NULL;
}

const char *json_str(const struct jv *o, const char *key, const char *def)
{
	const struct jv *v = json_get(o, key);
	return v && v->type == J_STR ? v->str : def;
}

long long json_int(const struct jv *o, const char *key, long long def)
{
	const struct jv *v = json_get(o, key);
	if (!v || v->type != J_NUM || v->num < -9e15 || v->num > 9e15 || v->num != (double)(long long)v->num)
		return def;
	return (long long)v->num;
}

int json_bool(const struct jv *o, const char *key, int def)
{
	const struct jv *v = json_get(o, key);
	return v && v->type == J_BOOL ? v->b : def;
}
