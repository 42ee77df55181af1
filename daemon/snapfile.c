/*
 * snapfile.c - the snapshot file's format, its blocking writer and its
 * loader (snapfile.h).
 *
 * The loader trusts nothing: the header's magic, version, size and hash,
 * each block's length and hash, the end block, and nothing after it, are
 * checked here; the stream inside the blocks is the engine's to check
 * (heap_load). Every error names the offset where the fault is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "snapfile.h"

_Static_assert(SNAP_VERSION == HEAP_SAVE_FORMAT, "a file's version is its stream's format");

static const char magic[8] = {'H', 'E', 'A', 'P', 'D', 'S', 'N', 'P'};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A block's hash covers its payload, and its index and length through
 * the seed. */
static uint64_t block_hash(const uint8_t *payload, uint32_t len, uint64_t index)
{
	return XXH3_64bits_withSeed(payload, len, index << 32 | len);
}

void snap_header(uint8_t out[SNAP_HEADER], const struct snap_info *info)
{
	memset(out, 0, SNAP_HEADER);
	memcpy(out, magic, sizeof magic);
	put32(out + 8, SNAP_VERSION);
	put32(out + 12, SNAP_HEADER);
	strncpy((char *)out + 16, PACKAGE_VERSION, 15);
	put64(out + 32, info->objects);
	put64(out + 40, info->roots);
	put64(out + 48, info->slots);
	put64(out + 56, info->bytes);
	put64(out + 64, info->created_unix_ns);
	put64(out + 72, XXH3_64bits(out, 72));
}

size_t snap_seal(uint8_t *buf, uint32_t len, uint64_t index)
{
	put32(buf, len);
	put64(buf + 4 + len, block_hash(buf + 4, len, index));
	return (size_t)len + SNAP_BLOCK_EXTRA;
}

void snap_end(uint8_t out[SNAP_END], uint64_t index, uint64_t total)
{
	put32(out, 0);
	put64(out + 4, total);
	put64(out + 12, block_hash(out + 4, 8, index));
}

const char *snap_commit(int fd, const char *tmp, const char *path, const char *dir)
{
	if (fsync(fd))
		return "fsync";
	if (rename(tmp, path))
		return "rename";
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int bad = d < 0 || fsync(d);
	if (d >= 0)
		close(d);
	return bad ? "fsync of the directory" : NULL;
}

/* ---- writing, blocking ---- */

static int write_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t k = pwrite(fd, p, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

int snap_write(heap *h, int fd, struct snap_info *info, char *err, size_t cap)
{
	int r;
	while ((r = heap_save_begin(h)) == 1)
		heap_gc_slice(h, 10000000);
	if (r) {
		snprintf(err, cap, "cannot begin: %s", heap_strerror(r));
		return -1;
	}
	uint8_t *buf = malloc(SNAP_BLOCK_MAX + SNAP_BLOCK_EXTRA);
	if (!buf) {
		heap_save_end(h);
		snprintf(err, cap, "out of memory");
		return -1;
	}
	off_t off = SNAP_HEADER;
	uint64_t index = 0, total = 0;
	size_t fill = 0;
	int more = 1, werr = 0;
	while (more > 0 && !werr) {
		size_t len;
		more = heap_save_step(h, 100000000, buf + 4 + fill, SNAP_BLOCK_MAX - fill, &len);
		fill += len;
		total += len;
		if (more < 0 || !fill || (more && SNAP_BLOCK_MAX - fill >= HEAP_SAVE_MIN_BUF))
			continue;
		size_t n = snap_seal(buf, (uint32_t)fill, index++);
		werr = write_all(fd, buf, n, off) ? errno : 0;
		off += (off_t)n;
		fill = 0;
	}
	struct heap_save_info si;
	heap_save_info(h, &si);
	heap_save_end(h);
	free(buf);
	if (more < 0 || werr) {
		snprintf(err, cap, "%s%s", werr ? "write: " : "", werr ? strerror(werr) : heap_strerror(more));
		return -1;
	}
	uint8_t head[SNAP_HEADER], end[SNAP_END];
	*info = (struct snap_info){si.objects, si.roots, si.slots, si.bytes, info->created_unix_ns, SNAP_VERSION};
	snap_end(end, index, total);
	snap_header(head, info);
	if (write_all(fd, end, sizeof end, off) || write_all(fd, head, sizeof head, 0)) {
		snprintf(err, cap, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- loading ---- */

struct loader {
	snap_read_fn *rd;
	void *arg;
	uint64_t size, off;      /* the file's size; bytes read */
	uint64_t index, total;   /* blocks and stream bytes so far */
	uint64_t block_off;      /* where the block being loaded starts */
	uint8_t *buf;
	snap_progress_fn *progress;
	void *parg;
	char *err;
	size_t cap;
	int failed;              /* err says why */
};

static int lfail(struct loader *l, uint64_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lfail(struct loader *l, uint64_t off, const char *fmt, ...)
{
	int n = snprintf(l->err, l->cap, "offset %llu: ", (unsigned long long)off);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < l->cap)
		vsnprintf(l->err + n, l->cap - (size_t)n, fmt, ap);
	va_end(ap);
	l->failed = 1;
	return -1;
}

/* Reads exactly n bytes: 0, or -1 with the error said (what ends early). */
static int read_exact(struct loader *l, void *buf, size_t n, const char *what)
{
	uint64_t start = l->off;
	for (size_t got = 0; got < n;) {
		long k = l->rd(l->arg, (uint8_t *)buf + got, n - got);
		if (k < 0)
			return lfail(l, l->off, "read: %s", strerror(errno));
		if (k == 0)
			return lfail(l, start, "the file ends inside %s (truncated)", what);
		got += (size_t)k;
		l->off += (uint64_t)k;
	}
	return 0;
}

/* heap_load's source: the next block's payload, checked. */
static long next_block(void *arg, const uint8_t **chunk)
{
	struct loader *l = arg;
	uint8_t len4[4], h8[8];
	l->block_off = l->off;
	if (read_exact(l, len4, 4, "a block's length"))
		return -1;
	uint32_t len = get32(len4);
	if (len > SNAP_BLOCK_MAX)
		return lfail(l, l->block_off, "block %llu claims %u bytes, more than %u", (unsigned long long)l->index,
			     len, SNAP_BLOCK_MAX);
	if (len == 0) {
		uint8_t end[16];
		if (read_exact(l, end, 16, "the end block"))
			return -1;
		if (get64(end + 8) != block_hash(end, 8, l->index))
			return lfail(l, l->block_off, "the end block's hash does not match");
		if (get64(end) != l->total)
			return lfail(l, l->block_off, "the end block says %llu bytes of stream, the blocks hold %llu",
				     (unsigned long long)get64(end), (unsigned long long)l->total);
		uint8_t extra;
		long k = l->rd(l->arg, &extra, 1);
		if (k != 0)
			return lfail(l, l->off, k < 0 ? "read: %s" : "bytes after the end block%s",
				     k < 0 ? strerror(errno) : "");
		return 0;
	}
	if (read_exact(l, l->buf, len, "a block") || read_exact(l, h8, 8, "a block's hash"))
		return -1;
	if (get64(h8) != block_hash(l->buf, len, l->index))
		return lfail(l, l->block_off, "block %llu's hash does not match its %u bytes (corrupt)",
			     (unsigned long long)l->index, len);
	l->index++;
	l->total += len;
	if (l->progress)
		l->progress(l->parg, l->off, l->size);
	*chunk = l->buf;
	return (long)len;
}

static int read_header(struct loader *l, struct snap_info *info)
{
	uint8_t h[SNAP_HEADER];
	if (l->size < SNAP_HEADER)
		return lfail(l, 0, "%llu bytes, shorter than a snapshot's header (%u)", (unsigned long long)l->size,
			     SNAP_HEADER);
	if (read_exact(l, h, SNAP_HEADER, "the header"))
		return -1;
	if (memcmp(h, magic, sizeof magic))
		return lfail(l, 0, "not a heapd snapshot (no HEAPDSNP magic)");
	char by[16];
	memcpy(by, h + 16, 15);
	by[15] = '\0';
	for (char *c = by; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	uint32_t version = get32(h + 8);
	if (version != 1 && version != SNAP_VERSION)
		return lfail(l, 8, "format version %u (written by heapd %s); this heapd reads versions 1 and %u",
			     version, by, SNAP_VERSION);
	if (get32(h + 12) != SNAP_HEADER)
		return lfail(l, 12, "a header of %u bytes, not %u", get32(h + 12), SNAP_HEADER);
	if (get64(h + 72) != XXH3_64bits(h, 72))
		return lfail(l, 72, "the header's hash does not match (corrupt)");
	*info = (struct snap_info){get64(h + 32), get64(h + 40), get64(h + 48), get64(h + 56), get64(h + 64), version};
	return 0;
}

int snap_load(heap *h, snap_read_fn *rd, void *arg, uint64_t size, snap_progress_fn *progress, void *parg,
	      struct snap_info *info, char *err, size_t cap)
{
	struct loader l = {.rd = rd, .arg = arg, .size = size, .progress = progress, .parg = parg, .err = err,
			   .cap = cap};
	if (read_header(&l, info))
		return -1;
	if (!(l.buf = malloc(SNAP_BLOCK_MAX)))
		return lfail(&l, 0, "out of memory");
	char msg[256];
	/* The file's version is its stream's format: both went 1 to 2 with seals. */
	int r = heap_load(h, next_block, &l, size - SNAP_HEADER, (unsigned)info->version, msg, sizeof msg);
	free(l.buf);
	if (r && !l.failed)
		return lfail(&l, l.block_off, "in the block there: %s", msg);
	if (r)
		return -1;
	struct heap_stats st;
	heap_read_stats(h, &st);
	if (st.heap_objects != info->objects || st.named_roots != info->roots)
		return lfail(&l, 32, "the header says %llu objects and %llu roots, the stream holds %llu and %llu",
			     (unsigned long long)info->objects, (unsigned long long)info->roots,
			     (unsigned long long)st.heap_objects, (unsigned long long)st.named_roots);
	return 0;
}
