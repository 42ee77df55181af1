/*
 * test_view.c - libheapd's zero-copy plumbing without a daemon: the
 * descriptor received with a reply (core_recv), the arena's mapping
 * (client/view.c) and the library's own map_arena before the first view
 * (core_submit, core_take); the views counted by ref (vmap_viewed,
 * vmap_unviewed).
 *
 * A socketpair stands for the daemon: replies are framed here and sent,
 * the first with a memfd as SCM_RIGHTS, as heapd sends the arena's. The
 * memfd is sealed against shrinking and grown as heapd grows its arena.
 * A daemon that lies (a view past the arena, an arena past its
 * reservation, a file shorter than it says, no seal, no descriptor) must
 * get HEAPD_EPROTO, never a read outside the mapping.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch.h"
#include "../fdutil.h"
#include "core.h"

#define PAGE 4096u
#define RESERVED (64u * PAGE)

/* A sealed memfd of pages pages, each byte of page i set to 'a' + i. */
static int arena_file(unsigned pages, int seal)
{
	int fd = memfd_create("test-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)pages * PAGE), 0);
	for (unsigned i = 0; i < pages; i++) {
		char buf[PAGE];
		memset(buf, 'a' + (int)i, sizeof buf);
		assert_int_equal(pwrite(fd, buf, sizeof buf, (off_t)i * PAGE), PAGE);
	}
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	return fd;
}

/* Grows the file to pages pages, as heapd's arena grows. */
static void arena_grow(int fd, unsigned from, unsigned pages)
{
	assert_int_equal(ftruncate(fd, (off_t)pages * PAGE), 0);
	for (unsigned i = from; i < pages; i++) {
		char buf[PAGE];
		memset(buf, 'a' + (int)i, sizeof buf);
		assert_int_equal(pwrite(fd, buf, sizeof buf, (off_t)i * PAGE), PAGE);
	}
}

/* Sends n bytes on fd, with descriptor pass (or -1) attached. */
static void send_with_fd(int fd, const void *p, size_t n, int pass)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (pass >= 0) {
		memset(&ctl, 0, sizeof ctl);
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &pass, sizeof pass);
	}
	assert_int_equal(sendmsg(fd, &msg, 0), (ssize_t)n);
}

/* Sends a reply to id (status, error, and a ViewReply when view is not
 * NULL), with descriptor pass attached to its first byte. */
static void send_reply(int fd, uint64_t id, Heapd__Status status, const char *error, Heapd__ViewReply *view,
		       int pass)
{
	Heapd__Response r = HEAPD__RESPONSE__INIT;
	r.id = id;
	r.status = status;
	r.error = (char *)(error ? error : "");
	if (view) {
		r.result_case = HEAPD__RESPONSE__RESULT_VIEW;
		r.view = view;
	}
	uint8_t buf[512];
	size_t n = heapd__response__pack(&r, buf + 4);
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	send_with_fd(fd, buf, n + 4, pass);
}

static Heapd__ViewReply view_of(uint64_t offset, uint64_t length, uint64_t size, uint64_t reserved)
{
	Heapd__ViewReply v = HEAPD__VIEW_REPLY__INIT;
	v.offset = offset;
	v.length = length;
	v.arena_size = size;
	v.arena_reserved = reserved;
	return v;
}

/* Receives into c until the next reply is whole, then takes it. */
static void take(struct core *c, int fd, struct core_reply *v, heapd_reply *r)
{
	while (core_reply_lacks(c) > 0) {
		size_t room;
		uint8_t *p = core_in_room(c, (size_t)core_reply_lacks(c), &room);
		assert_non_null(p);
		ssize_t n = core_recv(c, fd, p, room, 0);
		assert_true(n > 0);
		c->in.len += (size_t)n;
	}
	scratch_reset(&c->scratch);
	core_take(c, v, r);
}

/* The request framed at out.p + *at: its op, and its id; *at moves past it. */
static Heapd__Request__OpCase framed_op(struct core *c, size_t *at, uint64_t *id)
{
	uint32_t len = wire_frame_len(c->out.p + *at);
	Heapd__Request *req = heapd__request__unpack(NULL, len, c->out.p + *at + WIRE_HEADER);
	assert_non_null(req);
	Heapd__Request__OpCase op = req->op_case;
	*id = req->id;
	heapd__request__free_unpacked(req, NULL);
	*at += WIRE_HEADER + len;
	return op;
}

static void submit_view(struct core *c, heapd_ref obj)
{
	struct wire_req w;
	wire_view(&w, obj);
	assert_int_equal(core_submit(c, &w.req, &(struct pend){0}, 1000, 1u << 20), 0);
}

/* The first descriptor is kept (close-on-exec), the next ones closed. */
static void first_fd_kept(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct core c;
	core_init(&c);
	int a = arena_file(1, 1), b = arena_file(1, 1);
	size_t before = open_fds();
	send_with_fd(sv[0], "x", 1, a);
	send_with_fd(sv[0], "y", 1, b);
	char buf[2];
	assert_int_equal(core_recv(&c, sv[1], buf, 1, 0), 1);
	assert_int_equal(core_recv(&c, sv[1], buf + 1, 1, 0), 1);
	assert_memory_equal(buf, "xy", 2);
	struct stat kept, first;
	assert_int_equal(fstat(c.vmap.fd, &kept), 0);
	assert_int_equal(fstat(a, &first), 0);
	assert_true(kept.st_ino == first.st_ino);
	assert_true(fcntl(c.vmap.fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(open_fds(), before + 1);  /* the second was closed */
	core_free(&c);
	assert_int_equal(open_fds(), before);
	close(a);
	close(b);
	close(sv[0]);
	close(sv[1]);
}

/* A view's bytes are base + offset; a later reply with a larger arena
 * maps only what it grew by. */
static void map_and_grow(void **state)
{
	(void)state;
	struct vmap m;
	vmap_init(&m);
	int fd = arena_file(3, 1);
	vmap_keep_fd(&m, dup(fd));
	Heapd__ViewReply v = view_of(0, 0, 3 * PAGE, RESERVED);
	assert_int_equal(vmap_arena(&m, &v), 0);
	assert_true(m.ready);
	assert_int_equal(m.mapped, 3 * PAGE);
	const void *data;
	v = view_of(PAGE + 10, 100, 3 * PAGE, RESERVED);
	assert_int_equal(vmap_view(&m, &v, &data), 0);
	assert_ptr_equal(data, m.base + PAGE + 10);
	assert_int_equal(((const char *)data)[0], 'b');
	arena_grow(fd, 3, 9);
	v = view_of(8 * PAGE, PAGE, 9 * PAGE, RESERVED);
	assert_int_equal(vmap_view(&m, &v, &data), 0);
	assert_int_equal(m.mapped, 9 * PAGE);
	assert_int_equal(((const char *)data)[PAGE - 1], 'i');
	/* A smaller arena_size than mapped (an older reply) maps nothing. */
	v = view_of(0, 1, 2 * PAGE, RESERVED);
	assert_int_equal(vmap_view(&m, &v, &data), 0);
	assert_int_equal(m.mapped, 9 * PAGE);
	/* The mapping is read-only and shared: the daemon's writes show. */
	assert_int_equal(pwrite(fd, "Z", 1, 5), 1);
	v = view_of(5, 1, 9 * PAGE, RESERVED);
	assert_int_equal(vmap_view(&m, &v, &data), 0);
	assert_int_equal(*(const char *)data, 'Z');
	vmap_free(&m);
	assert_int_equal(m.fd, -1);
	close(fd);
}

/* What a lying daemon says is HEAPD_EPROTO, with the arena not mapped
 * (first reply) or mapped as it was. */
static void lies_are_protocol_errors(void **state)
{
	(void)state;
	struct vmap m;
	const void *data;
	Heapd__ViewReply v = view_of(0, 0, 2 * PAGE, RESERVED);
	vmap_init(&m);
	assert_int_equal(vmap_arena(&m, &v), HEAPD_EPROTO);  /* no descriptor */
	assert_non_null(strstr(m.error, "descriptor"));
	assert_int_equal(vmap_view(&m, &v, &data), HEAPD_EPROTO);
	vmap_free(&m);

	vmap_init(&m);
	vmap_keep_fd(&m, arena_file(2, 0));
	assert_int_equal(vmap_arena(&m, &v), HEAPD_EPROTO);  /* not sealed */
	assert_non_null(strstr(m.error, "sealed"));
	assert_false(m.ready);
	assert_null(m.base);
	vmap_free(&m);

	vmap_init(&m);
	vmap_keep_fd(&m, arena_file(2, 1));
	v = view_of(0, 0, 3 * PAGE, RESERVED);
	assert_int_equal(vmap_arena(&m, &v), HEAPD_EPROTO);  /* the file is 2 pages */
	assert_non_null(strstr(m.error, "shorter"));
	assert_false(m.ready);
	v = view_of(0, 0, 2 * PAGE, RESERVED);
	assert_int_equal(vmap_arena(&m, &v), 0);
	v = view_of(0, 0, 2 * PAGE, 2 * RESERVED);
	assert_int_equal(vmap_view(&m, &v, &data), HEAPD_EPROTO);  /* another reservation */
	v = view_of(0, 1, 4 * PAGE, RESERVED);
	assert_int_equal(vmap_view(&m, &v, &data), HEAPD_EPROTO);  /* the file did not grow */
	assert_int_equal(m.mapped, 2 * PAGE);
	vmap_free(&m);

	/* What wire.c checks before: the view within the arena, the arena
	 * within its reservation, without overflow. */
	Heapd__Response r = HEAPD__RESPONSE__INIT;
	r.result_case = HEAPD__RESPONSE__RESULT_VIEW;
	r.view = &v;
	v = view_of(PAGE, PAGE, 2 * PAGE, RESERVED);
	assert_null(wire_check_result(HEAPD__REQUEST__OP_VIEW, 0, &r));
	assert_null(wire_check_result(HEAPD__REQUEST__OP_MAP_ARENA, 0, &r));
	v = view_of(PAGE, PAGE + 1, 2 * PAGE, RESERVED);
	assert_non_null(wire_check_result(HEAPD__REQUEST__OP_VIEW, 0, &r));
	v = view_of(UINT64_MAX, 2, 2 * PAGE, RESERVED);
	assert_non_null(wire_check_result(HEAPD__REQUEST__OP_VIEW, 0, &r));
	v = view_of(1, UINT64_MAX, 2 * PAGE, RESERVED);
	assert_non_null(wire_check_result(HEAPD__REQUEST__OP_VIEW, 0, &r));
	v = view_of(0, 0, RESERVED + 1, RESERVED);
	assert_non_null(wire_check_result(HEAPD__REQUEST__OP_MAP_ARENA, 0, &r));
	r.result_case = HEAPD__RESPONSE__RESULT_REF;
	assert_non_null(wire_check_result(HEAPD__REQUEST__OP_VIEW, 0, &r));
}

/* The first view goes after the library's map_arena; the second, asked
 * before the first's reply, does not get another. Its reply maps the
 * arena and is no caller's; the views' replies point into the mapping. */
static void map_arena_before_first_view(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct core c;
	core_init(&c);
	submit_view(&c, 1ull << 40);
	submit_view(&c, 2ull << 40);
	assert_int_equal(c.npend, 3);
	assert_int_equal(core_pending(&c), 2);
	size_t at = 0;
	uint64_t id;
	assert_int_equal(framed_op(&c, &at, &id), HEAPD__REQUEST__OP_MAP_ARENA);
	assert_int_equal(id, 1);
	assert_int_equal(framed_op(&c, &at, &id), HEAPD__REQUEST__OP_VIEW);
	assert_int_equal(id, 2);
	assert_int_equal(framed_op(&c, &at, &id), HEAPD__REQUEST__OP_VIEW);
	assert_int_equal(at, c.out.len);

	int fd = arena_file(2, 1);
	Heapd__ViewReply v = view_of(0, 0, 2 * PAGE, RESERVED);
	send_reply(sv[0], 1, HEAPD__STATUS__OK, NULL, &v, fd);
	Heapd__ViewReply v2 = view_of(PAGE + 1, 7, 2 * PAGE, RESERVED);
	send_reply(sv[0], 2, HEAPD__STATUS__OK, NULL, &v2, -1);
	arena_grow(fd, 2, 4);
	Heapd__ViewReply v3 = view_of(3 * PAGE, 5, 4 * PAGE, RESERVED);
	send_reply(sv[0], 3, HEAPD__STATUS__OK, NULL, &v3, -1);

	struct core_reply cr;
	heapd_reply r;
	take(&c, sv[1], &cr, &r);
	assert_false(cr.fatal);
	assert_int_equal(cr.p.op, HEAPD__REQUEST__OP_MAP_ARENA);
	assert_true(c.vmap.ready);
	assert_int_equal(c.vmap.map_due, 0);
	assert_int_equal(core_pending(&c), 2);
	take(&c, sv[1], &cr, &r);
	assert_false(cr.fatal);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.len, 7);
	assert_ptr_equal(r.data, c.vmap.base + PAGE + 1);
	assert_memory_equal(r.data, "bbbbbbb", 7);
	take(&c, sv[1], &cr, &r);
	assert_int_equal(r.status, 0);
	assert_memory_equal(r.data, "ddddd", 5);
	assert_int_equal(c.npend, 0);

	/* Mapped: a view goes alone; one past the arena is fatal. */
	submit_view(&c, 3ull << 40);
	assert_int_equal(c.npend, 1);
	Heapd__ViewReply bad = view_of(4 * PAGE - 1, 2, 4 * PAGE, RESERVED);
	send_reply(sv[0], 4, HEAPD__STATUS__OK, NULL, &bad, -1);
	take(&c, sv[1], &cr, &r);
	assert_true(cr.fatal);
	assert_int_equal(cr.status, HEAPD_EPROTO);
	core_free(&c);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* map_arena refused: the view refused too has its own message; one the
 * daemon answers OK anyway takes the map's failure; the next view asks
 * for the map again. */
static void map_arena_refused(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct core c;
	core_init(&c);
	submit_view(&c, 1ull << 40);
	submit_view(&c, 2ull << 40);
	assert_int_equal(c.npend, 3);
	send_reply(sv[0], 1, HEAPD__STATUS__PERMISSION, "not granted (zero_copy_uids)", NULL, -1);
	send_reply(sv[0], 2, HEAPD__STATUS__PERMISSION, "view: not granted", NULL, -1);
	Heapd__ViewReply v = view_of(0, 1, PAGE, RESERVED);
	send_reply(sv[0], 3, HEAPD__STATUS__OK, NULL, &v, -1);
	struct core_reply cr;
	heapd_reply r;
	take(&c, sv[1], &cr, &r);
	assert_false(cr.fatal);
	assert_int_equal(cr.p.op, HEAPD__REQUEST__OP_MAP_ARENA);
	take(&c, sv[1], &cr, &r);
	assert_false(cr.fatal);
	assert_int_equal(r.status, HEAPD_EPERM);
	assert_string_equal(r.error, "view: not granted");
	assert_null(r.data);
	take(&c, sv[1], &cr, &r);
	assert_false(cr.fatal);
	assert_int_equal(r.status, HEAPD_EPERM);
	assert_string_equal(r.error, "map_arena: not granted (zero_copy_uids)");
	assert_null(r.data);
	/* The daemon made that view, unmapped as it is: counted. */
	assert_int_equal(vmap_views(&c.vmap, 1ull << 40), 0);
	assert_int_equal(vmap_views(&c.vmap, 2ull << 40), 1);
	submit_view(&c, 1ull << 40);
	assert_int_equal(c.npend, 2);
	assert_int_equal(c.vmap.map_due, 1);
	core_free(&c);
	close(sv[0]);
	close(sv[1]);
}

/* A batch with a view op gets the map_arena too; a batch that cannot be
 * queued takes its map_arena back with it: nothing changes. */
static void batch_with_view(void **state)
{
	(void)state;
	struct core c;
	core_init(&c);
	heapd_batch *b = heapd_batch_new();
	assert_non_null(b);
	assert_int_equal(heapd_batch_seal(b, 1ull << 40), 0);
	struct wire_req w;
	hbatch_request(b, &w);
	assert_int_equal(core_submit(&c, &w.req, &(struct pend){.batch = b}, 1000, 1u << 20), 0);
	assert_int_equal(c.npend, 1);  /* no view: no map */
	for (int i = 0; i < 40; i++)
		assert_int_equal(heapd_batch_view(b, 1ull << 40), i + 1);
	hbatch_request(b, &w);
	size_t len = c.out.len;
	c.max_frame = 64;
	assert_int_equal(core_submit(&c, &w.req, &(struct pend){.batch = b}, 1000, 1u << 20), HEAPD_ELIMIT);
	assert_int_equal(c.npend, 1);
	assert_int_equal(c.out.len, len);
	assert_int_equal(c.next_id, 1);
	assert_int_equal(c.vmap.map_due, 0);
	assert_int_equal(core_submit(&c, &w.req, &(struct pend){.batch = b}, 2, 1u << 20), CORE_TOO_MANY);
	c.max_frame = WIRE_HELLO_MAX_FRAME;
	assert_int_equal(core_submit(&c, &w.req, &(struct pend){.batch = b}, 1000, 1u << 20), 0);
	assert_int_equal(c.npend, 3);
	assert_int_equal(core_pending(&c), 2);
	size_t at = len;
	uint64_t id;
	assert_int_equal(framed_op(&c, &at, &id), HEAPD__REQUEST__OP_MAP_ARENA);
	assert_int_equal(framed_op(&c, &at, &id), HEAPD__REQUEST__OP_BATCH);
	/* The map_arena's entry, popped unanswered, is no longer due. */
	struct pend p = core_pop(&c);
	assert_int_equal(p.op, HEAPD__REQUEST__OP_BATCH);
	p = core_pop(&c);
	assert_int_equal(p.op, HEAPD__REQUEST__OP_MAP_ARENA);
	assert_int_equal(c.vmap.map_due, 0);
	assert_int_equal(core_pending(&c), 1);
	heapd_batch_free(b);
	core_free(&c);
}

static void submit_release(struct core *c, heapd_ref obj, int own)
{
	struct wire_req w;
	wire_view_release(&w, obj);
	assert_int_equal(core_submit(c, &w.req, &(struct pend){.own = (uint8_t)own}, 1000, 1u << 20), 0);
}

/* Views counted as their replies are taken: an OK view one more, a
 * refused one none, an OK view_release one fewer. The library's own
 * view_release counts when queued, is no caller's, and its refusal is
 * fatal: the counts and the daemon disagree. */
static void views_counted_from_replies(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct core c;
	core_init(&c);
	const heapd_ref a = 1ull << 40, ro = a | 0x40000000u;
	int fd = arena_file(1, 1);
	submit_view(&c, a);   /* 1: map_arena, 2: view */
	submit_view(&c, a);   /* 3 */
	submit_view(&c, ro);  /* 4: refused */
	submit_release(&c, a, 0);  /* 5 */
	Heapd__ViewReply m = view_of(0, 0, PAGE, RESERVED), v = view_of(0, 4, PAGE, RESERVED);
	send_reply(sv[0], 1, HEAPD__STATUS__OK, NULL, &m, fd);
	send_reply(sv[0], 2, HEAPD__STATUS__OK, NULL, &v, -1);
	send_reply(sv[0], 3, HEAPD__STATUS__OK, NULL, &v, -1);
	send_reply(sv[0], 4, HEAPD__STATUS__BAD_REF, "view: no such object", NULL, -1);
	send_reply(sv[0], 5, HEAPD__STATUS__OK, NULL, NULL, -1);
	struct core_reply cr;
	heapd_reply r;
	take(&c, sv[1], &cr, &r);
	assert_true(cr.p.own);
	take(&c, sv[1], &cr, &r);
	assert_int_equal(vmap_views(&c.vmap, a), 1);
	take(&c, sv[1], &cr, &r);
	assert_int_equal(vmap_views(&c.vmap, a), 2);
	take(&c, sv[1], &cr, &r);
	assert_int_equal(r.status, HEAPD_EBADREF);
	assert_int_equal(vmap_views(&c.vmap, ro), 0);
	take(&c, sv[1], &cr, &r);
	assert_false(cr.fatal);
	assert_false(cr.p.own);
	assert_int_equal(vmap_views(&c.vmap, a), 1);

	/* Own: one view fewer at once, and not the caller's to take. */
	submit_release(&c, a, 1);  /* 6 */
	assert_int_equal(vmap_views(&c.vmap, a), 0);
	assert_int_equal(c.npend, 1);
	assert_int_equal(core_pending(&c), 0);
	submit_view(&c, a);  /* 7 */
	assert_int_equal(core_pending(&c), 1);
	send_reply(sv[0], 6, HEAPD__STATUS__OK, NULL, NULL, -1);
	send_reply(sv[0], 7, HEAPD__STATUS__OK, NULL, &v, -1);
	take(&c, sv[1], &cr, &r);
	assert_false(cr.fatal);
	assert_true(cr.p.own);
	assert_int_equal(vmap_views(&c.vmap, a), 0);  /* counted already */
	take(&c, sv[1], &cr, &r);
	assert_int_equal(vmap_views(&c.vmap, a), 1);
	assert_int_equal(c.nown, 0);

	/* The daemon refuses the library's own release: fatal. */
	submit_release(&c, a, 1);  /* 8 */
	send_reply(sv[0], 8, HEAPD__STATUS__NOT_FOUND, "view_release: this connection has no view of that object", NULL,
		   -1);
	take(&c, sv[1], &cr, &r);
	assert_true(cr.fatal);
	assert_int_equal(cr.status, HEAPD_EPROTO);
	assert_non_null(strstr(cr.error, "out of step"));
	assert_non_null(strstr(cr.error, "has no view of that object"));
	core_free(&c);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* A ref of the test's: i's bits spread over the handle; odd i the ref
 * of i - 1 with one bit more (as a read-only ref differs from a full one). */
static uint64_t ref_no(unsigned i)
{
	return ((uint64_t)(i / 2 * 2654435761u % 100003u + 1) << 32) | (i & 1 ? 0x40000000u : 0) | (i / 2 % 7);
}

/* Counts kept exactly, refs apart by one bit kept apart, through growth
 * and removals in a scrambled order (each moves entries back into the
 * hole it leaves); the large table freed once empty. */
static void views_counted(void **state)
{
	(void)state;
	enum { N = 6000 };
	static uint64_t want[N];
	struct vmap m;
	vmap_init(&m);
	assert_int_equal(vmap_views(&m, ref_no(0)), 0);
	vmap_unviewed(&m, ref_no(0));  /* none: nothing happens */
	size_t total = 0;
	for (unsigned round = 0; round < 3; round++)
		for (unsigned i = 0; i < N; i++)
			if (i % 3 >= round) {
				assert_int_equal(vmap_viewed(&m, ref_no(i), 64 + i), 0);
				want[i]++;
				total++;
			}
	assert_int_equal(m.nviews, N);
	assert_true(2 * m.nviews <= m.cap);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(vmap_views(&m, ref_no(i)), want[i]);
		assert_int_equal(vmap_view_len(&m, ref_no(i)), 64 + i);  /* moved with its entry */
	}
	assert_int_equal(vmap_views(&m, ref_no(N)), 0);
	assert_int_equal(vmap_view_len(&m, ref_no(N)), 0);
	for (size_t k = 0; total; k++) {
		unsigned i = (unsigned)(k * 7919u % N);
		if (!want[i])
			continue;
		vmap_unviewed(&m, ref_no(i));
		want[i]--;
		total--;
		if (k % 97 == 0)
			for (unsigned j = 0; j < N; j++)
				assert_int_equal(vmap_views(&m, ref_no(j)), want[j]);
	}
	assert_int_equal(m.nviews, 0);
	assert_null(m.views);
	assert_int_equal(m.cap, 0);
	assert_int_equal(vmap_viewed(&m, ref_no(5), 5), 0);
	assert_int_equal(vmap_views(&m, ref_no(5)), 1);
	assert_int_equal(vmap_views(&m, ref_no(4)), 0);
	vmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_fd_kept),
		cmocka_unit_test(map_and_grow),
		cmocka_unit_test(lies_are_protocol_errors),
		cmocka_unit_test(map_arena_before_first_view),
		cmocka_unit_test(map_arena_refused),
		cmocka_unit_test(batch_with_view),
		cmocka_unit_test(views_counted),
		cmocka_unit_test(views_counted_from_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
