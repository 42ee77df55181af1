/*
 * fuzz_snapshot.c - libFuzzer target: loading a snapshot, snap_load()
 * (daemon/snapfile.c) and the engine's heap_load() (daemon/heap/load.c),
 * which heapd runs on its state file before it serves, trusting nothing.
 *
 * The first input byte says how the rest is used (fuzzsnap.h). As a file,
 * the rest goes to snap_load as it is: the header's and the blocks'
 * checks are what the fuzzer reaches, as any change inside a block breaks
 * its hash. As a stream, the target frames it into a valid file first,
 * with snap_header (the counts the stream begins with), snap_seal over
 * blocks cut as the byte says, and snap_end: so the fuzzer reaches
 * heap_load's parser, and the blocks' lengths vary. Each input loads into
 * a new small heap (fuzzsnap.h), read from memory through a snap_read_fn
 * that gives short reads, and an I/O error, when the byte says so.
 *
 * Invariants, each an abort() with a message:
 *  - the reader is never asked for 0 bytes; the progress callback is told
 *    the file's size, and as done exactly the bytes read so far, never
 *    going back;
 *  - on a failure: err is a non-empty string within its cap (nothing
 *    written past it) that names an offset inside the file ("offset N:");
 *    a read error, once returned, is what the load fails with;
 *  - on a success: no read failed, the whole file was read, heap_objects
 *    and named_roots are the header's counts, the stream is one the
 *    format allows (snapmodel.c, parsing it without the engine; in file
 *    mode the stream is taken out of the blocks) and the heap holds its
 *    graph, before and after a full collection (sm_check);
 *  - stream mode, with a framing that does not lie and no read error: a
 *    stream the format allows, whose objects and roots fit the heap's
 *    limits, loads (the cuts between blocks never matter).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzsnap.h"
#include "snapfile.h"

#define ERR_BUF 512  /* err's buffer; snap_load gets a random cap of it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void snapfz_broken(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz_snapshot: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* splitmix64 */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* ---- the in-memory file ---- */

struct reader {
	const uint8_t *p;
	size_t len, pos;
	enum snapfz_reads how;
	size_t fail_at;  /* reads from here on fail with EIO */
	int failed;      /* one did */
	uint64_t rng;
};

static size_t read_len(struct reader *r)
{
	switch (r->how) {
	case SNAPFZ_READS_ALL: return SIZE_MAX;
	case SNAPFZ_READS_BYTE: return 1;
	default: break;
	}
	uint64_t x = next_rand(&r->rng);
	return (x & 3) == 0 ? SIZE_MAX : 1 + (size_t)(x >> 8) % ((size_t)1 << (x >> 2 & 15));
}

static long mem_read(void *arg, void *buf, size_t len)
{
	struct reader *r = arg;
	if (!len)
		snapfz_broken("the loader asked to read 0 bytes");
	if (r->pos >= r->fail_at) {
		r->failed = 1;
		errno = EIO;
		return -1;
	}
	size_t n = r->len - r->pos, most = read_len(r);
	n = n < len ? n : len;
	n = n < most ? n : most;
	n = n < r->fail_at - r->pos ? n : r->fail_at - r->pos;
	memcpy(buf, r->p + r->pos, n);
	r->pos += n;
	return (long)n;
}

struct progress {
	const struct reader *r;
	uint64_t size, last;
};

static void on_progress(void *arg, uint64_t done, uint64_t size)
{
	struct progress *p = arg;
	if (size != p->size || done != p->r->pos || done < p->last)
		snapfz_broken("progress: %llu of %llu after %llu, where %zu of %llu are read", (unsigned long long)done,
		       (unsigned long long)size, (unsigned long long)p->last, p->r->pos, (unsigned long long)p->size);
	p->last = done;
}

/* ---- stream mode: framing ---- */

static size_t cut_len(unsigned cut, uint64_t *rng)
{
	if (cut == 0)
		return SNAP_BLOCK_MAX;
	if (cut == 1)
		return 1;
	return 1 + (size_t)(next_rand(rng) % ((uint64_t)1 << (2 * cut - 2)));
}

/* The file holding stream s: header, blocks, end block; *info its
 * header's counts. Lying, the header has an object too many or the end
 * block a byte too many. */
static uint8_t *frame(const uint8_t *s, size_t len, uint8_t how, uint64_t *rng, size_t *flen, struct snap_info *info)
{
	uint64_t c[4];
	sm_counts(s, len, c);
	*info = (struct snap_info){c[0], c[1], c[2], c[3], next_rand(rng), SNAP_VERSION};
	int lie_total = (how & SNAPFZ_LIE) && (next_rand(rng) & 1);
	if ((how & SNAPFZ_LIE) && !lie_total)
		info->objects++;
	uint8_t *f = malloc(SNAP_HEADER + len * (1 + SNAP_BLOCK_EXTRA) + SNAP_END);
	if (!f)
		snapfz_broken("out of memory");
	snap_header(f, info);
	size_t off = SNAP_HEADER, done = 0;
	uint64_t index = 0;
	unsigned cut = (how & SNAPFZ_CUT_MASK) >> SNAPFZ_CUT_SHIFT;
	while (done < len) {
		size_t n = cut_len(cut, rng);
		n = n < len - done ? n : len - done;
		memcpy(f + off + 4, s + done, n);
		off += snap_seal(f + off, (uint32_t)n, index++);
		done += n;
	}
	snap_end(f + off, index, len + (size_t)lie_total);
	*flen = off + SNAP_END;
	return f;
}

/* file mode, after a success: the stream out of the blocks (valid, as
 * the load says), in a new buffer. */
static uint8_t *unframe(const uint8_t *f, size_t flen, size_t *len)
{
	uint8_t *s = malloc(flen), *out = s;
	if (!s)
		snapfz_broken("out of memory");
	for (size_t off = SNAP_HEADER; off + 4 <= flen;) {
		uint32_t n = (uint32_t)f[off] | (uint32_t)f[off + 1] << 8 | (uint32_t)f[off + 2] << 16 |
			     (uint32_t)f[off + 3] << 24;
		if (!n || off + 4 + n + 8 > flen)
			break;
		memcpy(out, f + off + 4, n);
		out += n;
		off += 4 + (size_t)n + 8;
	}
	*len = (size_t)(out - s);
	return s;
}

/* ---- the checks ---- */

struct load {
	const uint8_t *stream;  /* stream mode: the stream */
	size_t stream_len;
	struct snap_info want;  /* stream mode: the header's */
	uint8_t how;
	const uint8_t *file;
	size_t flen;
	struct reader rd;
	char err[ERR_BUF];
	size_t cap;
};

static void check_err(const struct load *l)
{
	for (size_t i = l->cap; i < ERR_BUF; i++)
		if (l->err[i] != (char)0xa5)
			snapfz_broken("err written past its cap of %zu, at %zu", l->cap, i);
	if (!memchr(l->err, '\0', l->cap))
		snapfz_broken("err not NUL-terminated within its cap of %zu", l->cap);
	if (l->cap > 1 && !l->err[0])
		snapfz_broken("a failure with an empty err");
	if (l->cap < 64)
		return;
	char *end;
	if (strncmp(l->err, "offset ", 7) != 0 || strtoull(l->err + 7, &end, 10) > l->flen || strncmp(end, ": ", 2))
		snapfz_broken("err names no offset inside the file: \"%s\"", l->err);
	if (l->rd.failed && l->cap >= 128 && !strstr(l->err, strerror(EIO)))
		snapfz_broken("a read failed, and err says another thing: \"%s\"", l->err);
}

/* Stream mode, the load failed: so must the format, or the limits, or
 * the framing (made to lie), or the reader. */
static void check_refused(const struct load *l)
{
	if (!(l->how & SNAPFZ_STREAM) || (l->how & SNAPFZ_LIE) || l->rd.failed)
		return;
	struct sm_model m;
	char why[128];
	if (sm_parse(&m, l->stream, l->stream_len, SNAP_VERSION, why, sizeof why) == 0 && m.biggest <= SNAPFZ_MAX_OBJECT &&
	    m.nroots <= SNAPFZ_MAX_ROOTS && m.total <= SNAPFZ_MAX_HEAP / 8)
		snapfz_broken("a valid stream within the limits is refused: \"%s\"", l->err);
	sm_free(&m);
}

static void check_loaded(heap *h, const struct load *l, const struct snap_info *info)
{
	if (l->rd.failed)
		snapfz_broken("a read failed, and the load succeeded");
	if (l->rd.pos != l->flen)
		snapfz_broken("a load that read %zu of the file's %zu bytes", l->rd.pos, l->flen);
	struct heap_stats st;
	heap_read_stats(h, &st);
	if (st.heap_objects != info->objects || st.named_roots != info->roots)
		snapfz_broken("%llu objects and %llu roots loaded, the header says %llu and %llu",
		       (unsigned long long)st.heap_objects, (unsigned long long)st.named_roots,
		       (unsigned long long)info->objects, (unsigned long long)info->roots);
	if ((l->how & SNAPFZ_STREAM) && memcmp(info, &l->want, sizeof *info))
		snapfz_broken("snap_load's info is not the header's");
	size_t len = l->stream_len;
	uint8_t *own = l->how & SNAPFZ_STREAM ? NULL : unframe(l->file, l->flen, &len);
	struct sm_model m;
	char why[128];
	if (sm_parse(&m, own ? own : l->stream, len, (unsigned)info->version, why, sizeof why))
		snapfz_broken("a stream the format refuses (%s) loaded", why);
	sm_check(h, &m);
	sm_free(&m);
	free(own);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct load *l = calloc(1, sizeof *l);
	struct heap_config cfg;
	snapfz_config(&cfg);
	heap *h = heap_new(&cfg);
	if (!l || !h)
		snapfz_broken("out of memory");
	uint64_t rng = data[0];
	uint8_t *framed = NULL;
	l->how = data[0];
	l->stream = data + 1;
	l->stream_len = size - 1;
	l->file = data + 1;
	l->flen = size - 1;
	if (l->how & SNAPFZ_STREAM)
		l->file = framed = frame(l->stream, l->stream_len, l->how, &rng, &l->flen, &l->want);
	l->rd = (struct reader){.p = l->file, .len = l->flen, .how = (l->how & SNAPFZ_READS_MASK) >> SNAPFZ_READS_SHIFT,
				.fail_at = SIZE_MAX, .rng = next_rand(&rng)};
	if (l->rd.how == SNAPFZ_READS_FAIL)
		l->rd.fail_at = (size_t)(next_rand(&rng) % (2 * (uint64_t)l->flen + 2));
	memset(l->err, 0xa5, sizeof l->err);
	l->cap = 1 + (size_t)(next_rand(&rng) % ERR_BUF);
	struct progress pr = {&l->rd, l->flen, 0};
	struct snap_info info;
	int r = snap_load(h, mem_read, &l->rd, l->flen, l->how & SNAPFZ_PROGRESS ? on_progress : NULL, &pr, &info,
			  l->err, l->cap);
	if (r != 0 && r != -1)
		snapfz_broken("snap_load returned %d", r);
	if (r) {
		check_err(l);
		check_refused(l);
	} else {
		check_loaded(h, l, &info);
	}
	heap_free(h);
	free(framed);
	free(l);
	return 0;
}
