/*
 * snapseeds.c - writes the snapshot target's seeds (fuzzsnap.h's input
 * format): valid snapshots of a few graphs made with the engine, each as a
 * file (snap_write) and as a stream (the engine's save), under several
 * ways of reading and cutting. make-corpus.sh runs it into
 * tests/fuzz/corpus/snapshot (docs/fuzzing.md):
 *
 *   tests/fuzz/snapseeds DIR
 *
 * The graphs: an empty heap; roots only; shared objects and cycles;
 * read-only handles in slots and roots (an object reached only through a
 * read-only handle, one reached both ways); a large object (> 32 KiB of
 * data); an object of 4,200 slots (large too, from 4 KiB of stream);
 * many roots on few objects; a long chain. And two past the fuzzed heap's
 * limits (fuzzsnap.h), which it must refuse: an object of 9,000 slots,
 * past max_object; a root past max_roots. They are made in a heap of the
 * default limits. From run to run the seeds differ only in the order of
 * the roots (a save writes them in the order of the heap's root table,
 * which hashes names with a random key) and a file's heapd version.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzzsnap.h"
#include "snapfile.h"

#define CREATED_NS 1767225600000000000ull  /* 2026-01-01, in every file */

static void die(const char *what, int err)
{
	fprintf(stderr, "snapseeds: %s: %s\n", what, err ? heap_strerror(err) : strerror(errno));
	exit(1);
}

static void ok(int err, const char *what)
{
	if (err)
		die(what, err);
}

static heap_ref obj(heap *h, heap_holds *hs, uint32_t nrefs, const char *text)
{
	heap_ref r;
	uint32_t len = (uint32_t)strlen(text);
	ok(heap_alloc_init(h, hs, nrefs, len, text, len, &r), "alloc");
	return r;
}

static heap_ref ro(heap *h, heap_ref r)
{
	ok(heap_ref_readonly(h, r, &r), "readonly");
	return r;
}

static void root(heap *h, const char *name, heap_ref r, uint32_t uid, uint32_t gid, uint16_t mode)
{
	struct heap_root_meta m = {uid, gid, mode};
	ok(heap_root_set(h, name, strlen(name), r, &m), "root_set");
}

static void g_empty(heap *h, heap_holds *hs)
{
	(void)h;
	(void)hs;
}

static void g_roots(heap *h, heap_holds *hs)
{
	root(h, "a", obj(h, hs, 0, "hello"), 1000, 1000, 0644);
	root(h, "config/b", obj(h, hs, 0, ""), 0, 0, 0600);
	root(h, "\xc3\xbcmlaut", obj(h, hs, 0, "data of the third"), 1001, 100, 0640);
}

static void g_shared(heap *h, heap_holds *hs)
{
	heap_ref ring[5], s = obj(h, hs, 1, "shared");
	ok(heap_set_ref(h, s, 0, s), "set_ref");
	for (int i = 0; i < 5; i++)
		ring[i] = obj(h, hs, 2, "ring");
	for (int i = 0; i < 5; i++) {
		ok(heap_set_ref(h, ring[i], 0, ring[(i + 1) % 5]), "set_ref");
		ok(heap_set_ref(h, ring[i], 1, s), "set_ref");
	}
	root(h, "ring", ring[0], 0, 0, 0644);
	root(h, "ring/3", ring[3], 0, 0, 0644);
	root(h, "shared", s, 1000, 1000, 0600);
}

static void g_readonly(heap *h, heap_holds *hs)
{
	heap_ref a = obj(h, hs, 3, "a"), b = obj(h, hs, 1, "b"), c = obj(h, hs, 1, "c"), d = obj(h, hs, 0, "d");
	heap_ref e = obj(h, hs, 1, "e"), f = obj(h, hs, 0, "f, behind a read-only handle only");
	ok(heap_set_ref(h, a, 0, ro(h, b)), "set_ref");
	ok(heap_set_ref(h, a, 1, c), "set_ref");
	ok(heap_set_ref(h, a, 2, ro(h, e)), "set_ref");
	ok(heap_set_ref(h, b, 0, d), "set_ref");
	ok(heap_set_ref(h, c, 0, b), "set_ref");
	ok(heap_set_ref(h, e, 0, f), "set_ref");
	root(h, "ro", ro(h, a), 0, 0, 0644);
	root(h, "full", a, 0, 0, 0600);
	root(h, "e", ro(h, e), 1000, 100, 0660);
}

static void g_large_data(heap *h, heap_holds *hs)
{
	static uint8_t data[33000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i % 251 == 0 ? i / 251 : 0);
	heap_ref big, head = obj(h, hs, 2, "head");
	ok(heap_alloc_init(h, hs, 1, sizeof data, data, sizeof data, &big), "alloc");
	ok(heap_set_ref(h, big, 0, head), "set_ref");
	ok(heap_set_ref(h, head, 0, big), "set_ref");
	ok(heap_set_ref(h, head, 1, ro(h, big)), "set_ref");
	ok(heap_seal(h, big), "seal");  /* a sealed large object and a small one */
	ok(heap_seal(h, head), "seal");
	root(h, "big", big, 0, 0, 0644);
}

static void g_large_slots(heap *h, heap_holds *hs)
{
	heap_ref wide = obj(h, hs, 4200, "wide");
	ok(heap_set_ref(h, wide, 4199, obj(h, hs, 0, "the last")), "set_ref");
	ok(heap_set_ref(h, wide, 17, wide), "set_ref");
	root(h, "wide", wide, 0, 0, 0644);
}

static void roots_on_few(heap *h, heap_holds *hs, int nroots)
{
	heap_ref o[40];
	for (int i = 0; i < 40; i++)
		o[i] = obj(h, hs, i % 3, i % 2 ? "odd" : "even");
	for (int i = 0; i < 40; i++)
		for (int k = 0; k < i % 3; k++)
			ok(heap_set_ref(h, o[i], (uint32_t)k, o[(i * 7 + k) % 40]), "set_ref");
	for (int j = 0; j < nroots; j++) {
		char name[16];
		snprintf(name, sizeof name, "r/%03d", j);
		root(h, name, j % 4 == 3 ? ro(h, o[j % 40]) : o[j % 40], 1000 + j % 3, 100, (uint16_t)(0600 | (j % 8) << 3));
	}
}

static void g_many_roots(heap *h, heap_holds *hs)
{
	roots_on_few(h, hs, 200);
}

static void g_past_max_roots(heap *h, heap_holds *hs)
{
	roots_on_few(h, hs, SNAPFZ_MAX_ROOTS + 1);
}

static void g_past_max_object(heap *h, heap_holds *hs)
{
	root(h, "too big", obj(h, hs, 9000, ""), 0, 0, 0644);
}

static void g_chain(heap *h, heap_holds *hs)
{
	heap_ref next = 0;
	for (int i = 0; i < 200; i++) {
		heap_ref n = obj(h, hs, 1, "node");
		ok(heap_set_ref(h, n, 0, next), "set_ref");
		next = n;
	}
	root(h, "list", next, 0, 0, 0644);
}

/* ---- the seeds ---- */

static uint8_t *file_of(heap *h, size_t *len)
{
	FILE *tmp = tmpfile();
	char err[256];
	struct snap_info info = {.created_unix_ns = CREATED_NS};
	struct stat st;
	if (!tmp)
		die("tmpfile", 0);
	if (snap_write(h, fileno(tmp), &info, err, sizeof err)) {
		fprintf(stderr, "snapseeds: snap_write: %s\n", err);
		exit(1);
	}
	if (fstat(fileno(tmp), &st))
		die("fstat", 0);
	uint8_t *f = malloc((size_t)st.st_size);
	if (!f || pread(fileno(tmp), f, (size_t)st.st_size, 0) != st.st_size)
		die("reading the file back", 0);
	fclose(tmp);
	*len = (size_t)st.st_size;
	return f;
}

static uint8_t *stream_of(heap *h, size_t *len)
{
	int r;
	while ((r = heap_save_begin(h)) == 1)
		heap_gc_slice(h, 1000000);
	ok(r, "save_begin");
	size_t cap = 1 << 16, n = 0;
	uint8_t *s = malloc(cap);
	for (int more = 1; more;) {
		if (s && cap - n < HEAP_SAVE_MIN_BUF)
			s = realloc(s, cap *= 2);
		if (!s)
			die("out of memory", 0);
		size_t k;
		more = heap_save_step(h, 1000000000, s + n, cap - n, &k);
		ok(more < 0 ? more : 0, "save_step");
		n += k;
	}
	heap_save_end(h);
	*len = n;
	return s;
}

static void put(const char *dir, const char *kind, const char *name, uint8_t how, const uint8_t *p, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s-%s", dir, kind, name);
	FILE *fp = fopen(path, "wb");
	if (!fp || fputc(how, fp) == EOF || fwrite(p, 1, len, fp) != len || fclose(fp))
		die(path, 0);
}

static uint8_t reads(unsigned r) { return (uint8_t)(r << SNAPFZ_READS_SHIFT); }
static uint8_t cut(unsigned c) { return (uint8_t)(c << SNAPFZ_CUT_SHIFT); }

static const struct graph {
	const char *name;
	void (*make)(heap *, heap_holds *);
} graphs[] = {
	{"empty", g_empty},
	{"roots", g_roots},
	{"shared-cycles", g_shared},
	{"readonly", g_readonly},
	{"large-data", g_large_data},
	{"large-slots", g_large_slots},
	{"many-roots", g_many_roots},
	{"chain", g_chain},
	{"past-max-object", g_past_max_object},
	{"past-max-roots", g_past_max_roots},
};

/* Each graph as a file and as a stream, read and cut in turn each way
 * but failing; the roots graph once more with a failing reader each way,
 * and as a stream in a lying frame. */
static void write_graph(const char *dir, unsigned i)
{
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.mark_workers = 0;
	heap *h = heap_new(&cfg);
	if (!h)
		die("heap_new", 0);
	heap_holds *hs = heap_holds_new(h);
	graphs[i].make(h, hs);
	size_t flen, slen;
	uint8_t *f = file_of(h, &flen), *s = stream_of(h, &slen);
	const char *name = graphs[i].name;
	put(dir, "file", name, reads(i % 3) | (i % 2 ? 0 : SNAPFZ_PROGRESS), f, flen);
	put(dir, "stream", name, SNAPFZ_STREAM | cut(i % 8) | reads((i + 1) % 3) | (i % 2 ? SNAPFZ_PROGRESS : 0), s, slen);
	if (graphs[i].make == g_roots) {
		put(dir, "file", "roots-failing-reads", reads(SNAPFZ_READS_FAIL) | SNAPFZ_PROGRESS, f, flen);
		put(dir, "stream", "roots-failing-reads", SNAPFZ_STREAM | cut(3) | reads(SNAPFZ_READS_FAIL), s, slen);
		put(dir, "stream", "roots-lie", SNAPFZ_STREAM | cut(2) | SNAPFZ_LIE, s, slen);
	}
	free(f);
	free(s);
	heap_holds_free(h, hs);
	heap_free(h);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: snapseeds DIR\n");
		return 2;
	}
	for (unsigned i = 0; i < sizeof graphs / sizeof graphs[0]; i++)
		write_graph(argv[1], i);
	return 0;
}
