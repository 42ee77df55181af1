/*
 * parse.c - heapctl's text forms: refs, REF.SLOT, numbers and shell-like
 * words (parse.h says what each accepts).
 *
 * Everything here is a pure function of its arguments, so that
 * tests/client/test_parse.c can try every form without a daemon. A ref is
 * 64 bits; text that would overflow is refused, never wrapped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

const char *ctl_ref_text(char buf[CTL_REF_MAX], heapd_ref ref)
{
	snprintf(buf, CTL_REF_MAX, "0x%" PRIx64, ref);
	return buf;
}

static int digit_value(char c, unsigned base)
{
	unsigned v = c >= '0' && c <= '9' ? (unsigned)(c - '0')
		   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 99;
	return v < base ? (int)v : -1;
}

/* Digits of base up to the end of s, at least one, into a u64. */
static int parse_u64(const char *s, unsigned base, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		int d = digit_value(*s, base);
		if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / base)
			return -1;
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return 0;
}

int ctl_parse_ref(const char *s, heapd_ref *out)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_u64(s + 2, 16, out);
	return parse_u64(s, 10, out);
}

/* Starts with 0x, or is all digits: meant as a ref. */
static int looks_like_ref(const char *s)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return 1;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

enum ctl_target_kind ctl_parse_target(const char *s, heapd_ref *ref, const char **root)
{
	if (strncmp(s, "root:", 5) == 0) {
		*root = s + 5;
		return **root ? CTL_TARGET_ROOT : CTL_TARGET_BAD;
	}
	if (looks_like_ref(s))
		return ctl_parse_ref(s, ref) == 0 ? CTL_TARGET_REF : CTL_TARGET_BAD;
	*root = s;
	return *s ? CTL_TARGET_ROOT : CTL_TARGET_BAD;
}

int ctl_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;
	if (parse_u64(s, 10, &v) != 0 || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int ctl_split_slot(const char *s, char *target, size_t size, uint32_t *slot)
{
	const char *dot = strrchr(s, '.');
	if (!dot || dot == s || (size_t)(dot - s) >= size || ctl_parse_u32(dot + 1, UINT32_MAX, slot) != 0)
		return -1;
	memcpy(target, s, (size_t)(dot - s));
	target[dot - s] = '\0';
	return 0;
}

/* ------------------------------------------------------------- words */

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One word from *pp into *out (NUL-terminated); *pp moves past it. */
static int split_one(const char **pp, char **out, const char **err)
{
	const char *p = *pp;
	char *o = *out;
	while (*p && !is_blank(*p)) {
		if (*p == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				*err = "no closing ' in the line";
				return -1;
			}
			memcpy(o, p + 1, (size_t)(end - p - 1));
			o += end - p - 1;
			p = end + 1;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*o++ = *p;
			}
			if (!*p) {
				*err = "no closing \" in the line";
				return -1;
			}
			p++;
		} else if (*p == '\\') {
			if (!p[1]) {
				*err = "a backslash at the end of the line";
				return -1;
			}
			*o++ = p[1];
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o++ = '\0';
	*pp = p;
	*out = o;
	return 0;
}

int ctl_split_words(const char *line, char ***words, const char **err)
{
	size_t len = strlen(line), max = len / 2 + 2;   /* a word and a blank at least, each */
	char **w = malloc(max * sizeof *w + len + 1);
	if (!w) {
		*err = "out of memory";
		return -1;
	}
	char *text = (char *)(w + max);
	int n = 0;
	for (const char *p = line;;) {
		while (is_blank(*p))
			p++;
		if (!*p || (n == 0 && *p == '#'))
			break;
		w[n] = text;
		if (split_one(&p, &text, err) != 0) {
			free(w);
			return -1;
		}
		n++;
	}
	w[n] = NULL;
	*words = w;
	return n;
}
