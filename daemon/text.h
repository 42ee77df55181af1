/*
 * text.h - checking and quoting text from clients; see text.c.
 */
#ifndef HEAPD_TEXT_H
#define HEAPD_TEXT_H

#include <stddef.h>

/* 1 if s[0..len) is valid UTF-8 with no control character, else 0. */
int text_valid(const char *s, size_t len);
/* The longest prefix of s[0..len), at most max bytes, that ends at a
 * character's boundary. */
size_t text_cut(const char *s, size_t len, size_t max);
/* s[0..len) into out (size bytes, NUL-terminated, cut whole at the end):
 * printable UTF-8 as it is, every other byte and the backslash as \xNN. */
void text_escape(char *out, size_t size, const char *s, size_t len);

#endif
