/*
 * test_tables.c - the project's tables against heapd.proto.
 *
 * HEAPD_OPS (proto/ops.h), HEAPD_ERRORS (client/include/heapd.h),
 * HEAP_ERRORS (daemon/heap/heap.h) and HEAPD_STATS
 * (client/include/heapd/stats.h) name protocol fields and statuses; the
 * build fails when a name does not exist. This test checks the rest
 * against protobuf-c's descriptors of heapd.proto: that every operation,
 * status and figure of the protocol has its row; that each operation's
 * row says what its message is (the ref fields and their _from twins, the
 * one string or bytes field, whether it may be batched); and that each
 * figure has its field number and type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "heap.h"
#include "heapd.h"
#include "heapd.pb-c.h"
#include "ops.h"

#define MAX_REFS 4
#define MAX_STRS 4

struct op_row {
	const char *name;
	int op_case, batch_case;  /* batch_case -1: ALONE */
	const ProtobufCMessageDescriptor *msg;
	const char *refs[MAX_REFS];
	const char *payload;      /* NULL: none */
	int sized;
};

#define HEAPD_OP_REF(f) #f,
#define HEAPD_OP_STR(f) .payload = #f,
#define HEAPD_OP_BYTES(f) .payload = #f,
#define HEAPD_OP_SIZED .sized = 1,
/* batch_case: the BatchOp case, or -1 for an ALONE row. */
#define X(n, N, T, where, refs_, payload_, result_)                                                 \
	{.name = #n, .op_case = HEAPD__REQUEST__OP_##N,                                                \
	 .batch_case = HEAPD_IF_BATCH(where, HEAPD__BATCH_OP__OP_##N + 1 +) - 1,                       \
	 .msg = &heapd__##n##__descriptor, .refs = {refs_ NULL}, payload_},
static const struct op_row rows[] = {HEAPD_OPS(X)};
#undef X

#define NROWS (sizeof rows / sizeof rows[0])

static const struct op_row *row_named(const char *name)
{
	for (size_t i = 0; i < NROWS; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

/* The oneof fields of d (every field but "id"). */
static size_t oneof_fields(const ProtobufCMessageDescriptor *d)
{
	size_t n = 0;
	for (unsigned i = 0; i < d->n_fields; i++)
		n += (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
	return n;
}

static void every_request_field_has_a_row(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &heapd__request__descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		const struct op_row *r = row_named(f->name);
		if (!r)
			fail_msg("Request.%s has no row in HEAPD_OPS", f->name);
		assert_int_equal(r->op_case, f->id);
		assert_ptr_equal(r->msg, f->descriptor);
	}
	assert_int_equal(oneof_fields(d), NROWS);
}

static void batch_ops_are_the_batch_rows(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &heapd__batch_op__descriptor;
	size_t batched = 0;
	for (size_t i = 0; i < NROWS; i++) {
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, rows[i].name);
		if (rows[i].batch_case < 0) {
			if (f)
				fail_msg("BatchOp.%s exists, but HEAPD_OPS says ALONE", rows[i].name);
			continue;
		}
		batched++;
		assert_non_null(f);
		assert_int_equal(f->id, rows[i].op_case);
		assert_int_equal(rows[i].batch_case, rows[i].op_case);
		assert_ptr_equal(f->descriptor, rows[i].msg);
	}
	assert_int_equal(oneof_fields(d), batched);
}

static int listed(const char *const *names, const char *name)
{
	for (; *names; names++)
		if (strcmp(*names, name) == 0)
			return 1;
	return 0;
}

/* Each row's refs are its message's uint64 fields with a uint32 _from
 * twin, and every _from field is some ref's twin. */
static void refs_are_the_fields_with_from_twins(void **state)
{
	(void)state;
	char twin[128];
	for (size_t i = 0; i < NROWS; i++) {
		const ProtobufCMessageDescriptor *d = rows[i].msg;
		for (const char *const *r = rows[i].refs; *r; r++) {
			const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, *r);
			snprintf(twin, sizeof twin, "%s_from", *r);
			const ProtobufCFieldDescriptor *t = protobuf_c_message_descriptor_get_field_by_name(d, twin);
			if (!f || !t)
				fail_msg("%s: no field %s or %s", rows[i].name, *r, twin);
			assert_int_equal(f->type, PROTOBUF_C_TYPE_UINT64);
			assert_int_equal(t->type, PROTOBUF_C_TYPE_UINT32);
		}
		for (unsigned k = 0; k < d->n_fields; k++) {
			const char *name = d->fields[k].name;
			size_t len = strlen(name);
			if (len > 5 && strcmp(name + len - 5, "_from") == 0) {
				snprintf(twin, sizeof twin, "%.*s", (int)(len - 5), name);
				if (!listed(rows[i].refs, twin))
					fail_msg("%s.%s: its ref %s is not in the row's refs", rows[i].name, name, twin);
			}
		}
	}
}

/* The payload is the message's one string or bytes field; HEAPD_SIZED
 * is for the messages with repeated fields, which no bound covers. */
static void payload_is_the_one_string_or_bytes_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < NROWS; i++) {
		const ProtobufCMessageDescriptor *d = rows[i].msg;
		size_t strs = 0, repeated = 0;
		for (unsigned k = 0; k < d->n_fields; k++) {
			const ProtobufCFieldDescriptor *f = &d->fields[k];
			repeated += f->label == PROTOBUF_C_LABEL_REPEATED;
			if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES)
				continue;
			strs++;
			if (!rows[i].payload || strcmp(rows[i].payload, f->name) != 0)
				fail_msg("%s.%s is not the row's payload", rows[i].name, f->name);
		}
		assert_int_equal(strs, rows[i].payload != NULL);
		assert_int_equal(rows[i].sized, repeated > 0);
	}
}

/* Every Status has a libheapd code (INTERNAL is HEAPD_EPROTO, as any
 * status the library does not know), named once. */
static void every_status_has_a_code(void **state)
{
	(void)state;
	static const struct {
		const char *status;
		int code;
	} codes[] = {
#define X(name, value, status, msg) {#status, HEAPD_##name},
#define L(name, value, msg)
		HEAPD_ERRORS(X, L)
#undef X
#undef L
	};
	const ProtobufCEnumDescriptor *e = &heapd__status__descriptor;
	size_t found = 0;
	for (unsigned i = 0; i < e->n_values; i++) {
		const char *name = e->values[i].name;
		size_t n = 0;
		for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++)
			n += strcmp(codes[k].status, name) == 0;
		if (strcmp(name, "INTERNAL") == 0) {
			assert_int_equal(n, 0);
			continue;
		}
		if (n != 1)
			fail_msg("Status %s is in HEAPD_ERRORS %zu times", name, n);
		found++;
	}
	assert_int_equal(found, sizeof codes / sizeof codes[0]);
}

/* The engine's errors each become a status the protocol has. */
static void every_engine_error_has_a_status(void **state)
{
	(void)state;
	static const char *const statuses[] = {
#define X(name, value, status, msg) #status,
		HEAP_ERRORS(X)
#undef X
	};
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		assert_non_null(protobuf_c_enum_descriptor_get_value_by_name(&heapd__status__descriptor, statuses[i]));
}

/* The Stats message holds exactly the table's figures, each under its
 * field number, with the type its kind says. */
static void stats_are_the_stats_message(void **state)
{
	(void)state;
	static const struct {
		const char *name, *kind;
		unsigned field;
	} stats[] = {
#define X(name, kind, who, field, ...) {#name, #kind, field},
		HEAPD_STATS(X)
#undef X
	};
	const ProtobufCMessageDescriptor *d = &heapd__stats__descriptor;
	size_t n = sizeof stats / sizeof stats[0];
	for (size_t i = 0; i < n; i++) {
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, stats[i].name);
		if (!f)
			fail_msg("Stats has no field %s", stats[i].name);
		assert_int_equal(f->id, stats[i].field);
		int ring = strcmp(stats[i].kind, "PAUSES") == 0, fraction = strcmp(stats[i].kind, "FRACTION") == 0;
		assert_int_equal(f->type, fraction ? PROTOBUF_C_TYPE_DOUBLE : PROTOBUF_C_TYPE_UINT64);
		assert_int_equal(f->label == PROTOBUF_C_LABEL_REPEATED, ring);
	}
	assert_int_equal(d->n_fields, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_request_field_has_a_row),
		cmocka_unit_test(batch_ops_are_the_batch_rows),
		cmocka_unit_test(refs_are_the_fields_with_from_twins),
		cmocka_unit_test(payload_is_the_one_string_or_bytes_field),
		cmocka_unit_test(every_status_has_a_code),
		cmocka_unit_test(every_engine_error_has_a_status),
		cmocka_unit_test(stats_are_the_stats_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
