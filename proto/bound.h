/*
 * bound.h - the most bytes a message's encoding can take; see bound.c.
 */
#ifndef HEAPD_BOUND_H
#define HEAPD_BOUND_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* The most bytes a message of type d takes, each field counted as set:
 * scalars at their longest; strings, bytes and messages as their tag and
 * a 5-byte length, their contents not counted. The caller adds the
 * contents: of the string and bytes fields named in strs (NULL-ended)
 * and, when oneofs is true, of the one message of a oneof it set. SIZE_MAX
 * when d has a field whose contents the caller would not count: a
 * repeated field, another string or bytes field, or a message field (one
 * outside a oneof, when oneofs is true). */
size_t pb_fixed_bound(const ProtobufCMessageDescriptor *d, const char *const *strs, bool oneofs);

#endif
