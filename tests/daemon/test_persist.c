/*
 * test_persist.c - the heap across restarts, through the public API: a
 * graph with shared objects and cycles under several roots comes back
 * object by object after a stop and a start; old handles are refused; a
 * save taken while a client changes the graph loads as the graph when it
 * began; kill -9 in the middle of saves always leaves a snapshot that
 * loads; a full disk fails a save and keeps the previous snapshot; each
 * kind of damaged file stops heapd with exit 3 and a message naming the
 * file, the offset and the fault, and --discard-snapshot moves it aside.
 */
#include <sys/mount.h>

#include <xxhash.h>

#include "runutil.h"

/* The graph a test made, as it should come back. */
#define MAX_OBJ 4096
#define MAX_REFS 6
#define MAX_ROOTS 8
struct model {
	uint32_t n, nroots;
	uint32_t nrefs[MAX_OBJ], nbytes[MAX_OBJ];
	int slot[MAX_OBJ][MAX_REFS];   /* an object's number, -1 for null */
	uint8_t *data[MAX_OBJ];
	heapd_ref ref[MAX_OBJ];        /* its handle in the daemon that made it */
	char root[MAX_ROOTS][16];
	int root_obj[MAX_ROOTS];
	uint32_t root_mode[MAX_ROOTS];
};

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return n ? (uint32_t)(rnd_state % n) : 0;
}

static void model_free(struct model *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		free(m->data[i]);
	m->n = 0;
}

static void model_copy(struct model *to, const struct model *from)
{
	model_free(to);
	memcpy(to, from, sizeof *to);
	for (uint32_t i = 0; i < from->n; i++) {
		to->data[i] = malloc(from->nbytes[i] + 1);
		memcpy(to->data[i], from->data[i], from->nbytes[i]);
	}
}

/* n objects, linked at random (shared, cyclic), under nroots roots. */
static void model_build(heapd *h, struct model *m, uint32_t n, uint32_t nroots)
{
	model_free(m);
	m->n = n;
	for (uint32_t i = 0; i < n; i++) {
		m->nrefs[i] = rnd(MAX_REFS + 1);
		m->nbytes[i] = rnd(8) ? rnd(300) : 2000 + rnd(3000);
		m->data[i] = malloc(m->nbytes[i] + 1);
		for (uint32_t b = 0; b < m->nbytes[i]; b++)
			m->data[i][b] = (uint8_t)rnd(256);
		assert_int_equal(heapd_alloc_into(h, 0, 0, m->nrefs[i], m->nbytes[i], m->data[i], m->nbytes[i],
						  &m->ref[i]),
				 0);
	}
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < m->nrefs[i]; k++) {
			m->slot[i][k] = rnd(4) ? (int)rnd(n) : -1;
			assert_int_equal(heapd_set_ref(h, m->ref[i], k, m->slot[i][k] < 0 ? 0 : m->ref[m->slot[i][k]]),
					 0);
		}
	m->nroots = nroots;
	for (uint32_t r = 0; r < nroots; r++) {
		snprintf(m->root[r], sizeof m->root[r], "root-%u", r);
		m->root_obj[r] = (int)rnd(n);
		m->root_mode[r] = r % 2 ? 0600 : 0644;
		assert_int_equal(heapd_root_set(h, m->root[r], m->ref[m->root_obj[r]]), 0);
		assert_int_equal(heapd_root_chmod(h, m->root[r], m->root_mode[r]), 0);
	}
}

/* Changes that a save must not see when they come after it began. */
static void model_churn(heapd *h, struct model *m, int changes)
{
	for (int c = 0; c < changes; c++) {
		uint32_t i = rnd(m->n);
		if (m->nrefs[i] && rnd(2)) {
			uint32_t k = rnd(m->nrefs[i]);
			m->slot[i][k] = rnd(3) ? (int)rnd(m->n) : -1;
			assert_int_equal(heapd_set_ref(h, m->ref[i], k, m->slot[i][k] < 0 ? 0 : m->ref[m->slot[i][k]]), 0);
		} else if (m->nbytes[i]) {
			uint32_t off = rnd(m->nbytes[i]);
			m->data[i][off] ^= 0x5a;
			assert_int_equal(heapd_write(h, m->ref[i], off, &m->data[i][off], 1), 0);
		} else {
			uint32_t r = rnd(m->nroots);
			m->root_obj[r] = (int)i;
			assert_int_equal(heapd_root_set(h, m->root[r], m->ref[i]), 0);
		}
	}
}

/* Whether what the daemon of h has under the roots is m; the first
 * difference goes to why. Handles are the daemon's: each object of m gets
 * the one it is first reached by, and every other way to it must give
 * that same handle. */
static int same_graph(heapd *h, const struct model *m, char *why, size_t cap)
{
	static heapd_ref seen[MAX_OBJ];
	static int stack[MAX_OBJ];
	static uint8_t buf[8192];
	memset(seen, 0, sizeof seen);
	heapd_root_info *roots;
	size_t count;
	int truncated;
	assert_int_equal(heapd_root_list_info(h, &roots, &count, &truncated), 0);
	heapd_free_root_info(roots);
	if (count != m->nroots) {
		snprintf(why, cap, "%zu roots, not %u", count, m->nroots);
		return 0;
	}
	for (uint32_t r = 0; r < m->nroots; r++) {
		heapd_ref ref;
		int sp = 0;
		if (heapd_root_get(h, m->root[r], &ref)) {
			snprintf(why, cap, "root %s: %s", m->root[r], heapd_errmsg(h));
			return 0;
		}
		int o = m->root_obj[r];
		if (seen[o] && seen[o] != ref) {
			snprintf(why, cap, "root %s names another object", m->root[r]);
			return 0;
		}
		if (seen[o])
			continue;
		seen[o] = ref;
		stack[sp++] = o;
		while (sp) {
			int i = stack[--sp];
			heapd_ref v = seen[i];
			if (heapd_read(h, v, 0, buf, m->nbytes[i]) || memcmp(buf, m->data[i], m->nbytes[i]) ||
			    heapd_read(h, v, m->nbytes[i], buf, 1) != HEAPD_ERANGE) {
				snprintf(why, cap, "object %d: its %u bytes differ", i, m->nbytes[i]);
				return 0;
			}
			if (heapd_get_ref(h, v, m->nrefs[i], &ref) != HEAPD_ERANGE) {
				snprintf(why, cap, "object %d: more than %u slots", i, m->nrefs[i]);
				return 0;
			}
			for (uint32_t k = 0; k < m->nrefs[i]; k++) {
				int t = m->slot[i][k];
				if (heapd_get_ref(h, v, k, &ref) || (t < 0) != (ref == 0) ||
				    (t >= 0 && seen[t] && seen[t] != ref)) {
					snprintf(why, cap, "object %d slot %u differs", i, k);
					return 0;
				}
				if (t >= 0 && !seen[t]) {
					seen[t] = ref;
					stack[sp++] = t;
				}
			}
			heapd_release(h, v);
		}
	}
	return 1;
}

static void assert_graph(const struct daemon *d, const struct model *m)
{
	char why[200];
	heapd *h = client(d);
	if (!same_graph(h, m, why, sizeof why))
		fail_msg("after the restart: %s", why);
	heapd_close(h);
}

static void respawn(struct daemon *d)
{
	daemon_spawn(d, "--save-on-stop", "yes", "--gc-percent", "off", "--idle-gc-period", "0", NULL);
}

/* A fresh daemon holding a graph of n objects under nroots roots, and
 * the client that made it. */
static heapd *start_with_graph(struct daemon *d, struct model *m, uint32_t n, uint32_t nroots)
{
	daemon_prepare(d);
	respawn(d);
	heapd *h = client(d);
	model_build(h, m, n, nroots);
	return h;
}

/* SIGTERM saves; the next start loads it all; old handles are invalid. */
static void restart_keeps_graph(void **state)
{
	(void)state;
	static struct model m;
	struct daemon d;
	heapd *h = start_with_graph(&d, &m, 1500, 5);
	heapd_close(h);
	assert_int_equal(daemon_stop_sig(&d, SIGTERM), 0);
	respawn(&d);
	assert_graph(&d, &m);
	h = client(&d);
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->last_save_objects, st->heap_objects);
	char path[128];
	struct stat sb;
	snprintf(path, sizeof path, "%s/heapd.snapshot", d.state);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(st->last_save_size_bytes, (uint64_t)sb.st_size);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_true(st->load_duration_ns > 0);
	uint8_t b;
	for (uint32_t i = 0; i < 200; i++)  /* fewer than max_bad_refs */
		assert_int_equal(heapd_read(h, m.ref[i], 0, &b, 0), HEAPD_EBADREF);
	heapd_close(h);
	/* And again, with nothing changed. */
	assert_int_equal(daemon_stop_sig(&d, SIGTERM), 0);
	respawn(&d);
	assert_graph(&d, &m);
	daemon_stop(&d);
	model_free(&m);
}

/* save (no wait) while the client goes on changing the graph: after a
 * kill -9, the graph as it was when the save began. */
static void save_during_changes(void **state)
{
	(void)state;
	static struct model m, at_save;
	struct daemon d;
	heapd *h = start_with_graph(&d, &m, 4000, 8);
	model_copy(&at_save, &m);
	assert_int_equal(heapd_save(h, 0), 0);
	int during = 0, rounds = 0;
	for (;;) {
		model_churn(h, &m, 20);
		rounds++;
		heapd_stats *st = stats_of(h);
		if (!st->save_in_progress)
			break;
		during++;
	}
	assert_int_equal(stats_of(h)->saves_total, 1);
	print_message("# %d rounds of 20 changes while the save ran, of %d\n", during, rounds);
	heapd_close(h);
	assert_int_equal(daemon_stop_sig(&d, SIGKILL), -1);
	respawn(&d);
	assert_graph(&d, &at_save);
	daemon_stop(&d);
	model_free(&m);
	model_free(&at_save);
}

/* kill -9 at random moments of saves: the start after it loads either
 * the snapshot before or the one being saved, never anything else. */
static void kill_during_saves(void **state)
{
	(void)state;
	static struct model m, saved, saving;
	struct daemon d;
	heapd *h = start_with_graph(&d, &m, 2500, 6);
	assert_int_equal(heapd_save(h, 1), 0);
	model_copy(&saved, &m);
	heapd_close(h);
	int got_new = 0;
	for (int round = 0; round < 16; round++) {
		h = client(&d);
		model_churn(h, &m, 200);
		model_copy(&saving, &m);
		assert_int_equal(heapd_save(h, 0), 0);
		usleep(rnd(8000));  /* the save takes a few ms: some kills land in it */
		assert_int_equal(daemon_stop_sig(&d, SIGKILL), -1);
		heapd_close(h);
		respawn(&d);
		char why[200], why2[200];
		h = client(&d);
		if (same_graph(h, &saving, why, sizeof why)) {
			got_new++;
			model_copy(&saved, &saving);
		} else if (!same_graph(h, &saved, why2, sizeof why2)) {
			fail_msg("round %d: neither snapshot (%s; %s)", round, why, why2);
		}
		heapd_close(h);
		/* Go on from what was loaded: its handles are new. */
		h = client(&d);
		model_build(h, &m, 2500, 6);
		assert_int_equal(heapd_save(h, 1), 0);
		model_copy(&saved, &m);
		heapd_close(h);
	}
	print_message("# the save being killed was complete in %d of 16 rounds\n", got_new);
	daemon_stop(&d);
	model_free(&m);
	model_free(&saved);
	model_free(&saving);
}

/* A state_dir on a small tmpfs: the save that does not fit fails with
 * the disk's error; heapd serves on; the earlier snapshot stays. */
static void full_disk(void **state)
{
	(void)state;
	static struct model small;
	struct daemon d;
	daemon_prepare(&d);
	if (geteuid() != 0 || mkdir(d.state, 0700) ||
	    mount("tmpfs", d.state, "tmpfs", 0, "size=512k,mode=0700") != 0) {
		print_message("# skipped: mounting a tmpfs needs root (%s)\n", strerror(errno));
		rmdir(d.state);
		rmdir(d.dir);
		skip();
	}
	respawn(&d);
	heapd *h = client(&d);
	model_build(h, &small, 100, 2);
	assert_int_equal(heapd_save(h, 1), 0);
	for (int i = 0; i < 300; i++) {
		heapd_ref r;
		assert_int_equal(heapd_alloc_into(h, 0, 0, 0, 4000, "x", 1, &r), 0);
		char name[16];
		snprintf(name, sizeof name, "big-%d", i);
		assert_int_equal(heapd_root_set(h, name, r), 0);
	}
	assert_int_equal(heapd_save(h, 1), HEAPD_EFAILED);
	print_message("# %s\n", heapd_errmsg(h));
	assert_non_null(strstr(heapd_errmsg(h), "No space left on device"));
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->save_failures_total, 1);
	assert_int_equal(st->saves_total, 1);
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s/heapd.snapshot.tmp", d.state);
	assert_int_equal(access(tmp, F_OK), -1);
	heapd_close(h);
	assert_int_equal(daemon_stop_sig(&d, SIGKILL), -1);
	respawn(&d);
	assert_graph(&d, &small);
	assert_int_equal(daemon_stop_sig(&d, SIGKILL), -1);
	umount(d.state);
	daemon_clear_state(&d);
	unlink(d.log);
	rmdir(d.dir);
	model_free(&small);
}

/* ---- damaged files ---- */

static uint8_t *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	uint8_t *p = malloc(*len + 64);
	assert_int_equal(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

static void write_whole(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	fclose(f);
}

/* heapd on d's state_dir, to its exit: its status, and stderr in r. */
static int start_to_exit(struct daemon *d, struct run *r, int discard)
{
	char *argv[] = {(char *)env_or("HEAPD_BIN", "daemon/heapd"), "--config", "/dev/null", "--socket", d->sock,
			"--state-dir", d->state, "--log", "stderr", discard ? "--discard-snapshot" : NULL, NULL};
	run_env(r, NULL, argv);
	return r->code;
}

static void damaged_files(void **state)
{
	(void)state;
	static struct model m;
	struct daemon d;
	heapd *h = start_with_graph(&d, &m, 300, 3);
	heapd_close(h);
	assert_int_equal(daemon_stop_sig(&d, SIGTERM), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/heapd.snapshot", d.state);
	size_t len;
	uint8_t *good = read_whole(path, &len);
	assert_true(len > 200);
	uint8_t *bad = malloc(len + 64);
	struct {
		const char *what, *says;
		size_t len;
		void (*spoil)(uint8_t *p, size_t len);
	} cases[] = {
		{"bad magic", "not a heapd snapshot", 0, NULL},
		{"header hash", "header's hash", 0, NULL},
		{"newer version", "format version 3", 0, NULL},
		{"flipped byte", "hash does not match", 0, NULL},
		{"truncated in a block", "truncated", 0, NULL},
		{"no end block", "truncated", 0, NULL},
		{"bytes after the end", "after the end block", 0, NULL},
		{"short", "shorter than", 0, NULL},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		size_t n = len;
		memcpy(bad, good, len);
		switch (c) {
		case 0: bad[1] = 'X'; break;
		case 1: bad[40] ^= 1; break;
		case 2:
			bad[8] = 3;
			{
				uint64_t hash = XXH3_64bits(bad, 72);
				for (int i = 0; i < 8; i++)
					bad[72 + i] = (uint8_t)(hash >> 8 * i);
			}
			break;
		case 3: bad[len / 2] ^= 0x10; break;
		case 4: n = len / 2; break;
		case 5: n = len - 20; break;
		case 6: bad[len] = 0; n = len + 1; break;
		case 7: n = 40; break;
		}
		write_whole(path, bad, n);
		struct run r;
		int code = start_to_exit(&d, &r, 0);
		if (code != 3 || !strstr(r.err, path) || !strstr(r.err, "offset") || !strstr(r.err, cases[c].says))
			fail_msg("%s: exit %d, said: %s", cases[c].what, code, r.err);
		print_message("# %s: %s", cases[c].what, strstr(r.err, "cannot load"));
		run_free(&r);
	}
	/* --discard-snapshot: starts empty, the file moved aside. */
	daemon_spawn(&d, "--discard-snapshot", NULL);
	h = client(&d);
	assert_int_equal(stats_of(h)->named_roots, 0);
	heapd_close(h);
	assert_int_equal(access(path, F_OK), -1);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "ls %s/heapd.snapshot.bad-* >/dev/null && rm -f %s/heapd.snapshot.bad-*", d.state,
		 d.state);
	assert_int_equal(system(cmd), 0);
	daemon_stop(&d);
	free(good);
	free(bad);
	model_free(&m);
}

/* save needs an admin and a state_dir; save_interval saves by itself. */
static void save_rules(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--state-dir", "", NULL);
	heapd *h = client(&d);
	assert_int_equal(heapd_save(h, 1), HEAPD_EINVAL);
	heapd_close(h);
	daemon_stop(&d);
	daemon_start(&d, "--save-interval", "1", "--save-min-changes", "3", NULL);
	h = client(&d);
	heapd_ref r;
	assert_int_equal(heapd_alloc_into(h, 0, 0, 0, 8, "a", 1, &r), 0);
	assert_int_equal(heapd_root_set(h, "one", r), 0);
	sleep_ms(2500);
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->saves_total, 0);
	assert_int_equal(st->changes_since_save, 2);
	assert_int_equal(heapd_write(h, r, 0, "b", 1), 0);
	uint64_t t0 = mono_ns();
	while (stats_of(h)->saves_total == 0 && mono_ns() - t0 < 10000000000u)
		sleep_ms(50);
	st = stats_of(h);
	assert_int_equal(st->saves_total, 1);
	assert_int_equal(st->changes_since_save, 0);
	assert_int_equal(st->last_save_objects, 1);
	heapd_close(h);
	daemon_stop(&d);
}

/* The most one admin makes a storm of saves cost: one save running and one
 * queued behind it, whatever the requests; others are served meanwhile. */
static void saves_coalesce(void **state)
{
	(void)state;
	static struct model m;
	struct daemon d;
	heapd *h = start_with_graph(&d, &m, 4000, 4);
	heapd *other = client(&d);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(heapd_save(h, 0), 0);
		if (i % 20 == 0)
			assert_int_equal(heapd_ping(other, NULL), 0);
	}
	assert_int_equal(heapd_save(h, 1), 0);
	heapd_stats *st = stats_of(h);
	print_message("# 201 save requests: %llu saves\n", (unsigned long long)st->saves_total);
	assert_true(st->saves_total >= 1 && st->saves_total < 50);
	heapd_close(other);
	heapd_close(h);
	daemon_stop(&d);
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(restart_keeps_graph), cmocka_unit_test(save_during_changes),
		cmocka_unit_test(kill_during_saves),   cmocka_unit_test(full_disk),
		cmocka_unit_test(damaged_files),       cmocka_unit_test(save_rules),
		cmocka_unit_test(saves_coalesce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
