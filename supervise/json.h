/*
 * json.h - the little JSON the control protocol needs (grunctl(1)):
 * writing one object per line, and reading a line back into a tree.
 *
 * Plain C, no runtime: linked into grun and into grunctl.  The writer
 * appends to a growable buffer; the reader parses one complete document
 * (RFC 8259, nesting at most JSON_DEPTH_MAX) into nodes owned by the
 * returned root.  Neither keeps global state, so any thread may use them
 * on its own buffers and trees.
 */
#ifndef GRUN_SV_JSON_H
#define GRUN_SV_JSON_H
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 32

/* ---- writing ---------------------------------------------------------- */

/* A growable text buffer; zero-initialise it.  On allocation failure
 * `failed` is set and later appends do nothing. */
struct jbuf {
	char *p;
	size_t len, cap;
	int failed;
	int need_comma;   /* a value was written at the current level */
};

void jb_free(struct jbuf *b);
void jb_reset(struct jbuf *b);
/* Structure: jb_obj()/jb_end_obj(), jb_arr()/jb_end_arr(); jb_key()
 * writes "key": before the value that follows. */
void jb_obj(struct jbuf *b);
void jb_end_obj(struct jbuf *b);
void jb_arr(struct jbuf *b);
void jb_end_arr(struct jbuf *b);
void jb_key(struct jbuf *b, const char *key);
/* Values.  jb_strn() escapes any bytes: invalid UTF-8 bytes become
 * U+FFFD, so the line stays valid JSON whatever a job wrote. */
void jb_str(struct jbuf *b, const char *s);
void jb_strn(struct jbuf *b, const char *s, size_t n);
void jb_int(struct jbuf *b, long long v);
void jb_bool(struct jbuf *b, int v);
void jb_null(struct jbuf *b);
/* jb_raw() appends n bytes that are already a JSON value. */
void jb_raw(struct jbuf *b, const char *s, size_t n);
/* Shorthands for "key": value. */
void jb_kstr(struct jbuf *b, const char *key, const char *s);
void jb_kint(struct jbuf *b, const char *key, long long v);
void jb_kbool(struct jbuf *b, const char *key, int v);
/* jb_line() ends the document with a newline (one message per line). */
void jb_line(struct jbuf *b);

/* ---- reading ---------------------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

/* A parsed value.  Arrays and objects keep their members in `kids`
 * (objects also name each in `key`).  Strings are NUL-terminated UTF-8
 * (a \u0000 escape is refused). */
struct jv {
	enum jtype type;
	int b;                 /* J_BOOL */
	double num;            /* J_NUM */
	char *str;             /* J_STR */
	size_t slen;
	struct jv *kids;       /* J_ARR, J_OBJ */
	char **key;            /* J_OBJ */
	size_t n;
};

/* json_parse() parses the len bytes at s (one document, surrounding
 * blanks allowed).  Returns the root, or NULL with a static message in
 * *why (also on allocation failure). */
struct jv *json_parse(const char *s, size_t len, const char **why);
void json_free(struct jv *v);
/* json_get() is the member called key of object o, NULL if o is not an
 * object or has none (the first, if the key repeats). */
const struct jv *json_get(const struct jv *o, const char *key);
/* Typed lookups: the member's value, or def when missing or of another
 * type. */
const char *json_str(const struct jv *o, const char *key, const char *def);
long long json_int(const struct jv *o, const char *key, long long def);
int json_bool(const struct jv *o, const char *key, int def);
#endif
