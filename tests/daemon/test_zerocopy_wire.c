/*
 * test_zerocopy_wire.c - map_arena on the wire (issue 19): the arena's
 * descriptor comes as SCM_RIGHTS with the first byte of the map_arena
 * reply and with no other read, whatever is in flight before it, and once
 * per connection.
 *
 * Two ways to the same reply. Held: map_arena behind replies the client
 * has not read waits until they are all handed to the kernel. Socket
 * full: map_arena when nothing is left to hand over but the kernel's
 * buffer is full, so that the sendmsg carrying the descriptor would block
 * and heapd polls for room (daemon/conn.c). The second is reached on
 * purpose: a first connection finds how many replies fill the buffer (the
 * one after them does not arrive), a second sends exactly that many, each
 * arriving whole, before map_arena.
 *
 * Frames are read one at a time, the length then the body, with recvmsg:
 * a descriptor arriving with a body, or with any other frame, fails.
 * Also view_release as heapd answers it, which libheapd does not ask when
 * it knows of no view.
 */
#include <sys/ioctl.h>

#include "zcutil.h"

/* Bytes the daemon has sent on sock that the test has not read. */
static size_t unread(int sock)
{
	int n = 0;
	assert_int_equal(ioctl(sock, FIONREAD, &n), 0);
	return (size_t)n;
}

/* Waits up to ms for unread(sock) to reach want; returns what it is. */
static size_t wait_unread(int sock, size_t want, int ms)
{
	size_t n;
	for (int i = 0; (n = unread(sock)) < want && i < ms; i++)
		sleep_ms(1);
	return n;
}

static void send_read(int sock, uint64_t id, uint64_t ref, uint32_t len)
{
	Heapd__Read rd = HEAPD__READ__INIT;
	rd.obj = ref;
	rd.length = len;
	Heapd__Request req = raw_request(id, HEAPD__REQUEST__OP_READ, &rd);
	raw_send_request(sock, &req);
}

static void send_ping(int sock, uint64_t id)
{
	Heapd__Ping ping = HEAPD__PING__INIT;
	Heapd__Request req = raw_request(id, HEAPD__REQUEST__OP_PING, &ping);
	raw_send_request(sock, &req);
}

/* The next reply, which must be id's, OK, and bring no descriptor. */
static Heapd__Response *expect_plain(int sock, uint64_t id)
{
	int fd;
	Heapd__Response *resp = rx_frame(sock, &fd);
	if (fd >= 0)
		fail_msg("a descriptor came with reply %llu (want %llu)", (unsigned long long)resp->id,
			 (unsigned long long)id);
	assert_int_equal(resp->id, id);
	if (resp->status != HEAPD__STATUS__OK)
		fail_msg("reply %llu: %s", (unsigned long long)id, resp->error);
	return resp;
}

/* A read's reply: len bytes of pattern seed. */
static void expect_read(int sock, uint64_t id, uint32_t len, unsigned seed)
{
	Heapd__Response *resp = expect_plain(sock, id);
	assert_int_equal(resp->result_case, HEAPD__RESPONSE__RESULT_DATA);
	assert_int_equal(resp->data.len, len);
	assert_pattern(resp->data.data, len, seed);
	heapd__response__free_unpacked(resp, NULL);
}

/* The map_arena reply, id's: the descriptor came with its first byte;
 * returns it and the arena's size. */
static int expect_map_arena(int sock, uint64_t id, uint64_t *size)
{
	int fd;
	Heapd__Response *resp = rx_frame(sock, &fd);
	assert_int_equal(resp->id, id);
	assert_int_equal(resp->status, HEAPD__STATUS__OK);
	assert_int_equal(resp->result_case, HEAPD__RESPONSE__RESULT_VIEW);
	if (fd < 0)
		fail_msg("no descriptor with the map_arena reply");
	*size = resp->view->arena_size;
	assert_true(*size > 0 && resp->view->arena_reserved >= *size);
	assert_true((uint64_t)fstat_of(fd).st_size >= *size);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);  /* MSG_CMSG_CLOEXEC */
	heapd__response__free_unpacked(resp, NULL);
	return fd;
}

/* A view of ref through the raw session; its bytes, read through a
 * mapping of fd, are pattern seed's. */
static void view_through(int sock, uint64_t id, int fd, uint64_t ref, uint32_t len, unsigned seed)
{
	Heapd__Response *resp = raw_view(sock, id, ref);
	assert_int_equal(resp->status, HEAPD__STATUS__OK);
	assert_int_equal(resp->view->length, len);
	size_t size = resp->view->arena_size;
	const uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_pattern(m + resp->view->offset, len, seed);
	munmap((void *)m, size);
	heapd__response__free_unpacked(resp, NULL);
}

/* A second map_arena on the connection: OK, the sizes, no descriptor. */
static void map_arena_again(int sock, uint64_t id)
{
	raw_send_map_arena(sock, id);
	Heapd__Response *resp = expect_plain(sock, id);
	assert_int_equal(resp->result_case, HEAPD__RESPONSE__RESULT_VIEW);
	assert_true(resp->view->arena_size > 0);
	heapd__response__free_unpacked(resp, NULL);
}

/* map_arena behind 40 MiB of unread replies (five times
 * max_output_buffer: heapd stops reading meanwhile), then a view and a
 * ping: every reply in order, the descriptor with map_arena's. */
static void map_arena_behind_unread_replies(void **state)
{
	(void)state;
	enum { READS = 40, LEN = 1 << 20 };
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", NULL);
	heapd *h = client(&d);
	heapd_ref big = alloc_pattern(h, 0, LEN, 1), small = sealed_pattern(h, 5000, 2);
	int sock = raw_connect(&d);
	raw_hello(sock);
	uint64_t id = 2;
	for (int i = 0; i < READS; i++)
		send_read(sock, id++, big, LEN);
	raw_send_map_arena(sock, id++);
	Heapd__View v = HEAPD__VIEW__INIT;
	v.obj = small;
	Heapd__Request req = raw_request(id++, HEAPD__REQUEST__OP_VIEW, &v);
	raw_send_request(sock, &req);
	send_ping(sock, id++);
	sleep_ms(200);  /* let heapd fill what it can */

	id = 2;
	for (int i = 0; i < READS; i++)
		expect_read(sock, id++, LEN, 1);
	uint64_t size;
	int fd = expect_map_arena(sock, id++, &size);
	Heapd__Response *resp = expect_plain(sock, id++);
	assert_int_equal(resp->view->length, 5000);
	const uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_pattern(m + resp->view->offset, 5000, 2);
	munmap((void *)m, size);
	heapd__response__free_unpacked(resp, NULL);
	heapd__response__free_unpacked(expect_plain(sock, id++), NULL);

	/* The session goes on; a second map_arena sends no descriptor. */
	map_arena_again(sock, id++);
	view_through(sock, id++, fd, small, 5000, 2);
	raw_ping(sock, id++);
	close(fd);
	close(sock);
	heapd_close(h);
	daemon_stop(&d);
}

/* Sends reads of ref, one at a time, each reply arriving whole before
 * the next is sent (the daemon writes each alone), up to most of them or
 * until one does not arrive in 300 ms; returns how many arrived whole. */
static int fill_with_replies(int sock, heapd_ref ref, uint32_t len, int most, size_t *frame)
{
	size_t before = unread(sock);
	for (int i = 0; i < most; i++) {
		send_read(sock, 2 + (uint64_t)i, ref, len);
		if (!*frame) {  /* the first one says how long a reply is */
			assert_true(wait_unread(sock, before + len, 2000) >= before + len);
			sleep_ms(20);
			*frame = unread(sock) - before;
		}
		size_t want = before + (size_t)(i + 1) * *frame;
		if (wait_unread(sock, want, 300) < want)
			return i;
	}
	return most;
}

/* map_arena when heapd has handed everything to the kernel but the
 * socket's buffer is full: the reply waits for room (it does not arrive
 * while the test reads nothing), then comes first, with the descriptor,
 * before the ping sent after it. */
static void map_arena_on_a_full_socket(void **state)
{
	(void)state;
	enum { LEN = 16 * 1024, MOST = 4096 };
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", NULL);
	heapd *h = client(&d);
	heapd_ref obj = alloc_pattern(h, 0, LEN, 3), small = sealed_pattern(h, 100, 4);

	size_t frame = 0;
	int probe = raw_connect(&d);
	raw_hello(probe);
	int fit = fill_with_replies(probe, obj, LEN, MOST, &frame);
	close(probe);
	assert_true(fit > 0 && fit < MOST);

	int sock = raw_connect(&d);
	raw_hello(sock);
	assert_int_equal(fill_with_replies(sock, obj, LEN, fit, &frame), fit);
	size_t full = unread(sock);
	uint64_t id = 2 + (uint64_t)fit;
	raw_send_map_arena(sock, id);
	send_ping(sock, id + 1);
	sleep_ms(300);
	if (unread(sock) != full)
		fail_msg("%zu bytes came after map_arena although the socket was full (%d replies of %zu)",
			 unread(sock) - full, fit, frame);

	for (int i = 0; i < fit; i++)
		expect_read(sock, 2 + (uint64_t)i, LEN, 3);
	uint64_t size;
	int fd = expect_map_arena(sock, id, &size);
	heapd__response__free_unpacked(expect_plain(sock, id + 1), NULL);
	view_through(sock, id + 2, fd, small, 100, 4);
	map_arena_again(sock, id + 3);
	raw_ping(sock, id + 4);
	close(fd);
	close(sock);
	heapd_close(h);
	daemon_stop(&d);
}

/* The request's reply, which must be id's; its status. */
static int raw_status(int sock, Heapd__Request *req)
{
	Heapd__Response *resp = raw_call(sock, req);
	int st = resp->status;
	heapd__response__free_unpacked(resp, NULL);
	return st;
}

/* view_release and release as heapd answers them (libheapd answers a
 * view_release with no view itself): each ends its own kind only,
 * NOT_FOUND when there is none; a view without map_arena is allowed. */
static void view_release_on_the_wire(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", NULL);
	heapd *h = client(&d);
	heapd_ref obj = sealed_pattern(h, 100, 5);
	int sock = raw_connect(&d);
	raw_hello(sock);
	Heapd__ViewRelease vr = HEAPD__VIEW_RELEASE__INIT;
	vr.obj = obj;
	Heapd__Release rel = HEAPD__RELEASE__INIT;
	rel.obj = obj;
	Heapd__Request vreq = raw_request(2, HEAPD__REQUEST__OP_VIEW_RELEASE, &vr);
	assert_int_equal(raw_status(sock, &vreq), HEAPD__STATUS__NOT_FOUND);
	Heapd__Response *resp = raw_view(sock, 3, obj);
	assert_int_equal(resp->status, HEAPD__STATUS__OK);
	heapd__response__free_unpacked(resp, NULL);
	Heapd__Request rreq = raw_request(4, HEAPD__REQUEST__OP_RELEASE, &rel);
	assert_int_equal(raw_status(sock, &rreq), HEAPD__STATUS__NOT_FOUND);  /* a view is no hold */
	vreq.id = 5;
	assert_int_equal(raw_status(sock, &vreq), HEAPD__STATUS__OK);
	vreq.id = 6;
	assert_int_equal(raw_status(sock, &vreq), HEAPD__STATUS__NOT_FOUND);
	vr.obj = 0x1234567800000040ull;  /* forged */
	vreq.id = 7;
	assert_int_equal(raw_status(sock, &vreq), HEAPD__STATUS__NOT_FOUND);
	close(sock);
	heapd_close(h);
	daemon_stop(&d);
}

/* Descriptors heapd (pid) has open. */
static int open_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	assert_non_null(dir);
	int n = 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* Clients that leave with map_arena pending: held behind unread replies,
 * and waiting for room on a full socket (a poll on a dup of the socket).
 * heapd goes on, and keeps no descriptor of theirs. */
static void clients_leave_with_map_arena_pending(void **state)
{
	(void)state;
	enum { LEN = 16 * 1024, MOST = 4096 };
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", NULL);
	heapd *h = client(&d);
	heapd_ref obj = alloc_pattern(h, 0, LEN, 3), big = alloc_pattern(h, 0, 1 << 20, 1);
	size_t frame = 0;
	int probe = raw_connect(&d);
	raw_hello(probe);
	int fit = fill_with_replies(probe, obj, LEN, MOST, &frame);
	close(probe);
	/* heapd opens the arena read-only at the first map_arena, for good */
	int first = raw_connect(&d);
	raw_hello(first);
	raw_send_map_arena(first, 2);
	uint64_t size;
	close(expect_map_arena(first, 2, &size));
	close(first);
	sleep_ms(100);
	int fds = open_fds(d.pid);
	for (int round = 0; round < 5; round++) {
		int held = raw_connect(&d), full = raw_connect(&d);
		raw_hello(held);
		raw_hello(full);
		for (int i = 0; i < 20; i++)
			send_read(held, 2 + (uint64_t)i, big, 1 << 20);
		raw_send_map_arena(held, 22);
		assert_int_equal(fill_with_replies(full, obj, LEN, fit, &frame), fit);
		raw_send_map_arena(full, 2 + (uint64_t)fit);
		sleep_ms(100);
		close(held);
		close(full);
	}
	assert_int_equal(heapd_ping(h, NULL), 0);
	int now = open_fds(d.pid);
	for (int i = 0; i < 100 && now > fds; i++) {
		sleep_ms(20);
		now = open_fds(d.pid);
	}
	if (now != fds)
		fail_msg("heapd had %d descriptors open, now %d", fds, now);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(map_arena_behind_unread_replies),
		cmocka_unit_test(map_arena_on_a_full_socket),
		cmocka_unit_test(clients_leave_with_map_arena_pending),
		cmocka_unit_test(view_release_on_the_wire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
