/*
 * async-libuv.c - libheapd's async API on a libuv loop: connect,
 * allocate an object, write to it, read it back, print it, disconnect.
 *
 * Usage: async-libuv [SOCKET]  (default: $HEAPD_SOCKET, else
 * /run/heapd/heapd.sock). Build it with:
 *   cc async-libuv.c $(pkg-config --cflags --libs libheapd libuv)
 *
 * Each step is a request whose callback makes the next one. The first is
 * made before the daemon has even answered the Hello: requests queue
 * behind it. uv_run returns once the connection has closed.
 */
#include <stdio.h>

#include <uv.h>
#include <heapd/async.h>
#include <heapd/adapters/libuv.h>

static const char text[] = "hello from libuv";
static heapd_ref obj;
static int status = 1; /* the exit status: 0 once the text came back */

/* A failed step: say so and close. */
static int failed(heapd_async *ac, int err, const char *what, const char *msg)
{
	if (err == HEAPD_OK)
		return 0;
	fprintf(stderr, "async-libuv: %s: %s\n", what, msg ? msg : heapd_strerror(err));
	heapd_async_disconnect(ac);
	return 1;
}

static void on_read(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	(void)privdata;
	if (failed(ac, r->status, "read", r->error))
		return;
	printf("read back: %.*s\n", (int)r->len, (const char *)r->data);
	status = 0;
	heapd_async_disconnect(ac);
}

static void on_write(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	(void)privdata;
	if (failed(ac, r->status, "write", r->error))
		return;
	failed(ac, heapd_async_read(ac, obj, 0, sizeof text - 1, on_read, NULL), "read", NULL);
}

static void on_alloc(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	(void)privdata;
	if (failed(ac, r->status, "alloc", r->error))
		return;
	obj = r->ref;
	printf("allocated object %#llx\n", (unsigned long long)obj);
	failed(ac, heapd_async_write(ac, obj, 0, text, sizeof text - 1, on_write, NULL), "write", NULL);
}

static void on_connect(heapd_async *ac, int err)
{
	if (err)
		fprintf(stderr, "async-libuv: connect: %s\n", heapd_async_errmsg(ac));
	else
		printf("connected\n");
}

static void on_disconnect(heapd_async *ac, int err)
{
	if (err)
		fprintf(stderr, "async-libuv: connection lost: %s\n", heapd_async_errmsg(ac));
	else
		printf("disconnected\n");
}

int main(int argc, char **argv)
{
	uv_loop_t *loop = uv_default_loop();
	heapd_async *ac = heapd_async_connect(argc > 1 ? argv[1] : NULL);
	if (!ac) {
		fprintf(stderr, "async-libuv: out of memory\n");
		return 1;
	}
	int err = heapd_async_errcode(ac); /* a connection that failed at once */
	if (!err)
		err = heapd_libuv_attach(ac, loop);
	if (err) {
		fprintf(stderr, "async-libuv: %s\n", heapd_async_errcode(ac) ? heapd_async_errmsg(ac) : heapd_strerror(err));
		heapd_async_free(ac);
		return 1;
	}
	heapd_async_set_connect_cb(ac, on_connect);
	heapd_async_set_disconnect_cb(ac, on_disconnect);
	failed(ac, heapd_async_alloc(ac, 0, sizeof text - 1, on_alloc, NULL), "alloc", NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	heapd_async_free(ac);
	uv_loop_close(loop);
	return status;
}
