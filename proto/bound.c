/*
 * bound.c - the most bytes a message's encoding can take, from its
 * descriptor, for the daemon and libheapd alike.
 *
 * protobuf-c packs into a buffer the caller sizes, and sizing it exactly
 * (get_packed_size) walks the message as packing does: for the small
 * messages that make up most traffic, that is as long as the packing. So a
 * small message is packed straight into room for the most it can take,
 * and the frame gets the length pack returns. That bound is this fixed
 * part, computed once per message type, plus the lengths of the string
 * and bytes fields the caller knows it set. The caller names those
 * fields, so that a field added to the .proto later, which it would not
 * count, makes the bound SIZE_MAX: the message is then sized exactly
 * rather than overrun its buffer.
 */
#include <stdint.h>
#include <string.h>

#include "bound.h"
#include "heapd.pb-c.h"

/* The length of a varint holding v. */
static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* The most bytes a value of type t takes; 5 is a length prefix. */
static size_t value_max(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_BOOL:
		return 1;
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 4;
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return 5;
	default: /* int32 and enums (negative: 10 bytes), the 64-bit varints */
		return 10;
	}
}

static bool named(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(*names, name) == 0)
			return true;
	return false;
}

size_t pb_fixed_bound(const ProtobufCMessageDescriptor *d, const char *const *strs, bool oneofs)
{
	size_t n = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			return SIZE_MAX;
		if ((f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES) && !named(f->name, strs))
			return SIZE_MAX;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE && !(oneofs && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)))
			return SIZE_MAX;
		n += varint_len((uint64_t)f->id << 3) + value_max(f->type);
	}
	return n;
}

size_t pb_flat_reply_bound(void)
{
	static const char *const strs[] = {"error", "data", NULL};
	static size_t bound;
	if (!bound)
		bound = pb_fixed_bound(&heapd__response__descriptor, strs, true);
	return bound;
}
