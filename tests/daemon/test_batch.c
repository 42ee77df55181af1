/*
 * test_batch.c - batches against a real heapd: a linked structure in one
 * round trip, a failure in the middle, references that name no fitting
 * op, ops that have no place in a batch, the op limit, a reply too big,
 * holds and collections between ops. Each error leaves the connection
 * usable. Raw frames where libheapd would not send what is tested.
 */
#include "daemonutil.h"

static int exec_ok(heapd *h, heapd_batch *b)
{
	int err = heapd_batch_exec(h, b);
	if (err)
		fail_msg("batch: %s", heapd_errmsg(h));
	return err;
}

static heapd_ref result_ref(const heapd_batch *b, int i)
{
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, i, &r), 0);
	return r.ref;
}

/* The example: alloc A, alloc B, A[0] = B, write B, root "x" = A;
 * then read back through the one-at-a-time calls. */
static void linked_structure_in_one_round_trip(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	assert_non_null(b);
	int A = heapd_batch_alloc(b, 2, 8);
	int B = heapd_batch_alloc(b, 0, 16);
	assert_int_equal(A, 0);
	assert_int_equal(B, 1);
	assert_int_equal(heapd_batch_set_ref(b, heapd_batch_result(A), 0, heapd_batch_result(B)), 2);
	char text[16] = "linked in one";
	assert_int_equal(heapd_batch_write(b, heapd_batch_result(B), 0, text, sizeof text), 3);
	memset(text, 0, sizeof text); /* copied: the buffer may go */
	assert_int_equal(heapd_batch_root_set(b, "x", heapd_batch_result(A)), 4);
	int C = heapd_batch_alloc_into(b, heapd_batch_result(A), 1, 0, 4, "data", 4);
	int G = heapd_batch_get_ref(b, heapd_batch_result(A), 1);
	int R = heapd_batch_read(b, heapd_batch_result(G), 0, 4);
	int S = heapd_batch_get_stats(b);
	assert_int_equal(heapd_batch_count(b), 9);
	exec_ok(h, b);
	assert_int_equal(heapd_batch_failed(b), -1);
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, R, &r), 0);
	assert_int_equal(r.len, 4);
	assert_memory_equal(r.data, "data", 4);
	assert_int_equal(heapd_batch_reply(b, S, &r), 0);
	assert_non_null(r.stats);
	assert_int_equal(r.stats->holds, 3); /* A, B, and C from get_ref */
	assert_int_equal(r.stats->named_roots, 1);
	assert_int_equal(heapd_batch_reply(b, 3, &r), 0);
	assert_int_equal(r.ref, 0);
	assert_string_equal(r.error, "");
	assert_int_equal(heapd_batch_reply(b, 9, &r), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_reply(b, -1, &r), HEAPD_EINVAL);
	heapd_ref a = result_ref(b, A), bb = result_ref(b, B), c = result_ref(b, C);
	assert_true(a && bb && c && a != bb && c != a);
	assert_true(result_ref(b, G) == c);

	/* Read back through the plain API, after the holds went and a
	 * collection ran: the root keeps it all. */
	assert_int_equal(heapd_release(h, a), 0);
	assert_int_equal(heapd_release(h, bb), 0);
	assert_int_equal(heapd_release(h, c), 0);
	assert_int_equal(heapd_gc(h), 0);
	heapd_ref got, got2;
	assert_int_equal(heapd_root_get(h, "x", &got), 0);
	assert_true(got == a);
	assert_int_equal(heapd_get_ref(h, a, 0, &got), 0);
	assert_true(got == bb);
	char buf[16];
	assert_int_equal(heapd_read(h, bb, 0, buf, sizeof buf), 0);
	assert_string_equal(buf, "linked in one");
	assert_int_equal(heapd_get_ref(h, a, 1, &got2), 0);
	assert_true(got2 == c);
	assert_int_equal(heapd_read(h, c, 0, buf, 4), 0);
	assert_memory_equal(buf, "data", 4);

	/* Run again as it is: a second structure, results replaced. */
	exec_ok(h, b);
	assert_true(result_ref(b, A) != a);
	assert_int_equal(heapd_root_get(h, "x", &got), 0);
	assert_true(got == result_ref(b, A));
	heapd_batch_reset(b);
	assert_int_equal(heapd_batch_count(b), 0);
	assert_int_equal(heapd_batch_reply(b, 0, &r), HEAPD_EINVAL);
	exec_ok(h, b); /* empty: nothing to do, OK */
	/* A root's mode and group, in a batch as alone. */
	assert_int_equal(heapd_batch_root_chmod(b, "x", 0600), 0);
	assert_int_equal(heapd_batch_root_chown(b, "x", HEAPD_ID_KEEP, getgid()), 1);
	exec_ok(h, b);
	heapd_root_info *info;
	size_t n;
	assert_int_equal(heapd_root_list_info(h, &info, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_true(info[0].uid == getuid() && info[0].gid == getgid() && info[0].mode == 0600);
	heapd_free_root_info(info);
	heapd_batch_free(b);
	heapd_batch_free(NULL);
	heapd_close(h);
	daemon_stop(&d);
}

/* A failing op in the middle: the ones before stand, the rest are not
 * run, and the status says which failed. */
static void failure_in_the_middle(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	int A = heapd_batch_alloc(b, 0, 8);
	heapd_batch_write(b, heapd_batch_result(A), 0, "stands", 6);
	heapd_batch_read(b, heapd_batch_result(A), 4, 8); /* past the end */
	int B = heapd_batch_alloc(b, 0, 8);
	heapd_batch_root_set(b, "y", heapd_batch_result(B));
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ERANGE);
	assert_int_equal(heapd_errcode(h), HEAPD_ERANGE);
	assert_int_equal(heapd_batch_failed(b), 2);
	assert_non_null(strstr(heapd_errmsg(h), "batch op 2: read: offset 4 + length 8 is past the object's 8 data bytes"));
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, 0, &r), 0);
	heapd_ref a = r.ref;
	assert_int_equal(heapd_batch_reply(b, 1, &r), 0);
	assert_int_equal(heapd_batch_reply(b, 2, &r), HEAPD_ERANGE);
	assert_non_null(strstr(r.error, "read"));
	assert_int_equal(heapd_batch_reply(b, 3, &r), HEAPD_ESKIPPED);
	assert_int_equal(r.ref, 0);
	assert_string_equal(r.error, heapd_strerror(HEAPD_ESKIPPED));
	assert_int_equal(heapd_batch_reply(b, 4, &r), HEAPD_ESKIPPED);
	/* What ran stands; what was skipped did not happen. */
	char buf[6];
	assert_int_equal(heapd_read(h, a, 0, buf, 6), 0);
	assert_memory_equal(buf, "stands", 6);
	heapd_ref got;
	assert_int_equal(heapd_root_get(h, "y", &got), HEAPD_ENOTFOUND);
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->holds, 1);
	assert_int_equal(st->heap_objects, 1);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* Refs to a later op, to itself, to an op that returns no ref, to no op:
 * INVALID for that op. An op naming one that failed is not run. */
static void bad_references(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	static const struct {
		int later, self, write, none;
	} cases[] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		heapd_batch_reset(b);
		int A = heapd_batch_alloc(b, 1, 8);
		int W = heapd_batch_write(b, heapd_batch_result(A), 0, "w", 1);
		heapd_ref bad = cases[k].later ? heapd_batch_result(3)
			: cases[k].self ? heapd_batch_result(2)
			: cases[k].write ? heapd_batch_result(W)
			: heapd_batch_result(HEAPD_ENOBUFS); /* an adder's error */
		heapd_batch_set_ref(b, heapd_batch_result(A), 0, bad);
		heapd_batch_alloc(b, 0, 8);
		assert_int_equal(heapd_batch_exec(h, b), HEAPD_EINVAL);
		assert_int_equal(heapd_batch_failed(b), 2);
		heapd_reply r;
		assert_int_equal(heapd_batch_reply(b, 2, &r), HEAPD_EINVAL);
		assert_null(strstr(r.error, "_from")); /* the C API's names, and its numbers */
		char want[96];
		snprintf(want, sizeof want, "set_ref: target is the result of op %d, which %s", cases[k].later ? 3
			 : cases[k].self ? 2 : cases[k].write ? W : -1,
			 cases[k].write ? "is not a ref" : "does not come before this op (2)");
		if (!cases[k].none && !strstr(r.error, want))
			fail_msg("\"%s\" does not say \"%s\"", r.error, want);
		assert_non_null(strstr(r.error, cases[k].write ? "not a ref" : "does not come before this op (2)"));
		assert_int_equal(heapd_batch_reply(b, 3, &r), HEAPD_ESKIPPED);
		assert_int_equal(heapd_ping(h, NULL), 0);
	}
	/* Naming an op that failed: it is not run. */
	heapd_batch_reset(b);
	int F = heapd_batch_root_get(b, "nothing");
	heapd_batch_read(b, heapd_batch_result(F), 0, 1);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_batch_failed(b), 0);
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, 1, &r), HEAPD_ESKIPPED);
	/* A get_ref of an empty slot names null. */
	heapd_batch_reset(b);
	int A = heapd_batch_alloc(b, 1, 8);
	int G = heapd_batch_get_ref(b, heapd_batch_result(A), 0);
	heapd_batch_set_ref(b, heapd_batch_result(A), 0, heapd_batch_result(G)); /* clears */
	heapd_batch_read(b, heapd_batch_result(G), 0, 1);                        /* null */
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_EBADREF);
	assert_int_equal(heapd_batch_failed(b), 3);
	/* Literal refs work as well; a NULL name is refused at once. */
	heapd_ref a = result_ref(b, A);
	heapd_batch_reset(b);
	assert_int_equal(heapd_batch_root_set(b, NULL, a), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_root_get(b, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_root_chmod(b, NULL, 0), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_root_chown(b, NULL, 0, 0), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_count(b), 0);
	heapd_batch_write(b, a, 0, "lit", 3);
	heapd_batch_read(b, a, 0, 3);
	heapd_batch_release(b, a);
	heapd_batch_release(b, a);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ENOTFOUND); /* one hold only */
	assert_int_equal(heapd_batch_failed(b), 3);
	assert_int_equal(heapd_batch_reply(b, 1, &r), 0);
	assert_memory_equal(r.data, "lit", 3);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* Over max_batch_ops: refused whole, nothing ran. At it: fine. */
static void op_limit(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-batch-ops", "10", NULL);
	heapd *h = client(&d);
	assert_int_equal(heapd_max_batch_ops(h), 10);
	heapd_batch *b = heapd_batch_new();
	for (int i = 0; i < 11; i++)
		assert_int_equal(heapd_batch_alloc(b, 0, 8), i);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(h), "max_batch_ops 10"));
	assert_int_equal(heapd_batch_failed(b), -1);
	heapd_reply r;
	for (int i = 0; i < 11; i++)
		assert_int_equal(heapd_batch_reply(b, i, &r), HEAPD_ESKIPPED);
	assert_int_equal(stats_of(h)->heap_objects, 0);
	heapd_batch_reset(b);
	for (int i = 0; i < 10; i++)
		heapd_batch_alloc(b, 0, 8);
	exec_ok(h, b);
	assert_int_equal(stats_of(h)->holds, 10);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);

	/* The default, 1024, in one batch. */
	daemon_start(&d, NULL);
	h = client(&d);
	assert_int_equal(heapd_max_batch_ops(h), 1024);
	b = heapd_batch_new();
	int prev = heapd_batch_alloc(b, 1, 8);
	for (int i = 1; i < 1024; i++)
		prev = heapd_batch_alloc_into(b, heapd_batch_result(prev), 0, 1, 8, &i, sizeof i);
	exec_ok(h, b);
	heapd_batch_alloc(b, 0, 8);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ELIMIT);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);

	/* The most max_batch_ops allows, of the smallest ops (4 bytes each on
	 * the wire, ~200 decoded): within what decoding may take. */
	daemon_start(&d, "--max-batch-ops", "65536", "--max-frame-size", "1M", NULL);
	h = client(&d);
	b = heapd_batch_new();
	for (int i = 0; i < 65536; i++)
		heapd_batch_alloc(b, 0, 0);
	exec_ok(h, b);
	assert_int_equal(stats_of(h)->holds, 65536);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* A batch's reply must fit in one frame: reads that would not fit fail
 * with ELIMIT (what ran before stands), and a batch too long to answer
 * at all is refused whole. */
static void reply_too_big(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-frame-size", "64K", NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	int A = heapd_batch_alloc(b, 0, 40000);
	heapd_batch_read(b, heapd_batch_result(A), 0, 40000);
	heapd_batch_read(b, heapd_batch_result(A), 0, 40000);
	heapd_batch_alloc(b, 0, 8);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ELIMIT);
	assert_int_equal(heapd_batch_failed(b), 2);
	assert_non_null(strstr(heapd_errmsg(h), "batch op 2: read"));
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, 1, &r), 0);
	assert_int_equal(r.len, 40000);
	assert_int_equal(heapd_batch_reply(b, 3, &r), HEAPD_ESKIPPED);
	assert_int_equal(stats_of(h)->heap_objects, 1);
	assert_int_equal(heapd_ping(h, NULL), 0);
	/* Alone, each read fits. */
	heapd_ref a = result_ref(b, 0);
	heapd_batch_reset(b);
	heapd_batch_read(b, a, 0, 40000);
	exec_ok(h, b);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);

	/* max_frame_size 4 KiB: 800 get_stats ops fit in a request, but
	 * their SKIPPED results, if one failed, would not fit in a reply. */
	daemon_start(&d, "--max-frame-size", "4K", NULL);
	h = client(&d);
	b = heapd_batch_new();
	for (int i = 0; i < 800; i++)
		heapd_batch_get_stats(b);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(h), "cannot fit in max_frame_size"));
	assert_int_equal(heapd_batch_failed(b), -1);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* Holds are as for the calls alone, and each is taken before the next op
 * runs: a chain of 1000 objects built in one batch, each stored in the
 * one before it, while the collector runs (GOGC 1, churn before), is all
 * there afterwards. */
static void holds_and_collections(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-percent", "1", "--gc-slice-us", "1", "--max-batch-ops", "2000", NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	for (int round = 0; round < 3; round++) {
		heapd_batch_reset(b);
		for (int i = 0; i < 1000; i++)
			heapd_batch_alloc(b, 0, 1024); /* garbage once released */
		exec_ok(h, b);
		for (int i = 0; i < 1000; i++)
			assert_int_equal(heapd_release(h, result_ref(b, i)), 0);
	}
	uint64_t cycles = stats_of(h)->num_gc;
	heapd_batch_reset(b);
	int prev = heapd_batch_alloc(b, 1, 4);
	for (int i = 1; i < 1000; i++) {
		heapd_batch_alloc(b, 0, 2048); /* churn: assists */
		prev = heapd_batch_alloc_into(b, heapd_batch_result(prev), 0, 1, 4, &i, sizeof i);
	}
	exec_ok(h, b);
	heapd_ref head = result_ref(b, 0), cur = head;
	for (int i = 1; i < 1000; i++) {
		heapd_ref next;
		assert_int_equal(heapd_get_ref(h, cur, 0, &next), 0);
		assert_true(next != 0);
		int v = -1;
		assert_int_equal(heapd_read(h, next, 0, &v, sizeof v), 0);
		assert_int_equal(v, i);
		cur = next;
	}
	assert_true(stats_of(h)->num_gc > cycles);

	/* An op may drop a hold an earlier op took; the object is then
	 * garbage, as it would be between two calls. */
	heapd_batch_reset(b);
	int A = heapd_batch_alloc(b, 0, 8);
	heapd_batch_release(b, heapd_batch_result(A));
	heapd_batch_write(b, heapd_batch_result(A), 0, "gone", 4);
	exec_ok(h, b);
	heapd_ref a = result_ref(b, A);
	assert_int_equal(heapd_gc(h), 0);
	char buf[4];
	assert_int_equal(heapd_read(h, a, 0, buf, 4), HEAPD_EBADREF);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* ---- raw frames: what libheapd would not send ---- */

static Heapd__Response *send_batch(int fd, uint64_t id, Heapd__BatchOp **ops, size_t n)
{
	Heapd__Batch batch = HEAPD__BATCH__INIT;
	batch.n_ops = n;
	batch.ops = ops;
	Heapd__Request req = raw_request(id, HEAPD__REQUEST__OP_BATCH, &batch);
	return raw_call(fd, &req);
}

/* The one op of a batch whose reply is resp failed with INVALID and a
 * message holding want. */
static void invalid_op(Heapd__Response *resp, size_t failed, const char *want)
{
	assert_int_equal(resp->status, HEAPD__STATUS__INVALID);
	assert_int_equal(resp->result_case, HEAPD__RESPONSE__RESULT_BATCH);
	assert_int_equal(resp->batch->failed, failed);
	Heapd__Response *r = resp->batch->results[failed - 1];
	assert_int_equal(r->status, HEAPD__STATUS__INVALID);
	if (!strstr(r->error, want))
		fail_msg("\"%s\" does not say \"%s\"", r->error, want);
	assert_non_null(strstr(resp->error, want));
	heapd__response__free_unpacked(resp, NULL);
}

/* Puts before p[*pos] the header of a length-delimited field holding the
 * len bytes from there on. */
static void prepend_field(uint8_t *p, size_t *pos, uint32_t field, size_t len)
{
	uint8_t head[16];
	size_t k = put_varint(head, (uint64_t)field << 3 | 2);
	k += put_varint(head + k, len);
	*pos -= k;
	memcpy(p + *pos, head, k);
}

/* Hello, ping, root_list, gc, free_os_memory, batch and uid_stats have
 * no place in a batch (BatchOp has no field for them): INVALID for that
 * op, however deep a nesting is sent. */
static void ops_without_a_place(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	int fd = raw_connect(&d);
	raw_hello(fd);
	static const struct {
		uint32_t field;
		const char *name;
	} foreign[] = {{2, "hello"}, {3, "ping"}, {12, "root_list"}, {13, "gc"}, {14, "free_os_memory"},
		       {16, "batch"}, {17, "uid_stats"}, {99, "an unknown operation"}};
	uint64_t id = 2;
	Heapd__Alloc alloc = HEAPD__ALLOC__INIT;
	alloc.nbytes = 8;
	Heapd__BatchOp first = HEAPD__BATCH_OP__INIT;
	first.op_case = HEAPD__BATCH_OP__OP_ALLOC;
	first.alloc = &alloc;
	for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
		/* protobuf-c packs an unknown field's data as it is: for a
		 * length-delimited one, its length first (0: an empty message). */
		uint8_t zero = 0;
		ProtobufCMessageUnknownField uf = {.tag = foreign[i].field, .len = 1, .data = &zero,
						   .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED};
		Heapd__BatchOp op = HEAPD__BATCH_OP__INIT;
		op.base.n_unknown_fields = 1;
		op.base.unknown_fields = &uf;
		Heapd__BatchOp *ops[] = {&first, &op};
		char want[64];
		snprintf(want, sizeof want, "%s is not a batch op", foreign[i].name);
		invalid_op(send_batch(fd, id++, ops, 2), 2, want);
	}
	Heapd__BatchOp empty = HEAPD__BATCH_OP__INIT;
	Heapd__BatchOp *ops[] = {&empty};
	invalid_op(send_batch(fd, id++, ops, 1), 1, "an op without an operation");
	raw_ping(fd, id++);

	/* A batch nested 100000 deep, by hand: Batch{ops: BatchOp{16: ...}},
	 * written from the inside out. Decoding it does not recurse; the op
	 * is refused. */
	enum { DEPTH = 100000 };
	size_t cap = (size_t)DEPTH * 16 + 64, pos = cap;
	uint8_t *frame = malloc(cap);
	for (int level = 0; level < DEPTH; level++) {
		prepend_field(frame, &pos, 16, cap - pos); /* BatchOp, field 16: the Batch so far */
		prepend_field(frame, &pos, 1, cap - pos);  /* Batch, field 1 (ops): that BatchOp */
	}
	prepend_field(frame, &pos, 16, cap - pos); /* Request.batch */
	uint8_t head[16];
	size_t k = put_varint(head, 1 << 3 | 0);   /* Request.id */
	k += put_varint(head + k, id);
	pos -= k;
	memcpy(frame + pos, head, k);
	size_t n = cap - pos;
	pos -= 4;
	put_frame_len(frame + pos, n);
	raw_send(fd, frame + pos, n + 4);
	Heapd__Response *resp = raw_reply(fd);
	assert_int_equal(resp->id, id++);
	invalid_op(resp, 1, "batch is not a batch op");
	free(frame);
	raw_ping(fd, id++);
	close(fd);
	daemon_stop(&d);
}

/* *_from outside a batch, or beside its literal field: INVALID. */
static void from_fields_misused(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	int fd = raw_connect(&d);
	raw_hello(fd);
	Heapd__Write w = HEAPD__WRITE__INIT;
	w.obj_from = 1;
	Heapd__Request req = raw_request(2, HEAPD__REQUEST__OP_WRITE, &w);
	raw_send_request(fd, &req);
	Heapd__Response *resp = raw_reply(fd);
	assert_int_equal(resp->status, HEAPD__STATUS__INVALID);
	assert_string_equal(resp->error, "write: obj_from names a batch op, outside a batch");
	heapd__response__free_unpacked(resp, NULL);

	Heapd__Alloc alloc = HEAPD__ALLOC__INIT;
	alloc.nbytes = 8;
	Heapd__BatchOp a = HEAPD__BATCH_OP__INIT, b = HEAPD__BATCH_OP__INIT, c = HEAPD__BATCH_OP__INIT;
	a.op_case = HEAPD__BATCH_OP__OP_ALLOC;
	a.alloc = &alloc;
	Heapd__SetRef sr = HEAPD__SET_REF__INIT;
	sr.obj_from = 1;
	sr.target = 0x123456789abcdef0ull;
	sr.target_from = 1;
	b.op_case = HEAPD__BATCH_OP__OP_SET_REF;
	b.set_ref = &sr;
	Heapd__BatchOp *ops[] = {&a, &b};
	invalid_op(send_batch(fd, 3, ops, 2), 2, "both target and target_from are set");
	Heapd__Release rel = HEAPD__RELEASE__INIT;
	rel.obj_from = 70000;
	c.op_case = HEAPD__BATCH_OP__OP_RELEASE;
	c.release = &rel;
	ops[1] = &c;
	invalid_op(send_batch(fd, 4, ops, 2), 2, "obj is the result of op 69999, which does not come before this op (1)");
	raw_ping(fd, 5);
	close(fd);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linked_structure_in_one_round_trip),
		cmocka_unit_test(failure_in_the_middle),
		cmocka_unit_test(bad_references),
		cmocka_unit_test(op_limit),
		cmocka_unit_test(reply_too_big),
		cmocka_unit_test(holds_and_collections),
		cmocka_unit_test(ops_without_a_place),
		cmocka_unit_test(from_fields_misused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
