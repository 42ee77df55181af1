/*
 * test_protocol.c - the wire protocol spoken by hand, and abused: garbage
 * bytes, a length of 4 GiB, a truncated frame, bodies that do not decode,
 * unknown operations, requests before Hello, wrong versions, forged and
 * stale refs, out-of-range offsets and slots. Each must get an error reply
 * or a closed connection; after each, a bystander's data is intact and the
 * daemon still answers.
 */
#include "daemonutil.h"

struct bystander {
	heapd *h;
	heapd_ref obj;
};

static void bystander_start(struct bystander *b, const struct daemon *d)
{
	b->h = client(d);
	assert_int_equal(heapd_alloc(b->h, 1, 8, &b->obj), 0);
	assert_int_equal(heapd_write(b->h, b->obj, 0, "intact!!", 8), 0);
	assert_int_equal(heapd_root_set(b->h, "bystander", b->obj), 0);
}

/* The bystander's object and root are as it left them, and the daemon
 * answers it. */
static void bystander_check(struct bystander *b)
{
	char buf[8];
	heapd_ref r;
	assert_int_equal(heapd_ping(b->h, NULL), 0);
	assert_int_equal(heapd_read(b->h, b->obj, 0, buf, 8), 0);
	assert_memory_equal(buf, "intact!!", 8);
	assert_int_equal(heapd_root_get(b->h, "bystander", &r), 0);
	assert_true(r == b->obj);
	assert_int_equal(heapd_release(b->h, r), 0);
}

static Heapd__Response *expect_reply(int fd, Heapd__Status status, uint64_t id)
{
	Heapd__Response *resp = raw_reply(fd);
	assert_non_null(resp);
	assert_int_equal(resp->status, status);
	assert_int_equal(resp->id, id);
	if (status != HEAPD__STATUS__OK)
		assert_true(resp->error && resp->error[0]);
	return resp;
}

static void expect_status(int fd, Heapd__Status status, uint64_t id)
{
	heapd__response__free_unpacked(expect_reply(fd, status, id), NULL);
}

static void ping(int fd, uint64_t id)
{
	Heapd__Ping p = HEAPD__PING__INIT;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.id = id;
	req.op_case = HEAPD__REQUEST__OP_PING;
	req.ping = &p;
	raw_send_request(fd, &req);
}

static void broken_streams_are_closed(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	daemon_start(&d, NULL);
	bystander_start(&b, &d);

	/* HTTP to the wrong socket: its "length" is over a GiB. */
	int fd = raw_connect(&d);
	raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	expect_status(fd, HEAPD__STATUS__LIMIT, 0);
	assert_true(raw_closed(fd));
	close(fd);
	bystander_check(&b);

	/* A length of 4 GiB - 1, after a good Hello. */
	fd = raw_connect(&d);
	raw_hello(fd);
	raw_send(fd, "\xff\xff\xff\xff", 4);
	expect_status(fd, HEAPD__STATUS__LIMIT, 0);
	assert_true(raw_closed(fd));
	close(fd);
	bystander_check(&b);

	/* A frame cut short, then the client goes away. */
	fd = raw_connect(&d);
	raw_hello(fd);
	raw_send(fd, "\0\0\0\x64" "0123456789", 14);
	close(fd);
	bystander_check(&b);

	/* Random bytes in many sizes. */
	srand(7);
	for (int i = 0; i < 50; i++) {
		uint8_t junk[512];
		for (size_t k = 0; k < sizeof junk; k++)
			junk[k] = (uint8_t)rand();
		fd = raw_connect(&d);
		if (i % 2)
			raw_hello(fd);
		send(fd, junk, 1 + (size_t)rand() % sizeof junk, MSG_NOSIGNAL);
		close(fd);
	}
	bystander_check(&b);
	heapd_close(b.h);
	daemon_stop(&d);
}

static void hello_is_required_and_checked(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	daemon_start(&d, NULL);
	bystander_start(&b, &d);

	int fd = raw_connect(&d);
	ping(fd, 5); /* before Hello */
	expect_status(fd, HEAPD__STATUS__PROTOCOL, 5);
	assert_true(raw_closed(fd));
	close(fd);

	fd = raw_connect(&d);
	Heapd__Hello hello = HEAPD__HELLO__INIT;
	hello.version = 2;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.id = 9;
	req.op_case = HEAPD__REQUEST__OP_HELLO;
	req.hello = &hello;
	raw_send_request(fd, &req);
	Heapd__Response *resp = expect_reply(fd, HEAPD__STATUS__PROTOCOL, 9);
	assert_true(strstr(resp->error, "version") != NULL);
	heapd__response__free_unpacked(resp, NULL);
	assert_true(raw_closed(fd));
	close(fd);

	/* An undecodable first frame also closes. */
	fd = raw_connect(&d);
	raw_send(fd, "\0\0\0\3\xff\xff\xff", 7);
	expect_status(fd, HEAPD__STATUS__PROTOCOL, 0);
	assert_true(raw_closed(fd));
	close(fd);

	/* A good Hello, a second one (refused, the session goes on). */
	fd = raw_connect(&d);
	hello.version = 1;
	raw_send_request(fd, &req);
	resp = expect_reply(fd, HEAPD__STATUS__OK, 9);
	assert_int_equal(resp->result_case, HEAPD__RESPONSE__RESULT_HELLO);
	assert_int_equal(resp->hello->version, 1);
	assert_true(resp->hello->session_id > 0);
	assert_int_equal(resp->hello->max_frame, 16u << 20);
	heapd__response__free_unpacked(resp, NULL);
	req.id = 10;
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__PROTOCOL, 10);
	ping(fd, 11);
	expect_status(fd, HEAPD__STATUS__OK, 11);
	close(fd);
	bystander_check(&b);
	heapd_close(b.h);
	daemon_stop(&d);
}

/* Once in step, a bad body or an unknown operation is answered and the
 * session goes on. */
static void bad_requests_are_answered(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	daemon_start(&d, NULL);
	bystander_start(&b, &d);
	int fd = raw_connect(&d);
	raw_hello(fd);

	raw_send(fd, "\0\0\0\5\xff\xff\xff\xff\xff", 9); /* does not decode */
	expect_status(fd, HEAPD__STATUS__PROTOCOL, 0);
	raw_send(fd, "\0\0\0\0", 4); /* empty: no operation */
	expect_status(fd, HEAPD__STATUS__PROTOCOL, 0);
	/* id 7 and field 99 (an operation from the future) */
	raw_send(fd, "\0\0\0\5\x08\x07\x98\x06\x01", 9);
	Heapd__Response *resp = expect_reply(fd, HEAPD__STATUS__PROTOCOL, 7);
	assert_true(strstr(resp->error, "unknown") != NULL);
	heapd__response__free_unpacked(resp, NULL);

	/* Forged, null and stale refs; out-of-range slots and offsets. */
	Heapd__Read rd = HEAPD__READ__INIT;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.op_case = HEAPD__REQUEST__OP_READ;
	req.read = &rd;
	uint64_t forged[] = {0, 1, 0xffffffffffffffffull, b.obj ^ 0xff00000000ull, b.obj + 1, b.obj & 0xffffffffull};
	for (unsigned i = 0; i < sizeof forged / sizeof forged[0]; i++) {
		req.id = 100 + i;
		rd.obj = forged[i];
		rd.length = 1;
		raw_send_request(fd, &req);
		expect_status(fd, HEAPD__STATUS__BAD_REF, 100 + i);
	}
	req.id = 200;
	rd.obj = b.obj;
	rd.offset = 8;
	rd.length = 1;
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__RANGE, 200);
	req.id = 201;
	rd.offset = 0xffffffff;
	rd.length = 2;
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__RANGE, 201);
	Heapd__SetRef sr = HEAPD__SET_REF__INIT;
	sr.obj = b.obj;
	sr.slot = 1;
	req.id = 202;
	req.op_case = HEAPD__REQUEST__OP_SET_REF;
	req.set_ref = &sr;
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__RANGE, 202);
	sr.slot = 0;
	sr.target = b.obj + 0x100000000ull; /* wrong tag */
	req.id = 203;
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__BAD_REF, 203);

	/* A stale ref: allocated here, released, collected. */
	Heapd__Alloc al = HEAPD__ALLOC__INIT;
	al.nbytes = 8;
	req.id = 300;
	req.op_case = HEAPD__REQUEST__OP_ALLOC;
	req.alloc = &al;
	raw_send_request(fd, &req);
	resp = expect_reply(fd, HEAPD__STATUS__OK, 300);
	uint64_t stale = resp->ref;
	heapd__response__free_unpacked(resp, NULL);
	Heapd__Release rl = HEAPD__RELEASE__INIT;
	rl.obj = stale;
	req.id = 301;
	req.op_case = HEAPD__REQUEST__OP_RELEASE;
	req.release = &rl;
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__OK, 301);
	assert_int_equal(heapd_gc(b.h), 0);
	req.id = 302;
	req.op_case = HEAPD__REQUEST__OP_READ;
	req.read = &rd;
	rd.obj = stale;
	rd.offset = 0;
	rd.length = 1;
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__BAD_REF, 302);
	ping(fd, 303);
	expect_status(fd, HEAPD__STATUS__OK, 303);
	close(fd);
	bystander_check(&b);
	heapd_close(b.h);
	daemon_stop(&d);
}

/* Pipelining: many requests in one write, answered in order, ids echoed;
 * a frame of exactly max_frame_size is taken, one byte more closes. */
static void pipelining_and_frame_limit(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	daemon_start(&d, "--max-frame-size", "64K", NULL);
	bystander_start(&b, &d);
	assert_int_equal(heapd_max_frame(b.h), 65536);
	int fd = raw_connect(&d);
	raw_hello(fd);
	enum { N = 500 };
	uint8_t *all = malloc(N * 16);
	size_t len = 0;
	for (uint64_t i = 0; i < N; i++) {
		Heapd__Ping p = HEAPD__PING__INIT;
		Heapd__Request req = HEAPD__REQUEST__INIT;
		req.id = 1000 + i;
		req.op_case = HEAPD__REQUEST__OP_PING;
		req.ping = &p;
		size_t n = heapd__request__get_packed_size(&req);
		all[len] = all[len + 1] = all[len + 2] = 0;
		all[len + 3] = (uint8_t)n;
		heapd__request__pack(&req, all + len + 4);
		len += 4 + n;
	}
	raw_send(fd, all, len);
	free(all);
	for (uint64_t i = 0; i < N; i++)
		expect_status(fd, HEAPD__STATUS__OK, 1000 + i);

	/* A write request that makes a frame of exactly 65536 bytes. */
	heapd_ref big;
	assert_int_equal(heapd_alloc(b.h, 0, 65536, &big), 0);
	Heapd__Write w = HEAPD__WRITE__INIT;
	w.obj = big;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.id = 77;
	req.op_case = HEAPD__REQUEST__OP_WRITE;
	req.write = &w;
	uint8_t *data = calloc(1, 65536);
	w.data.data = data;
	w.data.len = 65536 - 32;
	while (heapd__request__get_packed_size(&req) < 65536)
		w.data.len++;
	assert_int_equal(heapd__request__get_packed_size(&req), 65536);
	raw_send_request(fd, &req);
	expect_status(fd, HEAPD__STATUS__OK, 77);
	w.data.len++;
	/* heapd answers the header and closes: the rest of the frame may
	 * meet a closed socket, so how much of it went is not checked. */
	uint8_t *frame = malloc(4 + heapd__request__get_packed_size(&req));
	assert_non_null(frame);
	(void)send(fd, frame, put_request(frame, &req), MSG_NOSIGNAL);
	free(frame);
	expect_status(fd, HEAPD__STATUS__LIMIT, 0);
	assert_true(raw_closed(fd));
	close(fd);
	free(data);
	/* A read reply that would not fit in a frame is refused, not sent. */
	char *buf = malloc(65536);
	assert_int_equal(heapd_read(b.h, big, 0, buf, 65536), HEAPD_ELIMIT);
	free(buf);
	bystander_check(&b);
	heapd_close(b.h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(broken_streams_are_closed),
		cmocka_unit_test(hello_is_required_and_checked),
		cmocka_unit_test(bad_requests_are_answered),
		cmocka_unit_test(pipelining_and_frame_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
