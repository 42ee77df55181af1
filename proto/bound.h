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
/* The most a Response without a message result (an error, a ref, data)
 * takes besides its error and data: the daemon's replies are packed into
 * that, or sized exactly when it is SIZE_MAX (a field it would not count).
 * Computed once; the daemon's one thread calls it. */
size_t pb_flat_reply_bound(void);

#endif
