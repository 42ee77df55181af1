/*
 * reffields.h - a request's ref fields and their *_from twins, walked
 * from HEAPD_OPS' refs column (ops.h), so that the daemon's batch runner
 * and the fuzz targets' models name them the same way.
 */
#ifndef HEAPD_REFFIELDS_H
#define HEAPD_REFFIELDS_H

#include <stdint.h>

#include "heapd.pb-c.h"
#include "ops.h"

/* A ref field, its *_from twin and the field's name. */
struct heapd_ref_field {
	uint64_t *ref;
	uint32_t *from;
	const char *name;
};

/* q's ref fields: how many, into f. */
static inline int heapd_ref_fields(Heapd__Request *q, struct heapd_ref_field f[HEAPD_MAX_REFS])
{
	int n = 0;
	switch (q->op_case) {
#define HEAPD_OP_REF(field) f[n++] = (struct heapd_ref_field){&m->field, &m->field##_from, #field};
#define X(name, NAME, Type, where, refs, ...) \
	case HEAPD__REQUEST__OP_##NAME: {     \
		Heapd__##Type *m = q->name;   \
		(void)m;                      \
		refs                          \
		break;                        \
	}
		HEAPD_OPS(X)
#undef X
#undef HEAPD_OP_REF
	HEAPD_OP_NONE_CASES:
		break;
	}
	return n;
}

#endif
