/*
 * confvalue.c - the values of heapd's settings as text (confvalue.h).
 */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "confvalue.h"

_Static_assert((id_t)-1 == 4294967295u, "cval_id's range text says 4294967294");

char *cval_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int cval_digits(const char **sp, unsigned base, uint64_t *v)
{
	const char *s = *sp;
	uint64_t n = 0;
	if (*s < '0' || *s >= '0' + (int)base)
		return -1;
	for (; *s >= '0' && *s < '0' + (int)base; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / base)
			return -2;
		n = n * base + d;
	}
	*sp = s;
	*v = n;
	return 0;
}

const char *cval_number(const char *s, unsigned base, uint64_t *v, const char *what)
{
	if (*s == '-')
		return "must not be negative";
	int rc = cval_digits(&s, base, v);
	if (rc == -2)
		return "is too large";
	return rc || *s ? what : NULL;
}

const char *cval_size(const char *s, uint64_t *v)
{
	static const char units[] = "kmgt";
	static const char what[] = "is not a size (bytes, or a number with K, M, G or T)";
	if (*s == '-')
		return "must not be negative";
	int rc = cval_digits(&s, 10, v);
	if (rc)
		return rc == -2 ? "is too large" : what;
	while (*s == ' ' || *s == '\t')
		s++;
	unsigned shift = 0;
	const char *u = *s ? strchr(units, tolower((unsigned char)*s)) : NULL;
	if (u) {
		shift = 10 * (unsigned)(u - units + 1);
		s++;
		if (tolower((unsigned char)*s) == 'i' && tolower((unsigned char)s[1]) == 'b')
			s++;
	}
	if (tolower((unsigned char)*s) == 'b')
		s++;
	if (*s)
		return what;
	if (shift && *v > UINT64_MAX >> shift)
		return "is too large";
	*v <<= shift;
	return NULL;
}

const char *cval_format_size(uint64_t v, char *buf, size_t n)
{
	static const char units[] = "KMGTPE";
	unsigned u = 0;
	while (v && u < 6 && v % ((uint64_t)1 << (10 * (u + 1))) == 0)
		u++;
	if (u)
		snprintf(buf, n, "%llu%ciB", (unsigned long long)(v >> (10 * u)), units[u - 1]);
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
	return buf;
}

const char *cval_id(const char *tok, bool group, id_t *id)
{
	uint64_t v;
	const char *s = tok;
	if (cval_digits(&s, 10, &v) == 0 && !*s) {
		*id = (id_t)v;
		/* (id_t)-1 is "no id" to chown() and friends. */
		return v >= (id_t)-1 ? "is out of range (0..4294967294)" : NULL;
	}
	struct group *gr = group ? getgrnam(tok) : NULL;
	struct passwd *pw = group ? NULL : getpwnam(tok);
	if (gr)
		*id = gr->gr_gid;
	else if (pw)
		*id = pw->pw_uid;
	else
		return group ? "is not a gid or a group name" : "is not a uid or a user name";
	return NULL;
}

const char *cval_bool(const char *s, uint64_t *v)
{
	static const char *const words[][2] = {{"no", "yes"}, {"false", "true"}, {"off", "on"}, {"0", "1"}};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		for (int b = 0; b < 2; b++)
			if (strcasecmp(s, words[i][b]) == 0) {
				*v = (uint64_t)b;
				return NULL;
			}
	return "is not yes or no";
}
