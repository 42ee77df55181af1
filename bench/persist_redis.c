/*
 * persist_redis.c - bench/persist's Redis connection: RESP over a Unix
 * socket, as little of it as the steps need (simple strings, errors,
 * integers and bulks; no arrays), commands put in a buffer so that many
 * can go in one send, and the fields of INFO.
 *
 * A reply's text points into the connection's buffer: it holds until the
 * next reply is read. Running out of memory or failing to send exits 1;
 * a connection that ends is pb_rc_reply's -1, for the caller to judge
 * (pb_rc_call exits 1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "benchutil.h"
#include "persist.h"

struct pb_rconn {
	int fd;
	char *buf;
	size_t cap, r, w;
};

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		fail("socket path too long");
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct pb_rconn *pb_rc_open(const char *path)
{
	int fd = unix_connect(path);
	struct pb_rconn *c;

	if (fd < 0)
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c || !(c->buf = malloc(c->cap = 1 << 20)))
		fail("out of memory");
	c->fd = fd;
	return c;
}

void pb_rc_close(struct pb_rconn *c)
{
	if (c) {
		close(c->fd);
		free(c->buf);
		free(c);
	}
}

void pb_rc_send(struct pb_rconn *c, const char *p, size_t len)
{
	while (len) {
		ssize_t k = send(c->fd, p, len, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			fail("send to Redis");
		p += k;
		len -= (size_t)k;
	}
}

/* Reads more into c's buffer, making room; -1 at EOF or on an error. */
static int rc_fill(struct pb_rconn *c)
{
	if (c->r == c->w)
		c->r = c->w = 0;
	if (c->cap - c->w < 65536 && c->r) {
		memmove(c->buf, c->buf + c->r, c->w - c->r);
		c->w -= c->r;
		c->r = 0;
	}
	if (c->cap - c->w < 65536 && !(c->buf = realloc(c->buf, c->cap *= 2)))
		fail("out of memory");
	ssize_t k;
	do
		k = read(c->fd, c->buf + c->w, c->cap - c->w);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return -1;
	c->w += (size_t)k;
	return 0;
}

/* The next reply, waiting for it; -1 when the connection ends. */
int pb_rc_reply(struct pb_rconn *c, struct pb_rreply *out)
{
	for (;;) {
		char *line = c->buf + c->r, *nl = memmem(line, c->w - c->r, "\r\n", 2);

		if (nl) {
			size_t head = (size_t)(nl - line) + 2;

			out->type = line[0];
			out->num = strtoll(line + 1, NULL, 10);
			if (out->type != '$') {
				out->s = line + 1;
				out->len = head - 3;
				c->r += head;
				return 0;
			}
			if (out->num < 0) {
				out->s = NULL;
				out->len = 0;
				c->r += head;
				return 0;
			}
			if (c->w - c->r >= head + (size_t)out->num + 2) {
				out->s = line + head;
				out->len = (size_t)out->num;
				c->r += head + (size_t)out->num + 2;
				return 0;
			}
		}
		if (rc_fill(c) != 0)
			return -1;
	}
}

static void sb_put(struct pb_sbuf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		if (!(b->p = realloc(b->p, b->cap)))
			fail("out of memory");
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void sb_arg(struct pb_sbuf *b, const void *p, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof head, "$%zu\r\n", len);

	sb_put(b, head, (size_t)n);
	sb_put(b, p, len);
	sb_put(b, "\r\n", 2);
}

/* A command of argc arguments, each a string or (len[i] != 0) bytes. */
void pb_sb_cmd(struct pb_sbuf *b, int argc, const char *const *argv, const size_t *len)
{
	char head[16];
	int n = snprintf(head, sizeof head, "*%d\r\n", argc);

	sb_put(b, head, (size_t)n);
	for (int i = 0; i < argc; i++)
		sb_arg(b, argv[i], len && len[i] ? len[i] : strlen(argv[i]));
}

/* One command, its reply. */
void pb_rc_call(struct pb_rconn *c, struct pb_rreply *r, int argc, const char *const *argv)
{
	struct pb_sbuf b = {0};

	pb_sb_cmd(&b, argc, argv, NULL);
	pb_rc_send(c, b.p, b.len);
	free(b.p);
	if (pb_rc_reply(c, r) != 0)
		fail("Redis closed the connection");
}

/* Field name's number in an INFO reply; -1 when missing. */
static long long info_field(const struct pb_rreply *r, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = r->s; p && p < r->s + r->len;) {
		const char *e = memchr(p, '\n', (size_t)(r->s + r->len - p));

		if ((size_t)(r->s + r->len - p) > n && memcmp(p, name, n) == 0 && p[n] == ':')
			return strtoll(p + n + 1, NULL, 10);
		p = e ? e + 1 : r->s + r->len;
	}
	return -1;
}

/* Field name's number in INFO section; -1 when missing. */
long long pb_rc_info(struct pb_rconn *c, const char *section, const char *name)
{
	const char *argv[] = {"INFO", section};
	struct pb_rreply r;

	pb_rc_call(c, &r, 2, argv);
	if (r.type != '$')
		fail("INFO failed");
	return info_field(&r, name);
}
