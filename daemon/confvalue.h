/*
 * confvalue.h - the values of heapd's settings as text: numbers, sizes
 * with units, user and group ids, yes or no (confvalue.c). config.c parses and shows
 * its settings with them.
 *
 * Numbers are decimal or octal digits with no sign; a size may add K, M,
 * G or T (powers of 1024; "KiB", "KB" and "k" alike). The parsers return
 * NULL, or what is wrong with the value, to follow its name in a message
 * ("max_heap '1T' is too large").
 */
#ifndef HEAPD_CONFVALUE_H
#define HEAPD_CONFVALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* s without its leading and trailing white space (cut in place). */
char *cval_trim(char *s);
/* Reads digits in base at *sp, moving it past them: 0, or -1 when there
 * is none, -2 on overflow. */
int cval_digits(const char **sp, unsigned base, uint64_t *v);
/* A number with nothing after it; what describes any other value. */
const char *cval_number(const char *s, unsigned base, uint64_t *v, const char *what);
/* A byte count, with an optional unit. */
const char *cval_size(const char *s, uint64_t *v);
/* v as the largest whole unit: "16MiB", "4097". Returns buf. */
const char *cval_format_size(uint64_t v, char *buf, size_t n);
/* A uid (group false) or gid: a number, or a user's or group's name. */
const char *cval_id(const char *tok, bool group, id_t *id);
/* yes or no (true/false, on/off, 1/0 too, in any case): 1 or 0. */
const char *cval_bool(const char *s, uint64_t *v);

#endif
