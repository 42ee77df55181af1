/*
 * test_zerocopy.c - sealed objects and views through libheapd against a
 * real heapd (issue 19): sealing refuses every change, a view's bytes
 * stay as they were across collections and allocation until it is
 * released, views end with their connection (closed or killed), pages go
 * back to the OS only once no view holds them (the arena file's blocks
 * and heapd's RSS say so), the errors, the arena's growth past a
 * client's first mapping, objects larger than a frame, and views against
 * the hold limits. Every client runs as root, which heapd grants
 * zero-copy; test_zerocopy_access runs them as others.
 */
#include "zcutil.h"

static void start(struct daemon *d)
{
	daemon_start(d, "--gc-mark-workers", "0", NULL);
}

/* heapd_object_info's status for ref, asked by h. */
static int info_status(heapd *h, heapd_ref ref, struct heapd_object_info *info)
{
	return heapd_object_info(h, ref, info);
}

/* Sealed: every change refused (nothing allocated for alloc_into), reads
 * and refs followed as before, the objects it names still writable. */
static void seal_refuses_changes(void **state)
{
	(void)state;
	struct daemon d;
	start(&d);
	heapd *h = client(&d);
	heapd_ref obj = alloc_pattern(h, 2, 3000, 1), child, other, was = 7, got;
	assert_int_equal(heapd_alloc(h, 1, 16, &child), 0);
	assert_int_equal(heapd_alloc(h, 0, 16, &other), 0);
	assert_int_equal(heapd_set_ref(h, obj, 0, child), 0);
	struct heapd_object_info info;
	assert_int_equal(info_status(h, obj, &info), 0);
	assert_int_equal(info.sealed, 0);
	assert_int_equal(heapd_seal(h, obj), 0);
	assert_int_equal(info_status(h, obj, &info), 0);
	assert_int_equal(info.sealed, 1);
	assert_int_equal(info.nrefs, 2);
	assert_int_equal(info.nbytes, 3000);

	uint64_t objects = stats_of(h)->heap_objects;
	assert_int_equal(heapd_write(h, obj, 0, "x", 1), HEAPD_EPERM);
	assert_non_null(strstr(heapd_errmsg(h), "sealed"));
	assert_int_equal(heapd_set_ref(h, obj, 1, other), HEAPD_EPERM);
	assert_int_equal(heapd_set_ref(h, obj, 0, 0), HEAPD_EPERM);
	assert_int_equal(heapd_cas_ref(h, obj, 0, child, other, &was), HEAPD_EPERM);
	assert_int_equal(was, 7);  /* nothing shown past the refusal */
	assert_int_equal(heapd_alloc_into(h, obj, 1, 0, 8, "y", 1, &got), HEAPD_EPERM);
	assert_int_equal(stats_of(h)->heap_objects, objects);

	uint8_t back[3000];
	assert_int_equal(heapd_read(h, obj, 0, back, sizeof back), 0);
	assert_pattern(back, sizeof back, 1);
	assert_int_equal(heapd_get_ref(h, obj, 0, &got), 0);
	assert_int_equal(got, child);
	assert_int_equal(heapd_write(h, got, 15, "z", 1), 0);
	assert_int_equal(heapd_set_ref(h, got, 0, other), 0);
	assert_int_equal(info_status(h, child, &info), 0);
	assert_int_equal(info.sealed, 0);
	assert_int_equal(heapd_seal(h, obj), 0);  /* again: no error */

	/* Another connection sees it sealed and is refused alike. */
	heapd *h2 = client(&d);
	assert_int_equal(info_status(h2, obj, &info), 0);
	assert_int_equal(info.sealed, 1);
	assert_int_equal(heapd_write(h2, obj, 0, "x", 1), HEAPD_EPERM);
	heapd_close(h2);
	heapd_close(h);
	daemon_stop(&d);
}

/* The errors of view, view_release and seal. */
static void view_errors(void **state)
{
	(void)state;
	struct daemon d;
	start(&d);
	heapd *h = client(&d);
	const void *data = (const void *)1;
	size_t len = 1;
	heapd_ref open = alloc_pattern(h, 0, 100, 2);
	assert_int_equal(heapd_view(h, open, &data, &len), HEAPD_EINVAL);
	assert_non_null(strstr(heapd_errmsg(h), "not sealed"));
	assert_int_equal(heapd_view_release(h, open), HEAPD_ENOTFOUND);

	heapd_ref gone = sealed_pattern(h, 100, 3);
	assert_int_equal(heapd_release(h, gone), 0);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_view(h, gone, &data, &len), HEAPD_EBADREF);
	assert_int_equal(heapd_seal(h, gone), HEAPD_EBADREF);
	assert_int_equal(heapd_view(h, 0x1234567800000040ull, &data, &len), HEAPD_EBADREF);
	assert_int_equal(heapd_view(h, 0, &data, &len), HEAPD_EBADREF);

	/* A view is not a hold and a hold not a view: each release ends its own. */
	heapd_ref r = sealed_pattern(h, 100, 4);
	assert_int_equal(heapd_view(h, r, &data, &len), 0);
	assert_int_equal(len, 100);
	assert_pattern(data, len, 4);
	assert_int_equal(heapd_release(h, r), 0);
	assert_int_equal(heapd_release(h, r), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_gc(h), 0);
	assert_pattern(data, len, 4);  /* the view keeps it */
	assert_int_equal(heapd_view_release(h, r), 0);
	assert_int_equal(heapd_view_release(h, r), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_gc(h), 0);
	struct heapd_object_info info;
	assert_int_equal(info_status(h, r, &info), HEAPD_EBADREF);
	assert_int_equal(heapd_ping(h, NULL), 0);  /* the connection goes on */
	heapd_close(h);
	daemon_stop(&d);
}

/* Churns the heap: nobj objects of nbytes allocated and dropped, then a
 * collection, rounds times. */
static void churn(heapd *h, int rounds, int nobj, uint32_t nbytes)
{
	for (int k = 0; k < rounds; k++) {
		for (int i = 0; i < nobj; i++) {
			heapd_ref g;
			assert_int_equal(heapd_alloc_into(h, 0, 0, 0, nbytes, "garbage!", 8, &g), 0);
			assert_int_equal(heapd_release(h, g), 0);
		}
		assert_int_equal(heapd_gc(h), 0);
	}
}

/* Views keep their objects and bytes through collections and the reuse
 * of freed memory: a small object among garbage of its size class, a
 * large one among large garbage. Released, the object goes. */
static void views_outlive_collections(void **state)
{
	(void)state;
	struct daemon d;
	start(&d);
	heapd *h = client(&d), *v = client(&d);
	heapd_ref small = sealed_pattern(h, 200, 5), large = sealed_pattern(h, 3 * MIB, 6);
	const void *ds, *dl;
	size_t ls, ll;
	assert_int_equal(heapd_view(v, small, &ds, &ls), 0);
	assert_int_equal(heapd_view(v, large, &dl, &ll), 0);
	assert_int_equal(ls, 200);
	assert_int_equal(ll, 3 * MIB);
	assert_int_equal(heapd_release(h, small), 0);
	assert_int_equal(heapd_release(h, large), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(heapd_gc(h), 0);
	churn(h, 3, 3000, 200);
	churn(h, 3, 20, 3 * MIB);
	assert_pattern(ds, ls, 5);
	assert_pattern(dl, ll, 6);
	struct heapd_object_info info;
	assert_int_equal(info_status(h, small, &info), 0);
	assert_int_equal(info.sealed, 1);

	assert_int_equal(heapd_view_release(v, small), 0);
	assert_int_equal(heapd_view_release(v, large), 0);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(info_status(h, small, &info), HEAPD_EBADREF);
	assert_int_equal(info_status(h, large, &info), HEAPD_EBADREF);
	heapd_close(v);
	heapd_close(h);
	daemon_stop(&d);
}

/* The views of each connection, as client_list counts them (raw: the
 * library's rows have no such field). */
static void views_by_connection(const struct daemon *d, uint64_t *views, size_t n)
{
	int fd = raw_connect(d);
	raw_hello(fd);
	Heapd__ClientList cl = HEAPD__CLIENT_LIST__INIT;
	Heapd__Request req = raw_request(2, HEAPD__REQUEST__OP_CLIENT_LIST, &cl);
	Heapd__Response *resp = raw_call(fd, &req);
	assert_int_equal(resp->status, HEAPD__STATUS__OK);
	size_t k = 0;
	for (size_t i = 0; i < resp->clients->n_rows; i++)
		if (!resp->clients->rows[i]->self && k < n)
			views[k++] = resp->clients->rows[i]->views;
	assert_int_equal(k, n);
	heapd__response__free_unpacked(resp, NULL);
	close(fd);
}

/* 8 clients x 100 views of 4 objects, no other hold: every view reads
 * its bytes; the objects live while any client has a view. */
static void many_views_many_clients(void **state)
{
	(void)state;
	enum { CLIENTS = 8, VIEWS = 100, OBJS = 4 };
	struct daemon d;
	start(&d);
	heapd *h = client(&d), *c[CLIENTS];
	heapd_ref obj[OBJS];
	for (int i = 0; i < OBJS; i++)
		obj[i] = sealed_pattern(h, (uint32_t)(1000 + i * 50000), 10 + (unsigned)i);
	for (int k = 0; k < CLIENTS; k++) {
		c[k] = client(&d);
		for (int i = 0; i < VIEWS; i++) {
			const void *p;
			size_t len;
			int o = (k + i) % OBJS;
			assert_int_equal(heapd_view(c[k], obj[o], &p, &len), 0);
			assert_int_equal(len, 1000 + o * 50000);
			if (i < OBJS)
				assert_pattern(p, len, 10 + (unsigned)o);
		}
	}
	for (int i = 0; i < OBJS; i++)
		assert_int_equal(heapd_release(h, obj[i]), 0);
	uint64_t views[CLIENTS + 1];
	views_by_connection(&d, views, CLIENTS + 1);
	assert_int_equal(views[0], 0);  /* h */
	for (int k = 0; k < CLIENTS; k++)
		assert_int_equal(views[k + 1], VIEWS);
	heapd_uid_stat *rows;
	size_t n;
	assert_int_equal(heapd_uid_stats(h, &rows, sizeof *rows, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].holds, CLIENTS * VIEWS);  /* views count as holds */
	heapd_free_uid_stats(rows);

	for (int k = 0; k < CLIENTS - 1; k++) {
		heapd_close(c[k]);
		assert_int_equal(heapd_gc(h), 0);
	}
	struct heapd_object_info info;
	for (int i = 0; i < OBJS; i++)
		assert_int_equal(info_status(h, obj[i], &info), 0);
	heapd_close(c[CLIENTS - 1]);
	for (int i = 0; i < 50; i++) {  /* heapd sees the close at its own pace */
		assert_int_equal(heapd_gc(h), 0);
		if (info_status(h, obj[0], &info) == HEAPD_EBADREF)
			break;
		sleep_ms(20);
	}
	for (int i = 0; i < OBJS; i++)
		assert_int_equal(info_status(h, obj[i], &info), HEAPD_EBADREF);
	heapd_close(h);
	daemon_stop(&d);
}

/* A client killed with views open: they end with its connection, and the
 * object they alone held is collected. */
static void killed_client_views_end(void **state)
{
	(void)state;
	struct daemon d;
	start(&d);
	heapd *h = client(&d);
	heapd_ref r = sealed_pattern(h, 64 * KIB, 20);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		heapd *c = heapd_connect(d.sock);
		const void *data;
		size_t len;
		char ok = 'n';
		if (heapd_errcode(c) == 0 && heapd_view(c, r, &data, &len) == 0 && heapd_view(c, r, &data, &len) == 0 &&
		    len == 64 * KIB && pattern_diff(data, len, 20) == len)
			ok = 'y';
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char ok = 0;
	ssize_t got = read(p[0], &ok, 1);
	close(p[0]);
	if (got != 1 || ok != 'y') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("the child's views failed");
	}
	assert_int_equal(heapd_release(h, r), 0);
	assert_int_equal(heapd_gc(h), 0);
	struct heapd_object_info info;
	assert_int_equal(info_status(h, r, &info), 0);  /* the child's views */

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	int status = 0;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(heapd_gc(h), 0);
		if ((status = info_status(h, r, &info)) == HEAPD_EBADREF)
			break;
		sleep_ms(20);
	}
	assert_int_equal(status, HEAPD_EBADREF);
	heapd_uid_stat *rows;
	size_t n;
	assert_int_equal(heapd_uid_stats(h, &rows, sizeof *rows, &n, NULL), 0);
	assert_int_equal(rows[0].holds, 0);  /* the uid's count gave the views back */
	heapd_free_uid_stats(rows);
	heapd_close(h);
	daemon_stop(&d);
}

/* Pages under a view are not given back, however hard heapd is asked;
 * once the view ends they are: the arena file's blocks (fstat of the
 * descriptor the client was sent) and heapd's RSS fall by the object. */
static void scavenging_spares_views(void **state)
{
	(void)state;
	enum { BIG = 48 * MIB };
	struct daemon d;
	start(&d);
	heapd *h = client(&d), *v = client(&d);
	heapd_ref r = sealed_pattern(h, BIG, 30);
	const void *data;
	size_t len;
	struct fd_set_now before = arena_fds_now();
	assert_int_equal(heapd_view(v, r, &data, &len), 0);
	int fd = new_arena_fd(&before);
	assert_true(file_bytes(fd) >= BIG);
	assert_int_equal(heapd_release(h, r), 0);
	assert_int_equal(heapd_free_os_memory(h), 0);
	uint64_t blocks = file_bytes(fd), rss = rss_of(d.pid);
	assert_true(blocks >= BIG);
	assert_true(rss >= BIG);
	assert_pattern(data, len, 30);
	assert_true(file_bytes(fd) >= BIG);  /* reading it made nothing new */

	assert_int_equal(heapd_view_release(v, r), 0);
	assert_int_equal(heapd_free_os_memory(h), 0);
	uint64_t blocks2 = file_bytes(fd), rss2 = rss_of(d.pid);
	if (blocks - blocks2 < BIG - MIB || rss - rss2 < BIG - 4 * MIB)
		fail_msg("after the view: file %llu -> %llu bytes, heapd RSS %llu -> %llu",
			 (unsigned long long)blocks, (unsigned long long)blocks2, (unsigned long long)rss,
			 (unsigned long long)rss2);
	heapd_close(v);
	assert_int_equal(arena_fds(NULL, 0), before.n);  /* heapd_close closed it */
	heapd_close(h);
	daemon_stop(&d);
}

/* An object past what a client mapped at its first view: the arena grew
 * since (an allocation of more than 64 MiB), and the next view's reply
 * says so; its bytes read whole. A raw view says where it lies. */
static void view_past_the_first_mapping(void **state)
{
	(void)state;
	struct daemon d;
	start(&d);
	heapd *h = client(&d), *v = client(&d);
	heapd_ref first = sealed_pattern(h, 100, 40);
	const void *data;
	size_t len;
	struct fd_set_now before = arena_fds_now();
	assert_int_equal(heapd_view(v, first, &data, &len), 0);
	assert_pattern(data, len, 40);
	int fd = new_arena_fd(&before);
	uint64_t mapped = (uint64_t)fstat_of(fd).st_size;

	heapd_ref fill[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(heapd_alloc(h, 0, 30 * MIB, &fill[i]), 0);
	heapd_ref later = sealed_pattern(h, 6 * MIB, 41);
	assert_true((uint64_t)fstat_of(fd).st_size > mapped + 64 * MIB);
	int raw = raw_connect(&d);
	raw_hello(raw);
	Heapd__Response *resp = raw_view(raw, 2, later);
	assert_int_equal(resp->status, HEAPD__STATUS__OK);
	if (resp->view->offset + resp->view->length <= mapped)
		fail_msg("the object lies at %llu, within the first %llu bytes mapped",
			 (unsigned long long)resp->view->offset, (unsigned long long)mapped);
	assert_int_equal(resp->view->arena_size, (uint64_t)fstat_of(fd).st_size);
	heapd__response__free_unpacked(resp, NULL);
	close(raw);

	assert_int_equal(heapd_view(v, later, &data, &len), 0);
	assert_int_equal(len, 6 * MIB);
	assert_pattern(data, len, 41);
	assert_int_equal(heapd_view(v, first, &data, &len), 0);  /* the old part still mapped */
	assert_pattern(data, len, 40);
	heapd_close(v);
	heapd_close(h);
	daemon_stop(&d);
}

/* An object larger than max_frame_size cannot be read in one reply, but
 * is viewed whole. */
static void view_larger_than_a_frame(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", "--max-frame-size", "1M", NULL);
	heapd *h = client(&d);
	heapd_ref r = sealed_pattern(h, 8 * MIB, 50);
	static uint8_t buf[8 * MIB];
	assert_int_not_equal(heapd_read(h, r, 0, buf, sizeof buf), 0);
	heapd_close(h);
	h = client(&d);  /* whatever the refusal did to that connection */
	const void *data;
	size_t len;
	assert_int_equal(heapd_view(h, r, &data, &len), 0);
	assert_int_equal(len, 8 * MIB);
	assert_pattern(data, len, 50);
	heapd_close(h);
	daemon_stop(&d);
}

/* Views count against max_holds_per_uid and max_holds_per_session as
 * holds do (LIMIT, naming the setting), and give their room back. */
static void views_count_as_holds(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", "--max-holds-per-uid", "10", "--max-holds-per-session", "6",
		     NULL);
	heapd *h = client(&d), *h2 = client(&d), *h3 = client(&d);
	heapd_ref r = sealed_pattern(h, 64, 60);
	const void *data;
	size_t len;
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_view(h, r, &data, &len), 0);
	assert_int_equal(heapd_view(h, r, &data, &len), HEAPD_ELIMIT);  /* 1 hold + 5 views */
	assert_non_null(strstr(heapd_errmsg(h), "max_holds_per_session"));
	/* and the views leave no room for a hold either */
	heapd_ref more;
	assert_int_equal(heapd_alloc(h, 0, 8, &more), HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(h), "alloc: holds and views per connection: max_holds_per_session 6"));
	assert_int_equal(heapd_root_set(h, "r", r), 0);
	assert_int_equal(heapd_root_get(h, "r", &more), HEAPD_ELIMIT);
	assert_int_equal(heapd_view_release(h, r), 0);
	assert_int_equal(heapd_root_get(h, "r", &more), 0);  /* the view's room */
	assert_int_equal(heapd_release(h, more), 0);
	for (int i = 0; i < 5; i++)  /* h's 1 + 4 and these: the uid's 10 */
		assert_int_equal(heapd_view(h2, r, &data, &len), 0);
	assert_int_equal(heapd_view(h3, r, &data, &len), HEAPD_ELIMIT);  /* the uid's 10 */
	assert_non_null(strstr(heapd_errmsg(h3), "max_holds_per_uid"));
	assert_int_equal(heapd_view_release(h2, r), 0);
	assert_int_equal(heapd_ping(h2, NULL), 0);  /* the release goes with h2's next request */
	assert_int_equal(heapd_view(h3, r, &data, &len), 0);
	assert_pattern(data, len, 60);
	heapd_close(h2);
	for (int i = 0; i < 100; i++) {  /* h2's 4 views come back once heapd sees it close */
		if (heapd_view(h3, r, &data, &len) == 0)
			break;
		sleep_ms(20);
	}
	for (int i = 0; i < 3; i++)  /* h3 has 5, the uid 10 again */
		assert_int_equal(heapd_view(h3, r, &data, &len), 0);
	assert_int_equal(heapd_view(h3, r, &data, &len), HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(h3), "max_holds_per_uid"));
	heapd_close(h3);
	heapd_close(h);
	daemon_stop(&d);
}

/* A snapshot keeps seals: after a restart the object is still sealed,
 * and viewed in the new heapd's arena. */
static void seals_survive_a_restart(void **state)
{
	(void)state;
	struct daemon d;
	start(&d);
	heapd *h = client(&d);
	heapd_ref r = sealed_pattern(h, 200 * KIB, 70);
	assert_int_equal(heapd_root_set(h, "kept", r), 0);
	assert_int_equal(heapd_save(h, 1), 0);
	heapd_close(h);
	assert_int_equal(daemon_stop_sig(&d, SIGTERM), 0);
	daemon_spawn(&d, "--gc-mark-workers", "0", NULL);
	h = client(&d);
	assert_int_equal(heapd_root_get(h, "kept", &r), 0);
	struct heapd_object_info info;
	assert_int_equal(info_status(h, r, &info), 0);
	assert_int_equal(info.sealed, 1);
	assert_int_equal(heapd_write(h, r, 0, "x", 1), HEAPD_EPERM);
	const void *data;
	size_t len;
	assert_int_equal(heapd_view(h, r, &data, &len), 0);
	assert_int_equal(len, 200 * KIB);
	assert_pattern(data, len, 70);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_refuses_changes),
		cmocka_unit_test(view_errors),
		cmocka_unit_test(views_outlive_collections),
		cmocka_unit_test(many_views_many_clients),
		cmocka_unit_test(killed_client_views_end),
		cmocka_unit_test(scavenging_spares_views),
		cmocka_unit_test(view_past_the_first_mapping),
		cmocka_unit_test(view_larger_than_a_frame),
		cmocka_unit_test(views_count_as_holds),
		cmocka_unit_test(seals_survive_a_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
