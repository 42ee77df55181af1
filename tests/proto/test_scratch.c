/*
 * test_scratch.c - the scratch memory messages are decoded into
 * (proto/scratch.c).
 *
 * Pieces are 16-byte aligned, distinct and writable whole, in the base
 * block, in shared chunks once it is full, and in blocks of their own when
 * larger than a chunk; a reset gives everything back. protobuf-c's
 * allocations stop at pb_limit: the one past it fails, pb_over says so,
 * allocations outside protobuf-c are not counted, and a reset clears both.
 * A real unpack under a limit too small fails, and succeeds after a reset
 * with a limit large enough.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heapd.pb-c.h"
#include "scratch.h"

/* n pieces of size bytes each, every one filled with its own byte and
 * checked after all are made, so no two overlap. */
static void pieces(struct scratch *sc, size_t n, size_t size)
{
	uint8_t **p = malloc(n * sizeof *p);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		p[i] = scratch_alloc(sc, size);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		memset(p[i], (int)(i & 0xff), size);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < size; j++)
			assert_int_equal(p[i][j], i & 0xff);
	free(p);
}

static void pieces_distinct_everywhere(void **state)
{
	(void)state;
	struct scratch sc;
	scratch_init(&sc);
	pieces(&sc, 10000, 40);          /* the base block, then shared chunks */
	pieces(&sc, 3, 300000);          /* blocks of their own */
	pieces(&sc, 10000, 24);          /* back to chunks */
	scratch_reset(&sc);
	assert_null(sc.bigs);
	assert_int_equal(sc.used, 0);
	pieces(&sc, 100, 8);
	scratch_free(&sc);
}

static void pb_limit_counts_only_protobuf(void **state)
{
	(void)state;
	struct scratch sc;
	scratch_init(&sc);
	sc.pb_limit = 4096;
	/* Outside protobuf-c: not counted. */
	assert_non_null(scratch_alloc(&sc, 100000));
	assert_int_equal(sc.pb_taken, 0);
	size_t n = 0;
	while (sc.pb.alloc(sc.pb.allocator_data, 48) != NULL)
		n++;
	assert_true(n > 0);
	assert_true(n * 48 <= 4096);
	assert_int_equal(sc.pb_over, 1);
	assert_true(sc.pb_taken <= sc.pb_limit);
	assert_null(sc.pb.alloc(sc.pb.allocator_data, (size_t)-1));
	scratch_reset(&sc);
	assert_int_equal(sc.pb_over, 0);
	assert_int_equal(sc.pb_taken, 0);
	assert_non_null(sc.pb.alloc(sc.pb.allocator_data, 48));
	sc.pb_limit = 0; /* none */
	for (int i = 0; i < 10000; i++)
		assert_non_null(sc.pb.alloc(sc.pb.allocator_data, 48));
	scratch_free(&sc);
}

static void unpack_under_a_limit(void **state)
{
	(void)state;
	/* A batch of 1000 empty ops: 2 bytes each on the wire. */
	Heapd__BatchOp ops[1000], *p[1000];
	for (int i = 0; i < 1000; i++) {
		heapd__batch_op__init(&ops[i]);
		p[i] = &ops[i];
	}
	Heapd__Batch batch = HEAPD__BATCH__INIT;
	batch.n_ops = 1000;
	batch.ops = p;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.id = 9;
	req.op_case = HEAPD__REQUEST__OP_BATCH;
	req.batch = &batch;
	size_t len = heapd__request__get_packed_size(&req);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	heapd__request__pack(&req, buf);

	struct scratch sc;
	scratch_init(&sc);
	sc.pb_limit = 4 * len;
	assert_null(heapd__request__unpack(&sc.pb, len, buf));
	assert_int_equal(sc.pb_over, 1);
	scratch_reset(&sc);
	sc.pb_limit = 1000 * 512;
	Heapd__Request *back = heapd__request__unpack(&sc.pb, len, buf);
	assert_non_null(back);
	assert_int_equal(sc.pb_over, 0);
	assert_int_equal(back->batch->n_ops, 1000);
	scratch_free(&sc);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pieces_distinct_everywhere),
		cmocka_unit_test(pb_limit_counts_only_protobuf),
		cmocka_unit_test(unpack_under_a_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
