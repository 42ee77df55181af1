/*
 * fuzz_frame.c - libFuzzer target: the frame decoder, sess_decode()
 * (daemon/session.c), the code the daemon runs on every byte a client
 * sends before any of it reaches dispatch.
 *
 * The input is a client's byte stream. It is decoded frame by frame as
 * sess_process() does, with the daemon's scratch allocator, until a frame
 * is cut short or announces more than max_frame_size (where the daemon
 * would wait for more bytes, or close). Invariants checked on every
 * decoded Request, each an abort() with a message when broken:
 *  - the frame takes 4 + n bytes and n never exceeds max_frame_size;
 *  - protobuf_c_message_check() holds (strings present, submessages
 *    present), and the operation's submessage is set whenever op_case
 *    names one, as dispatch.c and batch.c dereference it unchecked; so
 *    for each op of a batch;
 *  - byte fields lie within the frame, a batch's ops' too;
 *  - encoding the Request again and decoding that gives the same encoding
 *    (what the daemon understood is what a client could have meant).
 *    Unknown fields, which the daemon ignores, are left out of that:
 *    protobuf-c keeps them as they came, including a field number 0
 *    spelled as a two-byte varint, which it accepts but cannot decode
 *    once written canonically.
 * Decoded memory is poisoned at each scratch_reset under ASan (scratch.c),
 * so a decoder reading or keeping pointers past its frame is caught.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "server.h"

/* The daemon's default: the largest frame a client may send. */
#define MAX_FRAME (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what, size_t off)
{
	fprintf(stderr, "fuzz_frame: invariant broken at offset %zu: %s\n", off, what);
	abort();
}

/* The submessage op_case names: every member of the union is a pointer
 * to a message, which starts with its ProtobufCMessage. */
static void *op_message(const Heapd__Request *req)
{
	return req->hello;
}

static void check_bytes(const ProtobufCBinaryData *b, uint32_t n, size_t off)
{
	if (b->len > n || (b->len && !b->data))
		broken("a bytes field outside its frame", off);
}

static void drop_unknown(Heapd__Request *req)
{
	req->base.n_unknown_fields = 0;
	if (req->op_case != HEAPD__REQUEST__OP__NOT_SET)
		((ProtobufCMessage *)op_message(req))->n_unknown_fields = 0;
}

/* Encoding req (less its unknown fields, its batch ops' included),
 * decoding that and encoding again must give the same bytes. */
static void check_round_trip(Heapd__Request *req, size_t off)
{
	drop_unknown(req);
	for (size_t i = 0; req->op_case == HEAPD__REQUEST__OP_BATCH && i < req->batch->n_ops; i++) {
		Heapd__Request q;
		req->batch->ops[i]->base.n_unknown_fields = 0;
		if (fuzz_batch_op(req->batch->ops[i], &q) == 0)
			drop_unknown(&q);
	}
	size_t len = heapd__request__get_packed_size(req);
	uint8_t *a = malloc(len ? len : 1), *b = malloc(len ? len : 1);
	if (!a || !b)
		broken("out of memory", off);
	if (heapd__request__pack(req, a) != len)
		broken("packed size differs from get_packed_size", off);
	Heapd__Request *again = heapd__request__unpack(NULL, len, a);
	if (!again)
		broken("a decoded request does not decode once encoded again", off);
	if (heapd__request__get_packed_size(again) != len || heapd__request__pack(again, b) != len ||
	    memcmp(a, b, len) != 0)
		broken("encoding is not stable across a round trip", off);
	heapd__request__free_unpacked(again, NULL);
	free(a);
	free(b);
}

/* The operation of req (or of a batch op as a request). */
static void check_op(Heapd__Request *req, uint32_t n, size_t off)
{
	if (req->op_case != HEAPD__REQUEST__OP__NOT_SET && !op_message(req))
		broken("op_case set with no submessage", off);
	switch (req->op_case) {
	case HEAPD__REQUEST__OP_HELLO:
		if (strlen(req->hello->client_name) > n)
			broken("client_name longer than its frame", off);
		break;
	case HEAPD__REQUEST__OP_ALLOC: check_bytes(&req->alloc->data, n, off); break;
	case HEAPD__REQUEST__OP_WRITE: check_bytes(&req->write->data, n, off); break;
	case HEAPD__REQUEST__OP_ROOT_SET: check_bytes(&req->root_set->name, n, off); break;
	case HEAPD__REQUEST__OP_ROOT_GET: check_bytes(&req->root_get->name, n, off); break;
	case HEAPD__REQUEST__OP_ROOT_CHMOD: check_bytes(&req->root_chmod->name, n, off); break;
	case HEAPD__REQUEST__OP_ROOT_CHOWN: check_bytes(&req->root_chown->name, n, off); break;
	case HEAPD__REQUEST__OP_BATCH:
		for (size_t i = 0; i < req->batch->n_ops; i++) {
			Heapd__Request q;
			if (!req->batch->ops[i])
				broken("a batch op missing", off);
			if (fuzz_batch_op(req->batch->ops[i], &q) == 0)
				check_op(&q, n, off);
		}
		break;
	default:
		break;
	}
}

static void check_request(Heapd__Request *req, uint32_t n, size_t off)
{
	if (!protobuf_c_message_check(&req->base))
		broken("protobuf_c_message_check fails on a decoded request", off);
	check_op(req, n, off);
	check_round_trip(req, off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scratch sc;
	static int ready;
	if (!ready) {
		scratch_init(&sc);
		ready = 1;
	}
	size_t off = 0;
	for (;;) {
		uint32_t n = 0;
		Heapd__Request *req;
		enum sess_frame f = sess_decode(data + off, size - off, MAX_FRAME, &sc, &n, &req);
		if (f == SF_PARTIAL || f == SF_OVERSIZE) {
			if (f == SF_OVERSIZE && n <= MAX_FRAME)
				broken("a frame within max_frame_size called oversize", off);
			break;
		}
		if (n > MAX_FRAME || FRAME_HEADER + (size_t)n > size - off)
			broken("a frame past max_frame_size or past the input", off);
		if ((f == SF_REQUEST) != (req != NULL))
			broken("SF_REQUEST without a request, or a request without it", off);
		if (req)
			check_request(req, n, off);
		scratch_reset(&sc);
		off += FRAME_HEADER + n;
	}
	scratch_reset(&sc);
	return 0;
}
