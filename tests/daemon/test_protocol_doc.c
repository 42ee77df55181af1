/*
 * test_protocol_doc.c - docs/protocol.md says what heapd does: its figures
 * and the behaviours a client author cannot guess, each checked against a
 * heapd of the test's own through the wire protocol alone.
 *
 * The figures come from the document's Limits table, read at run time
 * (PROTOCOL_DOC, set by make check to the source tree's file): a row is
 * found by its first cell, and the numbers of its Default cell are read
 * in order, "16,777,216 bytes (16 MiB)" giving 16777216 and 16. Each row
 * is checked three ways, as far as it applies: against the default that
 * `heapd --help` prints for the setting the row names; against itself
 * (the bytes against the MiB beside them, a "max_frame − N" figure against
 * the frame row); and against the live daemon's behaviour at exactly the
 * figure and one past it. A behaviour the document states in prose is
 * checked live, and the sentence that promises it is looked for in the
 * document (white space runs as one space), so a reworded promise has to
 * be checked again here. A wrong figure, or a promise dropped, fails this
 * test; so does a daemon that stops keeping one.
 */
#include <sys/resource.h>

#include "daemonutil.h"
#include "../sanitizers.h"

#ifndef PROTOCOL_DOC
#define PROTOCOL_DOC "docs/protocol.md"
#endif

#define MIB (1024.0 * 1024.0)

static char *doc;       /* docs/protocol.md */
static char *doc_flat;  /* the same, each run of white space one space */
static char *help_flat; /* `heapd --help`, likewise */

static char *slurp(FILE *f)
{
	size_t len = 0, cap = 1 << 16;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t n;
	while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			s = realloc(s, cap *= 2);
			assert_non_null(s);
		}
	}
	s[len] = '\0';
	return s;
}

static char *flatten(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	assert_non_null(out);
	for (; *s; s++) {
		int space = *s == ' ' || *s == '\n' || *s == '\t';
		if (!space)
			*o++ = *s;
		else if (o > out && o[-1] != ' ')
			*o++ = ' ';
	}
	*o = '\0';
	return out;
}

static int setup(void **state)
{
	(void)state;
	FILE *f = fopen(PROTOCOL_DOC, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", PROTOCOL_DOC);
		return -1;
	}
	doc = slurp(f);
	fclose(f);
	doc_flat = flatten(doc);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s --help", env_or("HEAPD_BIN", "daemon/heapd"));
	f = popen(cmd, "r");
	if (!f)
		return -1;
	char *help = slurp(f);
	if (pclose(f) != 0)
		return -1;
	help_flat = flatten(help);
	free(help);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(doc);
	free(doc_flat);
	free(help_flat);
	return 0;
}

/* The document makes this promise, in these words. */
static void doc_says(const char *sentence)
{
	if (!strstr(doc_flat, sentence))
		fail_msg("%s does not say: %s", PROTOCOL_DOC, sentence);
}

/* --- the Limits table --- */

struct row {
	char cell[4][512]; /* Limit, Default, Setting, Past it */
	double num[8];     /* the numbers of the Default cell, in order */
	int nnum;
};

/* The numbers in s: digits, with thousands separated by commas and an
 * optional fraction. */
static int numbers(const char *s, double *num, int max)
{
	int n = 0;
	while (*s && n < max) {
		if (*s < '0' || *s > '9') {
			s++;
			continue;
		}
		double v = 0;
		for (;;) {
			while (*s >= '0' && *s <= '9')
				v = v * 10 + (*s++ - '0');
			if (s[0] == ',' && s[1] >= '0' && s[1] <= '9')
				s++;
			else
				break;
		}
		if (s[0] == '.' && s[1] >= '0' && s[1] <= '9') {
			double scale = 0.1;
			for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
				v += (*s - '0') * scale;
		}
		num[n++] = v;
	}
	return n;
}

/* The Limits table's row whose first cell is label. */
static struct row table_row(const char *label)
{
	char key[128];
	snprintf(key, sizeof key, "\n| %s |", label);
	const char *p = strstr(doc, key);
	if (!p)
		fail_msg("%s: no Limits row \"%s\"", PROTOCOL_DOC, label);
	p += 2; /* to the cells, past "\n|" */
	struct row r;
	memset(&r, 0, sizeof r);
	for (int i = 0; i < 4; i++) {
		const char *end = strchr(p, '|');
		assert_non_null(end);
		while (*p == ' ')
			p++;
		size_t len = (size_t)(end - p);
		while (len && p[len - 1] == ' ')
			len--;
		assert_true(len < sizeof r.cell[i]);
		memcpy(r.cell[i], p, len);
		p = end + 1;
	}
	r.nnum = numbers(r.cell[1], r.num, 8);
	if (r.nnum == 0)
		fail_msg("Limits row \"%s\": no figure in \"%s\"", label, r.cell[1]);
	return r;
}

/* The row's figure: the first number of its Default cell. */
static uint64_t figure(const char *label)
{
	return (uint64_t)table_row(label).num[0];
}

/* The Default cell's n-th number (from 0). */
static uint64_t figure_n(const char *label, int n)
{
	struct row r = table_row(label);
	if (n >= r.nnum)
		fail_msg("Limits row \"%s\": no number %d in \"%s\"", label, n + 1, r.cell[1]);
	return (uint64_t)r.num[n];
}

/* heapd --help's default for a setting, as a number ("16MiB": 16777216). */
static uint64_t help_default(const char *key)
{
	char k[80];
	snprintf(k, sizeof k, " %s: ", key);
	const char *p = strstr(help_flat, k);
	if (!p)
		fail_msg("heapd --help has no setting %s", key);
	p = strstr(p, "Default: ");
	assert_non_null(p);
	p += strlen("Default: ");
	char *end;
	uint64_t v = strtoull(p, &end, 10);
	assert_true(end > p);
	switch (*end) {
	case 'K':
		v <<= 10;
		break;
	case 'M':
		v <<= 20;
		break;
	case 'G':
		v <<= 30;
		break;
	case 'T':
		v <<= 40;
		break;
	default:
		break;
	}
	return v;
}

/* A row's figure is the default of the setting it names. */
static void row_is_setting(const char *label, const char *key)
{
	struct row r = table_row(label);
	char quoted[80];
	snprintf(quoted, sizeof quoted, "`%s`", key);
	if (!strstr(r.cell[2], quoted))
		fail_msg("Limits row \"%s\" names no setting %s", label, quoted);
	uint64_t want = help_default(key);
	if ((uint64_t)r.num[0] != want)
		fail_msg("Limits row \"%s\": %s says %llu, heapd's default %s is %llu", label, PROTOCOL_DOC,
			 (unsigned long long)r.num[0], key, (unsigned long long)want);
}

/* The row agrees with itself: "N bytes (X MiB" has N = X MiB, and
 * "N bytes (`max_frame` − D" has N = the frame row's figure − D. */
static void row_consistent(const char *label)
{
	struct row r = table_row(label);
	const char *paren = strstr(r.cell[1], "bytes (");
	if (!paren)
		return;
	paren += strlen("bytes (");
	double x;
	char unit[4];
	if (sscanf(paren, "%lf %3[KMGi]B", &x, unit) == 2) {
		double scale = unit[0] == 'K' ? 1024.0 : unit[0] == 'M' ? MIB : MIB * 1024.0;
		if (x * scale != r.num[0])
			fail_msg("Limits row \"%s\": %.0f bytes is not %g %sB", label, r.num[0], x, unit);
	}
	const char *minus = "`max_frame` \xe2\x88\x92 "; /* U+2212 */
	if (strncmp(paren, minus, strlen(minus)) == 0) {
		uint64_t d = strtoull(paren + strlen(minus), NULL, 10);
		if ((uint64_t)r.num[0] != figure("Frame length") - d)
			fail_msg("Limits row \"%s\": %.0f is not the frame length - %llu", label, r.num[0],
				 (unsigned long long)d);
	}
}

static const char *const rows[] = {
	"Frame length", "Read, alone",       "Batch reply budget", "Read, in a batch", "Ops in a batch",
	"Decoding cap", "Object size",       "Holds per session",  "Named roots",      "Root name",
	"Connections",  "Unsent replies",    "Heap",               "Reserved for admins", "Connections per uid",
	"Time to Hello",
};

/* Every row is there, each agrees with itself, and each that names a
 * setting gives that setting's default. */
static void limits_table_matches_heapd_help(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++)
		row_consistent(rows[i]);
	row_is_setting("Frame length", "max_frame_size");
	row_is_setting("Ops in a batch", "max_batch_ops");
	row_is_setting("Object size", "max_object_size");
	row_is_setting("Holds per session", "max_holds_per_session");
	row_is_setting("Named roots", "max_roots");
	row_is_setting("Connections", "max_clients");
	row_is_setting("Unsent replies", "max_output_buffer");
	row_is_setting("Heap", "max_heap");
	row_is_setting("Reserved for admins", "admin_reserved_connections");
	row_is_setting("Connections per uid", "max_clients_per_uid");
	row_is_setting("Time to Hello", "hello_timeout_ms");
	row_is_setting("Named roots per uid", "max_roots_per_uid");
	row_is_setting("Root name bytes per uid", "max_root_bytes_per_uid");
	row_is_setting("Holds per uid", "max_holds_per_uid");
	row_is_setting("Unsent replies per uid", "max_output_per_uid");
	row_is_setting("Heap per uid", "max_heap_per_uid");
}

/* --- raw requests --- */

static Heapd__Response *call(int fd, Heapd__Request *req)
{
	raw_send_request(fd, req);
	Heapd__Response *r = raw_reply(fd);
	assert_non_null(r);
	return r;
}

/* The reply has that status and id; freed. */
static void expect(Heapd__Response *r, Heapd__Status status, uint64_t id)
{
	assert_non_null(r);
	if (r->status != status || r->id != id)
		fail_msg("reply id %llu status %d (\"%s\"), expected id %llu status %d", (unsigned long long)r->id,
			 r->status, r->error ? r->error : "", (unsigned long long)id, status);
	heapd__response__free_unpacked(r, NULL);
}

/* The reply is an error with that status and id, and no result; freed. */
static void refused(Heapd__Response *r, Heapd__Status status, uint64_t id)
{
	assert_int_equal(r->id, id);
	assert_int_equal(r->status, status);
	assert_int_equal(r->result_case, HEAPD__RESPONSE__RESULT__NOT_SET);
	heapd__response__free_unpacked(r, NULL);
}

/* The reply is the daemon's last word on fd: it closes the connection. */
static void closes_after(int fd, Heapd__Response *r, Heapd__Status status, uint64_t id)
{
	expect(r, status, id);
	assert_true(raw_closed(fd));
}

/* The reply to request id of operation op, msg its message. */
static Heapd__Response *call_op(int fd, uint64_t id, Heapd__Request__OpCase op, void *msg)
{
	Heapd__Request q = raw_request(id, op, msg);
	return call(fd, &q);
}

static Heapd__Response *hello_v(int fd, uint64_t id, uint32_t version)
{
	Heapd__Hello h = HEAPD__HELLO__INIT;
	h.version = version;
	h.client_name = "test_protocol_doc";
	return call_op(fd, id, HEAPD__REQUEST__OP_HELLO, &h);
}

static Heapd__Response *alloc_r(int fd, uint64_t id, uint32_t nrefs, uint32_t nbytes, size_t data_len, uint64_t into,
				uint32_t slot)
{
	Heapd__Alloc a = HEAPD__ALLOC__INIT;
	a.nrefs = nrefs;
	a.nbytes = nbytes;
	a.into_obj = into;
	a.into_slot = slot;
	uint8_t *data = calloc(1, data_len + 1);
	a.data.data = data;
	a.data.len = data_len;
	Heapd__Response *r = call_op(fd, id, HEAPD__REQUEST__OP_ALLOC, &a);
	free(data);
	return r;
}

/* The ref of r, which must be OK; freed. */
static uint64_t ok_ref(Heapd__Response *r)
{
	assert_int_equal(r->status, HEAPD__STATUS__OK);
	uint64_t ref = r->ref;
	heapd__response__free_unpacked(r, NULL);
	return ref;
}

/* A new held object's ref. */
static uint64_t alloc_ok(int fd, uint32_t nrefs, uint32_t nbytes)
{
	return ok_ref(alloc_r(fd, 2, nrefs, nbytes, 0, 0, 0));
}

static Heapd__Response *read_r(int fd, uint64_t id, uint64_t obj, uint32_t offset, uint32_t length)
{
	Heapd__Read rd = HEAPD__READ__INIT;
	rd.obj = obj;
	rd.offset = offset;
	rd.length = length;
	return call_op(fd, id, HEAPD__REQUEST__OP_READ, &rd);
}

static Heapd__Response *release_r(int fd, uint64_t id, uint64_t obj)
{
	Heapd__Release rl = HEAPD__RELEASE__INIT;
	rl.obj = obj;
	return call_op(fd, id, HEAPD__REQUEST__OP_RELEASE, &rl);
}

/* A connection past Hello; *hello gets the reply if not NULL. */
static int session(const struct daemon *d, Heapd__Response **hello)
{
	int fd = raw_connect(d);
	Heapd__Response *r = hello_v(fd, 1, 1);
	assert_int_equal(r->status, HEAPD__STATUS__OK);
	assert_int_equal(r->result_case, HEAPD__RESPONSE__RESULT_HELLO);
	if (hello)
		*hello = r;
	else
		heapd__response__free_unpacked(r, NULL);
	return fd;
}

/* A heapd of the test's own, with the default settings, and a session on
 * it; *hello gets the Hello reply if not NULL. */
static int start(struct daemon *d, Heapd__Response **hello)
{
	daemon_start(d, NULL);
	return session(d, hello);
}

/* The test's connection closes, then its heapd stops, which must exit 0. */
static void stop(struct daemon *d, int fd)
{
	close(fd);
	daemon_stop(d);
}

/* The reply to a batch of n ops: first, then n - 1 copies of rest. */
static Heapd__Response *batch_r(int fd, uint64_t id, size_t n, const Heapd__BatchOp *first,
				const Heapd__BatchOp *rest)
{
	Heapd__BatchOp *ops = calloc(n, sizeof *ops);
	Heapd__BatchOp **pops = calloc(n, sizeof *pops);
	for (size_t i = 0; i < n; i++) {
		ops[i] = i == 0 ? *first : *rest;
		pops[i] = &ops[i];
	}
	Heapd__Batch b = HEAPD__BATCH__INIT;
	b.n_ops = n;
	b.ops = pops;
	Heapd__Response *r = call_op(fd, id, HEAPD__REQUEST__OP_BATCH, &b);
	free(ops);
	free(pops);
	return r;
}

/* A batch of n ops: a read of len bytes of obj, then n - 1 releases of
 * ref 1 (the ops after it, whose results the read must leave room for;
 * after a read of all it may take, the first of them fails for want of
 * room, which is not what these tests look at). */
static Heapd__Response *batch_read_r(int fd, uint64_t id, uint64_t obj, uint32_t len, size_t n)
{
	Heapd__Read rd = HEAPD__READ__INIT;
	Heapd__Release rl = HEAPD__RELEASE__INIT;
	rd.obj = obj;
	rd.length = len;
	rl.obj = 1;
	Heapd__BatchOp read_op = HEAPD__BATCH_OP__INIT, release_op = HEAPD__BATCH_OP__INIT;
	read_op.op_case = HEAPD__BATCH_OP__OP_READ;
	read_op.read = &rd;
	release_op.op_case = HEAPD__BATCH_OP__OP_RELEASE;
	release_op.release = &rl;
	return batch_r(fd, id, n, &read_op, &release_op);
}

/* A batch of n empty ops (2 bytes each on the wire). */
static Heapd__Response *batch_empty_r(int fd, uint64_t id, size_t n)
{
	Heapd__BatchOp empty = HEAPD__BATCH_OP__INIT;
	return batch_r(fd, id, n, &empty, &empty);
}

/* A batch of most empty ops runs, one more is refused whole with the
 * request's id, and the session goes on: requests id, id + 1, and a ping,
 * id + 2. Returns the status of the batch that ran. */
static Heapd__Status most_ops_run(int fd, uint64_t id, size_t most)
{
	Heapd__Response *r = batch_empty_r(fd, id, most);
	assert_int_equal(r->result_case, HEAPD__RESPONSE__RESULT_BATCH);
	assert_int_equal(r->batch->n_results, most);
	Heapd__Status ran = r->status;
	heapd__response__free_unpacked(r, NULL);
	refused(batch_empty_r(fd, id + 1, most + 1), HEAPD__STATUS__LIMIT, id + 1);
	raw_ping(fd, id + 2);
	return ran;
}

/* --- the figures, live --- */

/* The Hello reply tells the documented frame length, object size and ops
 * per batch; a frame of exactly the frame length is taken, one byte more
 * gets LIMIT with id 0 and a closed connection. */
static void hello_and_frame_length(void **state)
{
	(void)state;
	uint64_t frame = figure("Frame length");
	struct daemon d;
	Heapd__Response *hello;
	int fd = start(&d, &hello);
	assert_int_equal(hello->hello->max_frame, frame);
	assert_int_equal(hello->hello->max_object, figure("Object size"));
	assert_int_equal(hello->hello->max_batch_ops, figure("Ops in a batch"));
	heapd__response__free_unpacked(hello, NULL);
	doc_says("`N` = `max_frame` is allowed.");
	doc_says("a frame over the limit gets one `LIMIT` error reply (id 0) and the connection is closed");

	uint64_t obj = alloc_ok(fd, 0, (uint32_t)frame);
	Heapd__Write w = HEAPD__WRITE__INIT;
	w.obj = obj;
	uint8_t *data = calloc(1, frame);
	w.data.data = data;
	w.data.len = frame - 32;
	Heapd__Request q = raw_request(77, HEAPD__REQUEST__OP_WRITE, &w);
	while (heapd__request__get_packed_size(&q) < frame)
		w.data.len++;
	assert_int_equal(heapd__request__get_packed_size(&q), frame);
	expect(call(fd, &q), HEAPD__STATUS__OK, 77);
	/* The length is checked before the body is read: a header alone. */
	uint8_t header[4];
	put_frame_len(header, frame + 1);
	raw_send(fd, header, 4);
	closes_after(fd, raw_reply(fd), HEAPD__STATUS__LIMIT, 0);
	free(data);
	stop(&d, fd);
}

/* A read alone of exactly its documented figure succeeds, one byte more
 * gets LIMIT, before the object is looked at; in a batch, the figure for
 * a batch's only op, 4 bytes less per later op; and the batch reply
 * budget's 4 bytes per op, at a frame length where it binds. */
static void read_and_batch_limits(void **state)
{
	(void)state;
	uint64_t frame = figure("Frame length");
	uint32_t alone = (uint32_t)figure("Read, alone");
	uint32_t in_batch = (uint32_t)figure("Read, in a batch");
	uint32_t per_later = (uint32_t)figure_n("Read, in a batch", 2);
	struct daemon d;
	int fd = start(&d, NULL);
	uint64_t obj = alloc_ok(fd, 0, (uint32_t)frame);

	Heapd__Response *r = read_r(fd, 10, obj, 0, alone);
	assert_int_equal(r->status, HEAPD__STATUS__OK);
	assert_int_equal(r->data.len, alone);
	heapd__response__free_unpacked(r, NULL);
	expect(read_r(fd, 11, obj, 0, alone + 1), HEAPD__STATUS__LIMIT, 11);
	/* LIMIT comes before BAD_REF and RANGE. */
	doc_says("`read`: `length` against the room in the reply (`LIMIT`), before the object is looked at");
	expect(read_r(fd, 12, 1, 0, alone + 1), HEAPD__STATUS__LIMIT, 12);
	expect(read_r(fd, 13, obj, (uint32_t)frame, alone + 1), HEAPD__STATUS__LIMIT, 13);
	expect(read_r(fd, 14, obj, (uint32_t)frame, 1), HEAPD__STATUS__RANGE, 14);

	for (uint32_t later = 0; later <= 3; later++) {
		uint32_t max = in_batch - per_later * later;
		r = batch_read_r(fd, 20 + later, obj, max, 1 + later);
		assert_int_equal(r->result_case, HEAPD__RESPONSE__RESULT_BATCH);
		assert_int_equal(r->batch->results[0]->status, HEAPD__STATUS__OK);
		assert_int_equal(r->batch->results[0]->data.len, max);
		assert_true(r->batch->failed != 1);
		heapd__response__free_unpacked(r, NULL);
		r = batch_read_r(fd, 30 + later, obj, max + 1, 1 + later);
		assert_int_equal(r->id, 30 + later);
		assert_int_equal(r->status, HEAPD__STATUS__LIMIT);
		assert_int_equal(r->batch->failed, 1);
		assert_int_equal(r->batch->results[0]->status, HEAPD__STATUS__LIMIT);
		for (uint32_t k = 1; k <= later; k++)
			assert_int_equal(r->batch->results[k]->status, HEAPD__STATUS__SKIPPED);
		heapd__response__free_unpacked(r, NULL);
	}
	raw_ping(fd, 40);
	stop(&d, fd);

	/* The budget is the frame length less a fixed part, with 4 bytes per
	 * SKIPPED result: at 4 KiB, (4096 - that part) / 4 ops run, one more
	 * is refused whole. */
	uint64_t budget = figure("Batch reply budget");
	uint64_t skipped = figure_n("Batch reply budget", 2);
	uint64_t fixed = frame - budget;
	doc_says("more than (`max_frame` \xe2\x88\x92 1024) / 4 ops");
	daemon_start(&d, "--max-frame-size", "4K", NULL);
	fd = session(&d, NULL);
	size_t most = (size_t)((4096 - fixed) / skipped);
	assert_int_equal(most_ops_run(fd, 50, most), HEAPD__STATUS__INVALID); /* op 1 has no operation */
	stop(&d, fd);
}

/* A batch of exactly the documented number of ops runs, one more is
 * refused whole with the request's id. */
static void ops_in_a_batch(void **state)
{
	(void)state;
	size_t most = (size_t)figure("Ops in a batch");
	struct daemon d;
	int fd = start(&d, NULL);
	most_ops_run(fd, 60, most);
	stop(&d, fd);
}

/* --- the decoding cap --- */

/* protobuf-c's allocations counted as the document says the daemon counts
 * them (twice the size rounded up to 16), refused past limit, from a
 * buffer of half the limit (what the count allows at most). */
struct counted {
	uint8_t *buf;
	size_t used, taken, limit;
};

static void *counted_alloc(void *arg, size_t n)
{
	struct counted *c = arg;
	size_t round = (n + 15) & ~(size_t)15;
	if (2 * round > c->limit - c->taken)
		return NULL;
	c->taken += 2 * round;
	void *p = c->buf + c->used;
	c->used += round;
	return p;
}

static void counted_free(void *arg, void *p)
{
	(void)arg;
	(void)p;
}

/* A frame holding Request {id, ping {n unknown fields "08 00"}}. */
static uint8_t *ping_with_unknowns(uint64_t id, size_t n, size_t *len)
{
	uint8_t *b = malloc(32 + 2 * n);
	assert_non_null(b);
	size_t k = 4;
	b[k++] = 0x08; /* id */
	k += put_varint(b + k, id);
	b[k++] = 0x1a; /* ping, field 3 */
	k += put_varint(b + k, 2 * n);
	for (size_t i = 0; i < n; i++) {
		b[k++] = 0x08; /* field 1, a varint: Ping has none */
		b[k++] = 0x00;
	}
	put_frame_len(b, k - 4);
	*len = k;
	return b;
}

/* Decoding a ping with n unknown fields fits in the cap. */
static int decodes_within(struct counted *c, size_t n)
{
	size_t len;
	uint8_t *frame = ping_with_unknowns(1, n, &len);
	c->used = c->taken = 0;
	ProtobufCAllocator a = {counted_alloc, counted_free, c};
	Heapd__Request *q = heapd__request__unpack(&a, len - 4, frame + 4);
	free(frame);
	return q != NULL;
}

/* The cap is the document's formula at the daemon's figures; a request
 * that decodes to exactly the cap (counted as the document says) is
 * answered, one field more gets LIMIT with id 0 and the session goes on;
 * before Hello, it is closed. The fields are unknown ones: they count. */
static void decoding_cap(void **state)
{
	(void)state;
	uint64_t cap = figure("Decoding cap");
	doc_says("Decoding one request may take at most 4 × `max_frame` + 512 bytes per `max_batch_ops` + 1 MiB");
	doc_says("each block as twice its size rounded up to a multiple of 16 bytes");
	doc_says("Every field on the wire counts, whether the message knows it or not");
	doc_says("A request past the cap gets a `LIMIT` error reply with id 0");
	struct daemon d;
	Heapd__Response *hello;
	int fd = start(&d, &hello);
	uint64_t formula =
		4 * (uint64_t)hello->hello->max_frame + 512 * (uint64_t)hello->hello->max_batch_ops + (1u << 20);
	heapd__response__free_unpacked(hello, NULL);
	if (cap != formula)
		fail_msg("%s: decoding cap %llu; 4 x max_frame + 512 x max_batch_ops + 1 MiB is %llu", PROTOCOL_DOC,
			 (unsigned long long)cap, (unsigned long long)formula);

	/* The most unknown fields that fit, found by bisection. Each costs
	 * more than 128 bytes, so cap / 128 of them do not fit. */
	struct counted c = {.limit = (size_t)cap};
	c.buf = malloc(c.limit / 2 + 64);
	assert_non_null(c.buf);
	size_t lo = 1, hi = (size_t)cap / 128;
	assert_true(decodes_within(&c, lo));
	assert_false(decodes_within(&c, hi));
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (decodes_within(&c, mid))
			lo = mid;
		else
			hi = mid;
	}
	free(c.buf);
	assert_true(2 * hi < figure("Frame length")); /* the frame itself is allowed */

	size_t len;
	uint8_t *frame = ping_with_unknowns(70, lo, &len);
	raw_send(fd, frame, len);
	free(frame);
	expect(raw_reply(fd), HEAPD__STATUS__OK, 70);
	frame = ping_with_unknowns(71, hi, &len);
	raw_send(fd, frame, len);
	expect(raw_reply(fd), HEAPD__STATUS__LIMIT, 0);
	raw_ping(fd, 72);
	close(fd);

	fd = raw_connect(&d); /* before Hello */
	raw_send(fd, frame, len);
	free(frame);
	closes_after(fd, raw_reply(fd), HEAPD__STATUS__LIMIT, 0);
	stop(&d, fd);
}

/* --- Hello --- */

static void hello_rules(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	doc_says("A first request that is not a Hello, or a Hello with another `version`, gets a `PROTOCOL` error "
		 "with that request's `id`");
	doc_says("In each case the daemon then closes the connection, and requests sent after that first one are "
		 "not answered.");
	doc_says("The reply echoes the Hello's `id`.");
	int fd = raw_connect(&d);
	/* A ping, then a Hello, in one write: the ping is refused with its
	 * id, the Hello never answered. */
	Heapd__Ping p = HEAPD__PING__INIT;
	Heapd__Hello h = HEAPD__HELLO__INIT;
	h.version = 1;
	Heapd__Request ping = raw_request(5, HEAPD__REQUEST__OP_PING, &p);
	Heapd__Request hello = raw_request(6, HEAPD__REQUEST__OP_HELLO, &h);
	uint8_t both[64];
	size_t n1 = heapd__request__get_packed_size(&ping), n2 = heapd__request__get_packed_size(&hello);
	assert_true(8 + n1 + n2 <= sizeof both);
	size_t len = put_request(both, &ping);
	len += put_request(both + len, &hello);
	raw_send(fd, both, len);
	expect(raw_reply(fd), HEAPD__STATUS__PROTOCOL, 5);
	assert_null(raw_reply(fd));
	close(fd);

	fd = raw_connect(&d);
	closes_after(fd, hello_v(fd, 8, 2), HEAPD__STATUS__PROTOCOL, 8);
	close(fd);

	doc_says("A repeated Hello, once the session is established, gets a `PROTOCOL` error (`\"Hello was already "
		 "said\"`) with its `id`, whatever its `version`; it changes nothing, and the session goes on.");
	fd = raw_connect(&d);
	expect(hello_v(fd, 9, 1), HEAPD__STATUS__OK, 9);
	for (uint32_t version = 0; version <= 2; version++) {
		Heapd__Response *r = hello_v(fd, 10 + version, version);
		assert_string_equal(r->error, "Hello was already said");
		refused(r, HEAPD__STATUS__PROTOCOL, 10 + version);
	}
	raw_ping(fd, 20);
	stop(&d, fd);
}

/* --- holds --- */

/* The documented hold limit, reached at the default with get_refs of one
 * slot (holds count repeats); at it, alloc gets LIMIT, alloc into_obj
 * still succeeds and takes no hold. */
static void holds_limit_and_alloc_into(void **state)
{
	(void)state;
	uint64_t limit = figure("Holds per session");
	size_t per = (size_t)figure("Ops in a batch");
	assert_true(limit % per == 0);
	doc_says("`alloc` with `into_obj` takes no hold");
	doc_says("It is not counted against `max_holds_per_session` (it succeeds when the session is at the limit), "
		 "and it gives the session nothing to `release` (`NOT_FOUND`).");
	struct daemon d;
	int fd = start(&d, NULL);
	uint64_t a = alloc_ok(fd, 2, 0); /* hold 1 */
	Heapd__SetRef sr = HEAPD__SET_REF__INIT;
	sr.obj = a;
	sr.target = a;
	expect(call_op(fd, 3, HEAPD__REQUEST__OP_SET_REF, &sr), HEAPD__STATUS__OK, 3);

	/* limit / per batches of per get_refs of a.0: the very last one is
	 * hold limit + 1. */
	Heapd__GetRef gr = HEAPD__GET_REF__INIT;
	gr.obj = a;
	Heapd__BatchOp get_op = HEAPD__BATCH_OP__INIT;
	get_op.op_case = HEAPD__BATCH_OP__OP_GET_REF;
	get_op.get_ref = &gr;
	for (uint64_t n = 0; n < limit / per; n++) {
		Heapd__Response *r = batch_r(fd, 4, per, &get_op, &get_op);
		if (n + 1 < limit / per) {
			if (r->status != HEAPD__STATUS__OK)
				fail_msg("batch %llu: %s", (unsigned long long)n, r->error);
		} else {
			assert_int_equal(r->status, HEAPD__STATUS__LIMIT);
			assert_int_equal(r->batch->failed, per);
		}
		heapd__response__free_unpacked(r, NULL);
	}

	expect(alloc_r(fd, 5, 0, 8, 0, 0, 0), HEAPD__STATUS__LIMIT, 5);
	uint64_t into = ok_ref(alloc_r(fd, 6, 0, 8, 0, a, 1));
	expect(release_r(fd, 7, into), HEAPD__STATUS__NOT_FOUND, 7);
	/* Releasing one hold makes room for exactly one. */
	expect(release_r(fd, 8, a), HEAPD__STATUS__OK, 8);
	ok_ref(alloc_r(fd, 9, 0, 8, 0, 0, 0));
	expect(alloc_r(fd, 10, 0, 8, 0, 0, 0), HEAPD__STATUS__LIMIT, 10);
	stop(&d, fd);
}

/* --- order of checks, object size, root names --- */

static void order_of_checks_and_sizes(void **state)
{
	(void)state;
	uint64_t max_object = figure("Object size");
	uint64_t name_max = figure("Root name");
	struct daemon d;
	int fd = start(&d, NULL);

	/* An object of exactly the documented size, and one byte more. */
	uint64_t big = ok_ref(alloc_r(fd, 3, 0, (uint32_t)(max_object - 8), 0, 0, 0));
	expect(release_r(fd, 4, big), HEAPD__STATUS__OK, 4);
	expect(alloc_r(fd, 5, 0, (uint32_t)(max_object - 7), 0, 0, 0), HEAPD__STATUS__LIMIT, 5);

	doc_says("`alloc`: `data` longer than `nbytes` (`RANGE`); with `into_obj`, that ref (`BAD_REF`), then "
		 "`into_slot` (`RANGE`), then a read-only `into_obj` (`PERMISSION`); the size against `max_object` "
		 "(`LIMIT`)");
	expect(alloc_r(fd, 6, UINT32_MAX, 4, 5, 0, 0), HEAPD__STATUS__RANGE, 6); /* 32 GiB, and 5 bytes for 4 */
	expect(alloc_r(fd, 7, 0, (uint32_t)max_object, 0, 1, 0), HEAPD__STATUS__BAD_REF, 7);
	uint64_t obj = alloc_ok(fd, 1, 8);
	expect(alloc_r(fd, 8, 0, (uint32_t)max_object, 0, obj, 1), HEAPD__STATUS__RANGE, 8);
	expect(alloc_r(fd, 9, 0, (uint32_t)max_object, 0, obj, 0), HEAPD__STATUS__LIMIT, 9);

	doc_says("(a null, stale or forged ref too: never `BAD_REF`)");
	expect(release_r(fd, 10, 0), HEAPD__STATUS__NOT_FOUND, 10);
	expect(release_r(fd, 11, obj ^ 0xff00000000ull), HEAPD__STATUS__NOT_FOUND, 11);

	/* Root names: 1 to the documented length. */
	char name[1024];
	assert_true(name_max + 1 < sizeof name);
	memset(name, 'n', name_max + 1);
	Heapd__RootSet rs = HEAPD__ROOT_SET__INIT;
	rs.obj = obj;
	rs.name = (ProtobufCBinaryData){.data = (uint8_t *)name, .len = name_max};
	expect(call_op(fd, 12, HEAPD__REQUEST__OP_ROOT_SET, &rs), HEAPD__STATUS__OK, 12);
	rs.name.len = name_max + 1;
	expect(call_op(fd, 13, HEAPD__REQUEST__OP_ROOT_SET, &rs), HEAPD__STATUS__INVALID, 13);
	rs.name.len = 0;
	expect(call_op(fd, 14, HEAPD__REQUEST__OP_ROOT_SET, &rs), HEAPD__STATUS__INVALID, 14);
	stop(&d, fd);
}

/* --- half-close --- */

static void half_close(void **state)
{
	(void)state;
	doc_says("The daemon answers every whole request it received before the end of the stream (a waiting `gc` "
		 "too), in order, writes the replies, then closes the connection; a frame cut short by the end of "
		 "the stream is dropped unanswered.");
	doc_says("The session's holds are dropped when the daemon reaches the end of the stream, which may be before "
		 "the client has read the replies");
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *other = client(&d);

	/* Thousands of requests, more than a turn and a read take, a gc in
	 * the middle and one last; then half a frame, then the end. */
	enum { N = 3000 };
	int fd = session(&d, NULL);
	uint8_t *all = malloc(N * 16 + 16);
	size_t len = 0;
	for (uint64_t i = 0; i < N; i++) {
		Heapd__Ping p = HEAPD__PING__INIT;
		Heapd__Gc g = HEAPD__GC__INIT;
		int gc = i == N / 2 || i == N - 1;
		Heapd__Request q = gc ? raw_request(1000 + i, HEAPD__REQUEST__OP_GC, &g)
				      : raw_request(1000 + i, HEAPD__REQUEST__OP_PING, &p);
		len += put_request(all + len, &q);
	}
	memcpy(all + len, "\0\0\0\x10" "abc", 7);
	len += 7;
	raw_send(fd, all, len);
	free(all);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	for (uint64_t i = 0; i < N; i++)
		expect(raw_reply(fd), HEAPD__STATUS__OK, 1000 + i);
	assert_null(raw_reply(fd));
	close(fd);

	/* The holds go at the end of the stream, before the client reads the
	 * replies it was sent. */
	fd = session(&d, NULL);
	uint64_t held = alloc_ok(fd, 0, 8);
	Heapd__Ping p = HEAPD__PING__INIT;
	Heapd__Request q = raw_request(99, HEAPD__REQUEST__OP_PING, &p);
	raw_send_request(fd, &q);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	for (int i = 0; stats_of(other)->holds != 0; i++) {
		assert_true(i < 500);
		sleep_ms(10);
	}
	assert_int_equal(heapd_gc(other), 0);
	char c;
	assert_int_equal(heapd_read(other, held, 0, &c, 1), HEAPD_EBADREF);
	expect(raw_reply(fd), HEAPD__STATUS__OK, 99);
	assert_null(raw_reply(fd));
	close(fd);
	heapd_close(other);
	daemon_stop(&d);
}

/* --- INTERNAL --- */

/* The daemon's address space capped near what it has: a read's buffer
 * cannot be had, which is INTERNAL, and the session goes on. Needs a
 * plain build (a sanitizer's allocator aborts rather than fail) and no
 * wrapper; says so and checks nothing where it cannot provoke it. */
static void internal_leaves_the_session_usable(void **state)
{
	(void)state;
	doc_says("An error reply to a request, `INTERNAL` included, leaves the session usable");
	if (UNDER_ASAN || UNDER_TSAN || wrapper()) {
		print_message("# INTERNAL not provoked: a sanitizer or wrapper build\n");
		return;
	}
	uint32_t alone = (uint32_t)figure("Read, alone");
	struct daemon d;
	int fd = start(&d, NULL);
	uint64_t obj = alloc_ok(fd, 0, alone);
	char path[64], line[256];
	unsigned long vm_kib = 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)d.pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %lu kB", &vm_kib) == 1)
			break;
	fclose(f);
	assert_true(vm_kib > 0);
	struct rlimit old, cap;
	assert_int_equal(prlimit(d.pid, RLIMIT_AS, NULL, &old), 0);
	cap = old; /* the soft limit only: the hard one could not be raised again */
	cap.rlim_cur = (rlim_t)(vm_kib + 8192) * 1024;
	assert_int_equal(prlimit(d.pid, RLIMIT_AS, &cap, NULL), 0);
	Heapd__Response *r = read_r(fd, 10, obj, 0, alone);
	Heapd__Status st = r->status;
	assert_int_equal(r->id, 10);
	heapd__response__free_unpacked(r, NULL);
	if (st == HEAPD__STATUS__INTERNAL)
		raw_ping(fd, 11);
	assert_int_equal(prlimit(d.pid, RLIMIT_AS, &old, NULL), 0);
	if (st != HEAPD__STATUS__INTERNAL) {
		assert_int_equal(st, HEAPD__STATUS__OK);
		print_message("# INTERNAL not provoked: the read got its memory\n");
	}
	r = read_r(fd, 12, obj, 0, alone);
	assert_int_equal(r->status, HEAPD__STATUS__OK);
	heapd__response__free_unpacked(r, NULL);
	stop(&d, fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(limits_table_matches_heapd_help),
		cmocka_unit_test(hello_and_frame_length),
		cmocka_unit_test(read_and_batch_limits),
		cmocka_unit_test(ops_in_a_batch),
		cmocka_unit_test(decoding_cap),
		cmocka_unit_test(hello_rules),
		cmocka_unit_test(holds_limit_and_alloc_into),
		cmocka_unit_test(order_of_checks_and_sizes),
		cmocka_unit_test(half_close),
		cmocka_unit_test(internal_leaves_the_session_usable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
