/*
 * text.c - text that comes from clients: root names, client names.
 *
 * A root name is returned to every client that lists the roots, and
 * clients in other languages decode it as a proto3 string, which must be
 * UTF-8 (Python's and Go's decoders refuse anything else); it is printed
 * by heapctl and quoted in error messages. So a name must be valid UTF-8
 * (no overlong forms, no surrogates, nothing past U+10FFFF) with no
 * control character (C0, DEL, C1). A client's name goes to the log, where
 * a newline would forge a line and an escape sequence would reach a
 * terminal: it is kept with every byte outside printable UTF-8 escaped.
 * Text quoted in a message is cut only at a character's boundary, so the
 * message stays valid UTF-8.
 */
#include <stdio.h>

#include "text.h"

/* The length of the UTF-8 character at s[0..len), or 0 if none is there:
 * an invalid or truncated sequence, or a control character. */
static size_t char_len(const unsigned char *s, size_t len)
{
	unsigned c = s[0];
	if (c < 0x80)
		return c >= 0x20 && c != 0x7f;
	size_t n;
	unsigned cp, min;
	if ((c & 0xe0) == 0xc0) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

int text_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n = char_len(p + i, len - i);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

size_t text_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t n = char_len(p + i, len - i);
		if (!n)
			n = 1;  /* a byte that is no character is cut like one */
		if (i + n > max)
			break;
		i += n;
	}
	return i;
}

void text_escape(char *out, size_t size, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (size_t i = 0; i < len && size;) {
		size_t n = char_len(p + i, len - i);
		if (n && p[i] != '\\') {
			if (o + n >= size)
				break;
			for (size_t k = 0; k < n; k++)
				out[o++] = (char)p[i + k];
			i += n;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 4;
			i++;
		}
	}
	if (size)
		out[o < size ? o : size - 1] = '\0';
}
