/*
 * heapd_root.c - a named root with a line of text, from the shell, for
 * test_nspawn.sh (heapctl cannot make objects yet): "set NAME TEXT" makes
 * an object holding TEXT and names it NAME; "get NAME" prints the text
 * the root names. The socket is $HEAPD_SOCKET, else heapd's default.
 * Exit status 0, or 1 with heapd's message.
 */
#include <stdio.h>
#include <string.h>

#include "heapd.h"

static int fail(heapd *h, const char *what)
{
	fprintf(stderr, "heapd_root: %s: %s\n", what, heapd_errmsg(h));
	heapd_close(h);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "set") == 0) != (argc == 4)) {
		fprintf(stderr, "usage: heapd_root set NAME TEXT | get NAME\n");
		return 2;
	}
	heapd *h = heapd_connect(NULL);
	if (!h || heapd_errcode(h))
		return fail(h, "connect");
	heapd_ref ref;
	unsigned char text[256];
	if (strcmp(argv[1], "set") == 0) {
		size_t len = strlen(argv[3]);
		text[0] = (unsigned char)(len < 255 ? len : 255);
		memcpy(text + 1, argv[3], text[0]);
		if (heapd_alloc_into(h, 0, 0, 0, 1u + text[0], text, 1u + text[0], &ref) ||
		    heapd_root_set(h, argv[2], ref))
			return fail(h, "set");
	} else {
		if (heapd_root_get(h, argv[2], &ref) || heapd_read(h, ref, 0, text, 1) ||
		    heapd_read(h, ref, 1, text + 1, text[0]))
			return fail(h, "get");
		printf("%.*s\n", (int)text[0], (const char *)text + 1);
	}
	heapd_close(h);
	return 0;
}
