/*
 * ops.h - every operation of the protocol, one row each (HEAPD_OPS).
 *
 * The daemon's dispatcher and batch runner, and libheapd's request
 * builders, sizing, reply checks and batch builder are made from this
 * table or walk it, so an operation is described once. A row is
 *
 *   X(name, NAME, Type, where, refs, payload, result)
 *
 *   name     its field in Request's oneof (and in BatchOp's, if batched);
 *            protobuf-c's names follow: Heapd__Type, HEAPD__REQUEST__OP_NAME
 *   where    BATCH: it may also be an op of a batch, with the same field
 *            number in BatchOp; ALONE: only a request of its own
 *   refs     its ref fields, each with a uint32 twin named field_from
 *            (docs/protocol.md, Batches): HEAPD_REFS0, HEAPD_REFS1(a),
 *            HEAPD_REFS2(a, b) or HEAPD_REFS3(a, b, c), which expand to
 *            HEAPD_OP_REF(f) per field (HEAPD_MAX_REFS at most)
 *   payload  its message's one string or bytes field, which decides how
 *            large its frame is: HEAPD_NO_PAYLOAD, HEAPD_STR(f) or
 *            HEAPD_BYTES(f), which expand to HEAPD_OP_STR(f) and
 *            HEAPD_OP_BYTES(f); or HEAPD_SIZED, for a message that must be
 *            sized exactly before it is packed (HEAPD_OP_SIZED)
 *   result   what an OK reply carries: none, ref (never 0), ref_or_null,
 *            data (exactly the length read), stats, roots, hello, batch,
 *            uids, info (object_info's), clients, retained, view (view's and
 *            map_arena's); cas: ref_or_null,
 *            also on CONFLICT (what was there)
 *
 * A user defines X, and HEAPD_OP_REF, HEAPD_OP_STR, HEAPD_OP_BYTES or
 * HEAPD_OP_SIZED when it expands the refs or payload column. Switches over
 * Request's op_case that these rows generate list every case and have no
 * default, so an operation in heapd.proto and not here fails the build
 * (-Wswitch); tests/proto/test_tables.c checks the rest of each row
 * against heapd.proto's descriptors.
 */
#ifndef HEAPD_OPS_H
#define HEAPD_OPS_H

#define HEAPD_OPS(X)                                                                                 \
	X(hello, HELLO, Hello, ALONE, HEAPD_REFS0, HEAPD_STR(client_name), hello)                    \
	X(ping, PING, Ping, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, none)                              \
	X(alloc, ALLOC, Alloc, BATCH, HEAPD_REFS1(into_obj), HEAPD_BYTES(data), ref)                 \
	X(write, WRITE, Write, BATCH, HEAPD_REFS1(obj), HEAPD_BYTES(data), none)                     \
	X(read, READ, Read, BATCH, HEAPD_REFS1(obj), HEAPD_NO_PAYLOAD, data)                         \
	X(set_ref, SET_REF, SetRef, BATCH, HEAPD_REFS2(obj, target), HEAPD_NO_PAYLOAD, none)         \
	X(get_ref, GET_REF, GetRef, BATCH, HEAPD_REFS1(obj), HEAPD_NO_PAYLOAD, ref_or_null)          \
	X(release, RELEASE, Release, BATCH, HEAPD_REFS1(obj), HEAPD_NO_PAYLOAD, none)                \
	X(root_set, ROOT_SET, RootSet, BATCH, HEAPD_REFS1(obj), HEAPD_BYTES(name), none)             \
	X(root_get, ROOT_GET, RootGet, BATCH, HEAPD_REFS0, HEAPD_BYTES(name), ref)                   \
	X(root_list, ROOT_LIST, RootList, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, roots)               \
	X(gc, GC, Gc, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, none)                                    \
	X(free_os_memory, FREE_OS_MEMORY, FreeOsMemory, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, none)  \
	X(get_stats, GET_STATS, GetStats, BATCH, HEAPD_REFS0, HEAPD_NO_PAYLOAD, stats)               \
	X(batch, BATCH, Batch, ALONE, HEAPD_REFS0, HEAPD_SIZED, batch)                               \
	X(uid_stats, UID_STATS, UidStats, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, uids)                \
	X(root_chmod, ROOT_CHMOD, RootChmod, BATCH, HEAPD_REFS0, HEAPD_BYTES(name), none)            \
	X(root_chown, ROOT_CHOWN, RootChown, BATCH, HEAPD_REFS0, HEAPD_BYTES(name), none)            \
	X(save, SAVE, Save, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, none)                              \
	X(object_info, OBJECT_INFO, ObjectInfo, BATCH, HEAPD_REFS1(obj), HEAPD_NO_PAYLOAD, info)     \
	X(root_info, ROOT_INFO, RootInfo, BATCH, HEAPD_REFS0, HEAPD_BYTES(name), info)               \
	X(root_scan, ROOT_SCAN, RootScan, ALONE, HEAPD_REFS0, HEAPD_BYTES(pattern), roots)           \
	X(client_list, CLIENT_LIST, ClientList, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, clients)       \
	X(client_kill, CLIENT_KILL, ClientKill, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, none)          \
	X(cas_ref, CAS_REF, CasRef, BATCH, HEAPD_REFS3(obj, expected, target), HEAPD_NO_PAYLOAD, cas) \
	X(root_cas, ROOT_CAS, RootCas, BATCH, HEAPD_REFS2(expected, target), HEAPD_BYTES(name), cas)   \
	X(retained, RETAINED, Retained, ALONE, HEAPD_REFS0, HEAPD_BYTES(name), retained)           \
	X(seal, SEAL, Seal, BATCH, HEAPD_REFS1(obj), HEAPD_NO_PAYLOAD, none)                         \
	X(view, VIEW, View, BATCH, HEAPD_REFS1(obj), HEAPD_NO_PAYLOAD, view)                         \
	X(view_release, VIEW_RELEASE, ViewRelease, BATCH, HEAPD_REFS1(obj), HEAPD_NO_PAYLOAD, none)  \
	X(map_arena, MAP_ARENA, MapArena, ALONE, HEAPD_REFS0, HEAPD_NO_PAYLOAD, view)

#define HEAPD_REFS0
#define HEAPD_REFS1(a) HEAPD_OP_REF(a)
#define HEAPD_REFS2(a, b) HEAPD_OP_REF(a) HEAPD_OP_REF(b)
#define HEAPD_REFS3(a, b, c) HEAPD_OP_REF(a) HEAPD_OP_REF(b) HEAPD_OP_REF(c)
#define HEAPD_MAX_REFS 3
#define HEAPD_NO_PAYLOAD
#define HEAPD_STR(f) HEAPD_OP_STR(f)
#define HEAPD_BYTES(f) HEAPD_OP_BYTES(f)
#define HEAPD_SIZED HEAPD_OP_SIZED

/* HEAPD_IF_BATCH(where, ...): the rest when where is BATCH, else nothing. */
#define HEAPD_IF_BATCH(where, ...) HEAPD_IF_BATCH_##where(__VA_ARGS__)
#define HEAPD_IF_BATCH_BATCH(...) __VA_ARGS__
#define HEAPD_IF_BATCH_ALONE(...)

/* The cases of Request's op_case that are no operation: a generated
 * switch lists them, so that it needs no default. */
#define HEAPD_OP_NONE_CASES \
	case HEAPD__REQUEST__OP__NOT_SET: \
	case _HEAPD__REQUEST__OP__CASE_IS_INT_SIZE

#endif
