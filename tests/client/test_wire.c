/*
 * test_wire.c - libheapd's request framing (client/wire.c) and the
 * encoding bound it packs with (proto/bound.c).
 *
 * Every operation but a batch, built with its largest values and long
 * names and data, is packed with no sizing pass into room enough (a batch
 * is sized exactly), and framed: the header says the exact encoded length, the frame decodes
 * to the same request, and nothing past it is written. Requests at
 * max_frame pass and one byte longer are refused with the buffer as it
 * was. And for every message type without repeated fields, a message
 * with every scalar field at its longest encodes within pb_fixed_bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bound.h"
#include "wire.h"

enum { DATA = 3000, NAME = 255 };

static uint8_t data[DATA];
static char name[NAME + 1];

/* Frames w into a buffer that already holds a few bytes, and checks the
 * frame against the request. */
static void check_frame(struct wire_req *w)
{
	struct wire_buf b = {0};
	size_t framed = 0;
	assert_int_equal(wire_reserve(&b, 3), 0);
	memcpy(b.p, "abc", 3);
	b.len = 3;
	w->req.id = UINT64_MAX;
	assert_int_equal(wire_append(&b, &w->req, 16u << 20, &framed), 0);
	size_t n = heapd__request__get_packed_size(&w->req);
	/* Packed without a sizing pass, into room enough. */
	assert_true(wire_bound(&w->req) != SIZE_MAX);
	assert_true(wire_bound(&w->req) >= n);
	assert_int_equal(framed, WIRE_HEADER + n);
	assert_int_equal(b.len, 3 + framed);
	assert_int_equal(wire_frame_len(b.p + 3), n);
	assert_memory_equal(b.p, "abc", 3);
	uint8_t *want = malloc(n);
	assert_non_null(want);
	assert_int_equal(heapd__request__pack(&w->req, want), n);
	assert_memory_equal(b.p + 3 + WIRE_HEADER, want, n);
	Heapd__Request *back = heapd__request__unpack(NULL, n, b.p + 3 + WIRE_HEADER);
	assert_non_null(back);
	assert_int_equal(back->op_case, w->req.op_case);
	assert_true(back->id == UINT64_MAX);
	heapd__request__free_unpacked(back, NULL);
	free(want);
	wire_buf_free(&b);
}

static void every_operation_framed_exactly(void **state)
{
	(void)state;
	struct wire_req w;
	const heapd_ref big = UINT64_MAX;
	const uint32_t m = UINT32_MAX;
	wire_hello(&w, name);
	w.op.hello.version = m;
	check_frame(&w);
	wire_hello(&w, NULL);
	check_frame(&w);
	wire_op(&w, HEAPD__REQUEST__OP_PING);
	check_frame(&w);
	wire_alloc(&w, big, m, m, m, data, DATA);
	w.op.alloc.into_obj_from = m;
	check_frame(&w);
	wire_write(&w, big, m, data, DATA);
	w.op.write.obj_from = m;
	check_frame(&w);
	wire_read(&w, big, m, m);
	w.op.read.obj_from = m;
	check_frame(&w);
	wire_set_ref(&w, big, m, big);
	w.op.set_ref.obj_from = m;
	w.op.set_ref.target_from = m;
	check_frame(&w);
	wire_get_ref(&w, big, m);
	w.op.get_ref.obj_from = m;
	check_frame(&w);
	wire_release(&w, big);
	w.op.release.obj_from = m;
	check_frame(&w);
	wire_root_set(&w, name, big);
	w.op.root_set.obj_from = m;
	check_frame(&w);
	wire_root_get(&w, name);
	check_frame(&w);
	wire_root_chmod(&w, name, UINT32_MAX);
	check_frame(&w);
	wire_root_chown(&w, name, UINT32_MAX, UINT32_MAX);
	check_frame(&w);
	wire_op(&w, HEAPD__REQUEST__OP_ROOT_LIST);
	check_frame(&w);
	wire_op(&w, HEAPD__REQUEST__OP_GC);
	check_frame(&w);
	wire_op(&w, HEAPD__REQUEST__OP_FREE_OS_MEMORY);
	check_frame(&w);
	wire_op(&w, HEAPD__REQUEST__OP_GET_STATS);
	check_frame(&w);
	wire_op(&w, HEAPD__REQUEST__OP_UID_STATS);
	check_frame(&w);
	wire_seal(&w, big);
	w.op.seal.obj_from = m;
	check_frame(&w);
	wire_view(&w, big);
	w.op.view.obj_from = m;
	check_frame(&w);
	wire_view_release(&w, big);
	w.op.view_release.obj_from = m;
	check_frame(&w);
	wire_op(&w, HEAPD__REQUEST__OP_MAP_ARENA);
	check_frame(&w);
}

/* A write whose body is exactly max_frame passes; one more data byte is
 * refused and leaves the buffer as it was. */
static void max_frame_is_exact(void **state)
{
	(void)state;
	struct wire_req w;
	wire_write(&w, 12345, 0, data, 1000);
	w.req.id = 7;
	uint32_t max = (uint32_t)heapd__request__get_packed_size(&w.req);
	struct wire_buf b = {0};
	size_t framed = 0;
	assert_int_equal(wire_append(&b, &w.req, max, &framed), 0);
	assert_int_equal(framed, WIRE_HEADER + max);
	size_t len = b.len;
	wire_write(&w, 12345, 0, data, 1001);
	w.req.id = 7;
	assert_int_equal(wire_append(&b, &w.req, max, &framed), HEAPD_ELIMIT);
	assert_int_equal(b.len, len);
	assert_int_equal(wire_frame_len(b.p), max);
	wire_buf_free(&b);
}

/* Sets every scalar field of m to the value with the longest encoding. */
static void fill_longest(ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		void *p = (char *)m + f->offset;
		switch (f->type) {
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_ENUM:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
			*(int32_t *)p = f->type == PROTOBUF_C_TYPE_SINT32 ? INT32_MIN : -1;
			break;
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
			*(uint32_t *)p = UINT32_MAX;
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
		case PROTOBUF_C_TYPE_SFIXED64:
			*(uint64_t *)p = UINT64_MAX;
			break;
		case PROTOBUF_C_TYPE_SINT64:
			*(int64_t *)p = INT64_MIN;
			break;
		case PROTOBUF_C_TYPE_BOOL:
			*(protobuf_c_boolean *)p = 1;
			break;
		case PROTOBUF_C_TYPE_FLOAT:
			*(float *)p = 1.5f;
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			*(double *)p = 1.5;
			break;
		default: /* strings, bytes and messages stay empty */
			break;
		}
	}
}

/* The names of d's string and bytes fields, NULL-ended, in names. */
static const char *const *str_fields(const ProtobufCMessageDescriptor *d, const char *names[8])
{
	size_t n = 0;
	for (unsigned i = 0; i < d->n_fields && n < 7; i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_STRING || d->fields[i].type == PROTOBUF_C_TYPE_BYTES)
			names[n++] = d->fields[i].name;
	names[n] = NULL;
	return names;
}

static void fixed_bound_holds(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *flat[] = {
		&heapd__hello__descriptor,    &heapd__hello_reply__descriptor, &heapd__alloc__descriptor,
		&heapd__write__descriptor,    &heapd__read__descriptor,        &heapd__set_ref__descriptor,
		&heapd__get_ref__descriptor,  &heapd__release__descriptor,     &heapd__root_set__descriptor,
		&heapd__root_get__descriptor, &heapd__ping__descriptor,        &heapd__root_chmod__descriptor,
		&heapd__root_chown__descriptor,
	};
	const char *names[8];
	static const char *const none[] = {NULL};
	for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++) {
		ProtobufCMessage *m = calloc(1, flat[i]->sizeof_message);
		assert_non_null(m);
		protobuf_c_message_init(flat[i], m);
		fill_longest(m);
		size_t bound = pb_fixed_bound(flat[i], str_fields(flat[i], names), false);
		assert_true(bound != SIZE_MAX);
		assert_true(protobuf_c_message_get_packed_size(m) <= bound);
		free(m);
	}
	/* A string or bytes field the caller does not name has no bound. */
	assert_true(pb_fixed_bound(&heapd__alloc__descriptor, none, false) == SIZE_MAX);
	assert_true(pb_fixed_bound(&heapd__set_ref__descriptor, none, false) != SIZE_MAX);
	/* Nor a repeated field, nor a message outside a oneof. */
	assert_true(pb_fixed_bound(&heapd__stats__descriptor, none, true) == SIZE_MAX);
	assert_true(pb_fixed_bound(&heapd__batch__descriptor, none, true) == SIZE_MAX);
	assert_true(pb_fixed_bound(&heapd__batch_reply__descriptor, none, true) == SIZE_MAX);
	assert_true(pb_fixed_bound(&heapd__request__descriptor, none, false) == SIZE_MAX);
	/* A batch is sized exactly. */
	Heapd__BatchOp op = HEAPD__BATCH_OP__INIT, *ops[] = {&op};
	Heapd__Batch batch = HEAPD__BATCH__INIT;
	batch.n_ops = 1;
	batch.ops = ops;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.op_case = HEAPD__REQUEST__OP_BATCH;
	req.batch = &batch;
	assert_true(wire_bound(&req) == SIZE_MAX);
	/* A Response with its fields at their longest: the daemon's case
	 * (session.c packs its flat replies into pb_flat_reply_bound). */
	Heapd__Response r = HEAPD__RESPONSE__INIT;
	r.id = UINT64_MAX;
	r.status = (Heapd__Status)-1;
	r.error = name;
	r.result_case = HEAPD__RESPONSE__RESULT_DATA;
	r.data.data = data;
	r.data.len = DATA;
	size_t fixed = pb_flat_reply_bound();
	assert_true(fixed != SIZE_MAX);
	assert_true(heapd__response__get_packed_size(&r) <= fixed + NAME + DATA);
	r.result_case = HEAPD__RESPONSE__RESULT_REF;
	r.ref = UINT64_MAX;
	assert_true(heapd__response__get_packed_size(&r) <= fixed + NAME);
}

/* Every operation of HEAPD_OPS but those HEAPD_SIZED is packed with no
 * sizing pass: a field the table does not know would take it off that
 * path, and fail here. */
static void every_operation_has_a_bound(void **state)
{
	(void)state;
	struct wire_req w;
#define HEAPD_OP_SIZED 1 +
#define X(name, NAME, Type, where, refs, payload, result)                   \
	wire_op(&w, HEAPD__REQUEST__OP_##NAME);                             \
	if (payload 0)                                                      \
		assert_true(wire_bound(&w.req) == SIZE_MAX);                \
	else if (wire_bound(&w.req) == SIZE_MAX)                            \
		fail_msg("%s is sized exactly, not bound", #name);
#define HEAPD_OP_STR(f)
#define HEAPD_OP_BYTES(f)
	HEAPD_OPS(X)
#undef X
}

int main(void)
{
	memset(data, 0x5a, sizeof data);
	memset(name, 'n', NAME);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_operation_framed_exactly),
		cmocka_unit_test(max_frame_is_exact),
		cmocka_unit_test(fixed_bound_holds),
		cmocka_unit_test(every_operation_has_a_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
