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
 * and bytes fields the caller knows it set. The caller checks n_len
 * against the fields it knows, so that a field added to the .proto later
 * makes it size the message exactly rather than overrun the buffer.
 */
#include <stdint.h>

#include "bound.h"

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

size_t pb_fixed_bound(const ProtobufCMessageDescriptor *d, unsigned *n_len)
{
	size_t n = 0;
	*n_len = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			return SIZE_MAX;
		n += varint_len((uint64_t)f->id << 3) + value_max(f->type);
		if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES ||
		    f->type == PROTOBUF_C_TYPE_MESSAGE)
			++*n_len;
	}
	return n;
}
