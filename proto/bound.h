/*
 * bound.h - the most bytes a message's encoding can take; see bound.c.
 */
#ifndef HEAPD_BOUND_H
#define HEAPD_BOUND_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* The most bytes d's fields take, each counted as set: scalars at their
 * longest, string, bytes and message fields as their tag and a 5-byte
 * length (their contents not counted). *n_len gets how many fields are of
 * those three kinds. SIZE_MAX when d has a repeated field. */
size_t pb_fixed_bound(const ProtobufCMessageDescriptor *d, unsigned *n_len);

#endif
