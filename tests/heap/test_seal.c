/*
 * test_seal.c - sealed objects, views and the arena's memfd (zero-copy
 * reads, issue 19).
 *
 * What a client relies on is checked through what a client has: a second,
 * read-only MAP_SHARED mapping of heap_arena_fd(), as the daemon's clients
 * map the descriptor it sends them. Bytes read there at a view's offset
 * must be the object's; the file's blocks (fstat st_blocks) and that
 * mapping's residency (mincore) must fall when the heap gives pages back.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* A read-only shared mapping of the arena's first len bytes, as a client
 * of heapd makes. */
static const uint8_t *map_arena(heap *h, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, heap_arena_fd(h), 0);
	assert_true(p != MAP_FAILED);
	return p;
}

static struct stat arena_stat(heap *h)
{
	struct stat st;
	assert_int_equal(fstat(heap_arena_fd(h), &st), 0);
	return st;
}

/* Bytes the arena's file takes in memory. */
static uint64_t arena_file_bytes(heap *h)
{
	return (uint64_t)arena_stat(h).st_blocks * 512;
}

/* Resident bytes of the OS pages over [p, p + len) in this process's
 * page tables. */
static size_t resident_bytes(const void *p, size_t len)
{
	size_t os = (size_t)sysconf(_SC_PAGESIZE), skew = (uintptr_t)p % os;
	size_t n = (len + skew + os - 1) / os, count = 0;
	unsigned char *vec = malloc(n);
	assert_int_equal(mincore((uint8_t *)p - skew, len + skew, vec), 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count * os;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 13));
}

/* Every change to a sealed object is refused, whatever the handle; reads
 * and following its refs go on, and what it points at stays writable. */
static void sealed_refuses_changes(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref obj, child, other, got, was;
	uint8_t data[64], back[64];
	fill(data, sizeof data, 1);
	OK(heap_alloc_init(h, hs, 2, sizeof data, data, sizeof data, &obj));
	OK(heap_alloc(h, hs, 1, 16, &child));
	OK(heap_alloc(h, hs, 0, 16, &other));
	OK(heap_set_ref(h, obj, 0, child));
	struct heap_object_info info;
	OK(heap_object_info(h, obj, &info));
	assert_false(info.sealed);

	OK(heap_seal(h, obj));
	OK(heap_object_info(h, obj, &info));
	assert_true(info.sealed);
	assert_int_equal(info.nrefs, 2);  /* the seal bit is not a slot count */
	assert_int_equal(info.nbytes, sizeof data);

	uint8_t x = 7;
	assert_int_equal(heap_write(h, obj, 0, &x, 1), HEAP_EPERM);
	assert_int_equal(heap_write(h, obj, 0, &x, 0), HEAP_EPERM);
	assert_int_equal(heap_set_ref(h, obj, 1, other), HEAP_EPERM);
	assert_int_equal(heap_set_ref(h, obj, 0, 0), HEAP_EPERM);
	/* cas: refused before comparing, for a matching and a stale expected */
	assert_int_equal(heap_cas_ref(h, obj, 0, child, other, &was), HEAP_EPERM);
	assert_int_equal(heap_cas_ref(h, obj, 1, child, other, &was), HEAP_EPERM);
	uint64_t objects = test_stats(h).heap_objects;
	assert_int_equal(heap_alloc_into(h, obj, 1, 0, 8, &got), HEAP_EPERM);
	assert_int_equal(heap_alloc_into_init(h, obj, 1, 0, 8, &x, 1, &got), HEAP_EPERM);
	assert_int_equal(test_stats(h).heap_objects, objects);  /* refused before allocating */

	/* Unchanged, readable, its refs followed. */
	OK(heap_read(h, obj, 0, back, sizeof back));
	assert_memory_equal(back, data, sizeof data);
	OK(heap_get_ref(h, obj, 0, NULL, &got));
	assert_int_equal(got, child);
	OK(heap_get_ref(h, obj, 1, NULL, &got));
	assert_int_equal(got, 0);

	/* Shallow: the child is neither sealed nor read-only through obj. */
	OK(heap_object_info(h, child, &info));
	assert_false(info.sealed);
	OK(heap_get_ref(h, obj, 0, NULL, &got));
	OK(heap_write(h, got, 1, &x, 1));
	OK(heap_set_ref(h, got, 0, other));

	/* Sealing again is no error; the read-only handle is refused too. */
	OK(heap_seal(h, obj));
	heap_ref ro;
	OK(heap_ref_readonly(h, obj, &ro));
	assert_int_equal(heap_write(h, ro, 0, &x, 1), HEAP_EPERM);
	heap_free(h);
}

/* Only a full handle seals; stale and made-up handles are refused. */
static void seal_needs_a_full_live_handle(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref obj, ro, gone;
	OK(heap_alloc(h, hs, 1, 32, &obj));
	OK(heap_ref_readonly(h, obj, &ro));
	assert_int_equal(heap_seal(h, ro), HEAP_EPERM);
	struct heap_object_info info;
	OK(heap_object_info(h, obj, &info));
	assert_false(info.sealed);
	uint8_t x = 1;
	OK(heap_write(h, obj, 0, &x, 1));  /* still writable */

	OK(heap_alloc(h, hs, 0, 32, &gone));
	OK(heap_release(h, hs, gone));
	heap_gc(h);
	assert_int_equal(heap_seal(h, gone), HEAP_EBADREF);
	assert_int_equal(heap_seal(h, obj ^ (1ull << 40)), HEAP_EBADREF);
	assert_int_equal(heap_seal(h, 0), HEAP_EBADREF);
	heap_free(h);
}

/* A sealed object's slots are still traced: the seal bit sits in the
 * header's slot count, which the collector reads (small objects) or the
 * span keeps (large ones). */
static void sealed_objects_are_traced(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref small, large, kids[6];
	OK(heap_alloc(h, hs, 3, 40, &small));
	OK(heap_alloc(h, hs, 3, 2 * MIB, &large));
	for (unsigned i = 0; i < 6; i++) {
		OK(heap_alloc(h, NULL, 0, 24, &kids[i]));
		OK(heap_set_ref(h, i < 3 ? small : large, i % 3, kids[i]));
	}
	OK(heap_seal(h, small));
	OK(heap_seal(h, large));
	for (int cycle = 0; cycle < 3; cycle++) {
		heap_gc(h);
		for (unsigned i = 0; i < 6; i++) {
			uint32_t nrefs, nbytes;
			OK(heap_object_size(h, kids[i], &nrefs, &nbytes));
			assert_int_equal(nbytes, 24);
		}
	}
	struct heap_object_info info;
	OK(heap_object_info(h, large, &info));
	assert_true(info.sealed);
	assert_int_equal(info.nrefs, 3);
	assert_int_equal(info.nbytes, 2 * MIB);
	heap_free(h);
}

/* Sealing while the mark worker reads the same headers: everything a
 * sealed object reaches survives, cycle after cycle. */
static void sealing_while_the_worker_marks(void **state)
{
	(void)state;
	enum { LINKS = 3000, WIDE = 8 };
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.gc_percent = -1;
	cfg.mark_workers = 1;
	heap *h = heap_new(&cfg);
	assert_non_null(h);
	heap_holds *hs = heap_holds_new(h);
	static heap_ref links[LINKS];
	heap_ref head, o;
	OK(heap_alloc(h, hs, WIDE + 1, 0, &head));
	links[0] = head;
	for (int i = 0; i < LINKS; i++) {
		for (uint32_t k = 0; k < WIDE; k++)
			OK(heap_alloc_into(h, links[i], k, 0, 8, &o));
		if (i < LINKS - 1)
			OK(heap_alloc_into(h, links[i], WIDE, WIDE + 1, 0, &links[i + 1]));
	}
	uint64_t objects = test_stats(h).heap_objects;
	heap_gc_begin(h);
	for (int i = 0; i < LINKS; i++) {
		OK(heap_seal(h, links[i]));
		if (i % 64 == 0)
			heap_gc_slice(h, 1000);
	}
	while (heap_gc_slice(h, 1000000))
		;
	heap_gc(h);
	assert_int_equal(test_stats(h).heap_objects, objects);
	for (int i = 0; i < LINKS; i++) {
		struct heap_object_info info;
		OK(heap_object_info(h, links[i], &info));
		assert_true(info.sealed);
		assert_int_equal(info.nrefs, WIDE + 1);
	}
	heap_free(h);
}

/* The place of a collected sealed object is reused by objects that are
 * not sealed. */
static void reused_memory_is_not_sealed(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	enum { N = 2000 };
	static heap_ref refs[N];
	for (unsigned i = 0; i < N; i++) {
		OK(heap_alloc(h, hs, 1, 48, &refs[i]));
		OK(heap_seal(h, refs[i]));
		OK(heap_release(h, hs, refs[i]));
	}
	heap_ref big;
	OK(heap_alloc(h, hs, 0, 4 * MIB, &big));
	OK(heap_seal(h, big));
	OK(heap_release(h, hs, big));
	heap_gc(h);
	assert_int_equal(test_stats(h).heap_objects, 0);
	uint8_t x = 9;
	for (unsigned i = 0; i < N; i++) {
		heap_ref r;
		OK(heap_alloc(h, hs, 1, 48, &r));
		OK(heap_write(h, r, 47, &x, 1));
		OK(heap_set_ref(h, r, 0, r));
		struct heap_object_info info;
		OK(heap_object_info(h, r, &info));
		assert_false(info.sealed);
	}
	OK(heap_alloc(h, hs, 0, 4 * MIB, &big));
	OK(heap_write(h, big, 0, &x, 1));
	heap_free(h);
}

/* heap_view: sealed only; the offset is the data's place in the arena
 * (the engine's pointer, and a client's mapping of the file, agree). */
static void view_says_where_the_data_is(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h), *views = heap_holds_new(h);
	static uint8_t data[3 * MIB + 8];  /* objects start at data + i */
	fill(data, sizeof data, 3);
	const uint32_t sizes[] = {0, 1, 100, 4000, 32000, 3 * MIB};
	const uint32_t nrefs[] = {0, 2, 5, 0, 1, 7};
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		heap_ref r, ro;
		uint64_t off = 1;
		uint32_t len = 1;
		OK(heap_alloc_init(h, hs, nrefs[i], sizes[i], data + i, sizes[i], &r));
		assert_int_equal(heap_view(h, r, views, &off, &len), HEAP_ENOTSEALED);
		assert_int_equal(heap_holds_count(views), 2 * i);  /* no hold on a refusal */
		OK(heap_seal(h, r));
		OK(heap_view(h, r, views, &off, &len));
		assert_int_equal(len, sizes[i]);
		const void *d;
		OK(heap_data(h, r, 0, 0, &d));
		assert_ptr_equal(h->base + off, d);
		assert_true(off + len <= heap_arena_size(h));
		const uint8_t *m = map_arena(h, heap_arena_size(h));
		assert_memory_equal(m + off, data + i, len);
		munmap((void *)m, heap_arena_size(h));
		/* A read-only handle views the same bytes. */
		uint64_t off2;
		uint32_t len2;
		OK(heap_ref_readonly(h, r, &ro));
		OK(heap_view(h, ro, views, &off2, &len2));
		assert_int_equal(off2, off);
		assert_int_equal(len2, len);
	}
	assert_int_equal(heap_holds_count(views), 2 * (sizeof sizes / sizeof sizes[0]));
	heap_ref gone;
	uint64_t off;
	uint32_t len;
	OK(heap_alloc(h, hs, 0, 8, &gone));
	OK(heap_seal(h, gone));
	OK(heap_release(h, hs, gone));
	heap_gc(h);
	assert_int_equal(heap_view(h, gone, views, &off, &len), HEAP_EBADREF);
	heap_free(h);
}

/* A view is a hold: the object outlives every other root and many
 * collections with its bytes untouched, and goes once the view is
 * released (each view of it, as holds count repeats). */
static void view_holds_the_object(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)1 << 30, 100);
	heap_holds *hs = heap_holds_new(h), *views = heap_holds_new(h);
	uint8_t data[5000];
	fill(data, sizeof data, 5);
	heap_ref r;
	uint64_t off;
	uint32_t len;
	OK(heap_alloc_init(h, hs, 1, sizeof data, data, sizeof data, &r));
	OK(heap_seal(h, r));
	OK(heap_view(h, r, views, &off, &len));
	OK(heap_view(h, r, views, &off, &len));
	OK(heap_release(h, hs, r));
	const uint8_t *m = map_arena(h, heap_arena_reserved(h));
	for (int round = 0; round < 4; round++) {
		heap_gc(h);
		/* Garbage of the same size class, whose places a freed object
		 * would give. */
		for (int i = 0; i < 5000; i++) {
			heap_ref g;
			OK(heap_alloc(h, hs, 1, sizeof data, &g));
			OK(heap_write(h, g, 0, "garbage!", 8));
			OK(heap_release(h, hs, g));
		}
		assert_memory_equal(m + off, data, sizeof data);
	}
	struct heap_object_info info;
	OK(heap_object_info(h, r, &info));
	OK(heap_release(h, views, r));
	heap_gc(h);
	OK(heap_object_info(h, r, &info));  /* the second view */
	OK(heap_release(h, views, r));
	assert_int_equal(heap_release(h, views, r), HEAP_ENOENT);
	heap_gc(h);
	assert_int_equal(heap_object_info(h, r, &info), HEAP_EBADREF);
	munmap((void *)m, heap_arena_reserved(h));
	heap_free(h);
}

/* Views count against max_holds; a view with no hold set adds none. */
static void views_count_as_holds(void **state)
{
	(void)state;
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.mark_workers = 0;
	cfg.max_holds = 4;
	heap *h = heap_new(&cfg);
	assert_non_null(h);
	heap_holds *hs = heap_holds_new(h);
	heap_ref r;
	uint64_t off;
	uint32_t len;
	OK(heap_alloc(h, hs, 0, 8, &r));
	OK(heap_seal(h, r));
	for (int i = 0; i < 3; i++)
		OK(heap_view(h, r, hs, &off, &len));
	assert_int_equal(heap_view(h, r, hs, &off, &len), HEAP_ELIMIT);
	assert_int_equal(heap_holds_count(hs), 4);
	OK(heap_view(h, r, NULL, &off, &len));
	assert_int_equal(heap_holds_count(hs), 4);
	heap_free(h);
}

/* The file grows with the heap, never shrinks, is never larger than
 * reserved; it is read-only to others and cannot be shrunk. */
static void arena_file_follows_the_heap(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)1 << 30, -1);
	heap_holds *hs = heap_holds_new(h);
	uint64_t reserved = heap_arena_reserved(h), size0 = heap_arena_size(h);
	struct stat st = arena_stat(h);
	assert_int_equal((uint64_t)st.st_size, size0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_true(reserved >= ((size_t)1 << 30));
	heap_ref r;
	for (int i = 0; i < 12; i++) {
		OK(heap_alloc(h, hs, 0, 16 * MIB, &r));
		assert_true(heap_arena_size(h) >= (uint64_t)(i + 1) * 16 * MIB);
		assert_int_equal((uint64_t)arena_stat(h).st_size, heap_arena_size(h));
	}
	uint64_t grown = heap_arena_size(h);
	assert_true(grown > size0 && grown <= reserved);
	assert_int_equal(heap_arena_reserved(h), reserved);
	/* F_SEAL_SHRINK: not even the heap's own descriptor shrinks it. */
	assert_int_not_equal(ftruncate(heap_arena_fd(h), 0), 0);
	heap_free_os_memory(h);  /* holds all kept: nothing to give */
	OK(heap_release(h, hs, r));
	heap_free_os_memory(h);
	assert_int_equal(heap_arena_size(h), grown);
	assert_int_equal((uint64_t)arena_stat(h).st_size, grown);
	heap_free(h);
}

/* Pages given back are holes in the file: its blocks fall, and they leave
 * a client's mapping as well as the heap's. A viewed object's pages stay
 * until the view goes. */
static void released_pages_leave_the_file(void **state)
{
	(void)state;
	enum { BIG = 48 * MIB };
	heap *h = test_heap_cfg((size_t)1 << 30, -1);
	heap_holds *hs = heap_holds_new(h), *views = heap_holds_new(h);
	heap_ref a, b;
	uint64_t off_b;
	uint32_t len;
	uint64_t blocks0 = arena_file_bytes(h);
	OK(heap_alloc(h, hs, 0, BIG, &a));
	OK(heap_alloc(h, hs, 0, BIG, &b));
	struct obj o;
	OK(obj_resolve(h, a, &o));
	uint8_t *pa = o.p + HDR_SIZE;
	memset(pa, 0x5a, BIG);
	OK(obj_resolve(h, b, &o));
	fill(o.p + HDR_SIZE, BIG, 7);
	OK(heap_seal(h, b));
	OK(heap_view(h, b, views, &off_b, &len));
	assert_true(arena_file_bytes(h) >= blocks0 + 2 * (uint64_t)BIG);

	/* A client's mapping, touched over both objects. */
	size_t size = heap_arena_size(h);
	const uint8_t *m = map_arena(h, size);
	uint64_t off_a = (uint64_t)(pa - h->base);
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < BIG; i += 4096)
		sink += m[off_a + i] + m[off_b + i];
	(void)sink;
	assert_true(resident_bytes(m + off_a, BIG) > BIG - MIB);
	assert_true(resident_bytes(m + off_b, BIG) > BIG - MIB);

	OK(heap_release(h, hs, a));
	OK(heap_release(h, hs, b));
	uint64_t before = arena_file_bytes(h);
	heap_free_os_memory(h);
	uint64_t after = arena_file_bytes(h);
	assert_true(before - after >= BIG - MIB);
	assert_true(after >= BIG);  /* b's pages kept */
	assert_true(resident_bytes(m + off_a, BIG) < MIB);
	assert_true(resident_bytes(h->base + off_a, BIG) < MIB);
	assert_true(resident_bytes(m + off_b, BIG) > BIG - MIB);
	uint8_t *want = malloc(BIG);
	fill(want, BIG, 7);
	assert_memory_equal(m + off_b, want, BIG);
	/* A hole reads as zero. Not through the mapping: a read fault on a
	 * memfd's hole fills it with a page. */
	for (size_t i = 0; i < BIG; i += MIB) {
		uint8_t b = 1;
		assert_int_equal(pread(heap_arena_fd(h), &b, 1, (off_t)(off_a + i)), 1);
		assert_int_equal(b, 0);
	}

	/* The view goes: so do b's pages, from the file and the mapping. */
	OK(heap_release(h, views, b));
	heap_free_os_memory(h);
	assert_true(after - arena_file_bytes(h) >= BIG - MIB);
	assert_true(resident_bytes(m + off_b, BIG) < MIB);
	free(want);
	munmap((void *)m, size);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sealed_refuses_changes),
		cmocka_unit_test(seal_needs_a_full_live_handle),
		cmocka_unit_test(sealed_objects_are_traced),
		cmocka_unit_test(sealing_while_the_worker_marks),
		cmocka_unit_test(reused_memory_is_not_sealed),
		cmocka_unit_test(view_says_where_the_data_is),
		cmocka_unit_test(view_holds_the_object),
		cmocka_unit_test(views_count_as_holds),
		cmocka_unit_test(arena_file_follows_the_heap),
		cmocka_unit_test(released_pages_leave_the_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
