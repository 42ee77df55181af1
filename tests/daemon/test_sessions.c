/*
 * test_sessions.c - what connections own and what they share: holds end
 * with their connection, named roots outlive it; many clients at once; and
 * a client that writes requests without reading replies is held back
 * (the daemon's memory stays bounded) while everyone else is served.
 */
#include "daemonutil.h"

static void holds_end_with_connection(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *obs = client(&d);
	uint64_t base = stats_of(obs)->heap_objects;
	heapd *h = client(&d);
	heapd_ref r[100];
	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_alloc(h, 1, 16, &r[i]), 0);
	for (int i = 1; i < 100; i++)
		assert_int_equal(heapd_set_ref(h, r[i], 0, r[i - 1]), 0);
	assert_int_equal(heapd_gc(obs), 0);
	assert_int_equal(stats_of(obs)->heap_objects, base + 100); /* held: alive */
	assert_int_equal(stats_of(obs)->holds, 100);
	heapd_close(h);
	assert_int_equal(heapd_gc(obs), 0);
	heapd_stats *st = stats_of(obs);
	assert_int_equal(st->heap_objects, base);
	assert_int_equal(st->holds, 0);
	assert_int_equal(st->sessions, 1);
	char b;
	assert_int_equal(heapd_read(obs, r[50], 0, &b, 1), HEAPD_EBADREF);
	heapd_close(obs);
	daemon_stop(&d);
}

static void roots_outlive_their_creator(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *a = client(&d);
	heapd_ref obj, child;
	assert_int_equal(heapd_alloc(a, 1, 6, &obj), 0);
	assert_int_equal(heapd_alloc(a, 0, 4, &child), 0);
	assert_int_equal(heapd_write(a, obj, 0, "shared", 6), 0);
	assert_int_equal(heapd_write(a, child, 0, "kid!", 4), 0);
	assert_int_equal(heapd_set_ref(a, obj, 0, child), 0);
	assert_int_equal(heapd_root_set(a, "config/main", obj), 0);
	heapd_close(a);

	heapd *b = client(&d);
	assert_int_equal(heapd_gc(b), 0);
	heapd_ref got, kid;
	assert_int_equal(heapd_root_get(b, "config/main", &got), 0);
	assert_true(got == obj);
	char buf[8];
	assert_int_equal(heapd_read(b, got, 0, buf, 6), 0);
	assert_memory_equal(buf, "shared", 6);
	assert_int_equal(heapd_get_ref(b, got, 0, &kid), 0);
	assert_int_equal(heapd_read(b, kid, 0, buf, 4), 0);
	assert_memory_equal(buf, "kid!", 4);
	/* b's holds end too; the root still keeps both. */
	heapd_close(b);
	heapd *c = client(&d);
	assert_int_equal(heapd_gc(c), 0);
	assert_int_equal(stats_of(c)->heap_objects, 2);
	assert_int_equal(heapd_root_set(c, "config/main", 0), 0);
	assert_int_equal(heapd_gc(c), 0);
	assert_int_equal(stats_of(c)->heap_objects, 0);
	heapd_close(c);
	daemon_stop(&d);
}

#define CLIENTS 200

static void many_clients_at_once(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *c[CLIENTS];
	heapd_ref r[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		c[i] = client(&d);
		assert_int_equal(heapd_alloc(c[i], 0, sizeof i, &r[i]), 0);
		assert_int_equal(heapd_write(c[i], r[i], 0, &i, sizeof i), 0);
	}
	heapd_stats *st = stats_of(c[0]);
	assert_int_equal(st->sessions, CLIENTS);
	assert_int_equal(st->holds, CLIENTS);
	/* Every client reads every tenth client's object: no mix-ups. */
	for (int i = 0; i < CLIENTS; i++) {
		for (int j = 0; j < CLIENTS; j += 10) {
			int v = -1;
			assert_int_equal(heapd_read(c[i], r[j], 0, &v, sizeof v), 0);
			assert_int_equal(v, j);
		}
	}
	for (int i = 1; i < CLIENTS; i++)
		heapd_close(c[i]);
	assert_int_equal(heapd_gc(c[0]), 0);
	st = stats_of(c[0]);
	assert_int_equal(st->heap_objects, 1);
	assert_int_equal(st->sessions, 1);
	heapd_close(c[0]);
	daemon_stop(&d);
}

/* A raw client pipelines 64 KiB reads and never reads a reply. The daemon
 * must stop reading it once max_output_buffer of replies waits, so its
 * RSS stays bounded however much the client sends; others are served. */
static void silent_reader_is_held_back(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-output-buffer", "1M", NULL);
	heapd *good = client(&d);
	heapd_ref obj;
	assert_int_equal(heapd_alloc(good, 0, 65536, &obj), 0);
	assert_int_equal(heapd_write(good, obj, 0, "abc", 3), 0);
	uint64_t rss0 = stats_of(good)->rss_bytes;

	int fd = raw_connect(&d);
	raw_hello(fd);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	Heapd__Read rd = HEAPD__READ__INIT;
	rd.obj = obj;
	rd.length = 65536;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.op_case = HEAPD__REQUEST__OP_READ;
	req.read = &rd;
	uint8_t frame[64];
	size_t n = heapd__request__get_packed_size(&req), flen = 4 + n;
	frame[0] = frame[1] = frame[2] = 0;
	frame[3] = (uint8_t)n;
	heapd__request__pack(&req, frame + 4);
	/* Batches of frames: small sends would each cost a socket buffer's
	 * overhead and fill the buffers after a few hundred requests. */
	enum { BATCH = 4096 };
	uint8_t *batch = malloc(BATCH * flen);
	for (size_t i = 0; i < BATCH; i++)
		memcpy(batch + i * flen, frame, flen);
	/* Send until the daemon stops taking requests (the socket buffers
	 * fill), i.e. it has stopped reading this client. */
	size_t bytes = 0, replies_owed, off = 0;
	for (int stalls = 0; stalls < 20;) {
		ssize_t w = send(fd, batch + off, BATCH * flen - off, MSG_NOSIGNAL);
		if (w > 0) {
			bytes += (size_t)w;
			off = (off + (size_t)w) % (BATCH * flen);
			stalls = 0;
		} else {
			assert_true(w < 0 && errno == EAGAIN);
			stalls++;
			sleep_ms(20);
		}
	}
	free(batch);
	replies_owed = bytes / flen;
	/* It owes far more than 1 MiB of replies: without backpressure the
	 * daemon would hold them all (here at least 100 MiB). */
	assert_true(replies_owed * 65536 > 100u << 20);
	heapd_stats *st = stats_of(good);
	assert_true(st->rss_bytes < rss0 + (32u << 20));
	/* Everyone else is served. */
	uint64_t rtt;
	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_ping(good, &rtt), 0);
	char buf[3];
	assert_int_equal(heapd_read(good, obj, 0, buf, 3), 0);
	assert_memory_equal(buf, "abc", 3);
	/* Once it reads, what it asked for arrives (the first thousand
	 * replies are enough to see the daemon resume it). */
	fcntl(fd, F_SETFL, 0);
	for (size_t i = 0; i < 1000 && i < replies_owed; i++) {
		Heapd__Response *resp = raw_reply(fd);
		assert_non_null(resp);
		assert_int_equal(resp->status, HEAPD__STATUS__OK);
		assert_int_equal(resp->data.len, 65536);
		heapd__response__free_unpacked(resp, NULL);
	}
	close(fd);
	heapd_close(good);
	daemon_stop(&d);
}

/* CPU time (user + system) of a process, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* utime and stime are fields 14 and 15; the command field may hold
	 * spaces, so count from the closing parenthesis. */
	char *p = strrchr(buf, ')');
	long utime = 0, stime = 0;
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime), 2);
	return utime + stime;
}

/* A client that goes away leaves garbage; a quiet daemon finds it on its
 * own (idle_gc_period_s), returns the memory, and then sleeps: no CPU
 * while nothing happens. */
static void quiet_daemon_cleans_up_then_sleeps(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--idle-gc-period", "1", "--release-delay-ms", "100", NULL);
	heapd *h = client(&d);
	heapd_ref r;
	for (int i = 0; i < 20000; i++)
		assert_int_equal(heapd_alloc(h, 0, 1000, &r), 0);
	heapd_close(h);
	/* No gc request from anyone: within a few periods the objects go. */
	heapd *obs = client(&d);
	heapd_stats st;
	int i;
	for (i = 0; i < 50; i++) {
		sleep_ms(100);
		assert_int_equal(heapd_get_stats(obs, &st, sizeof st), 0);
		if (st.heap_objects == 0 && st.heap_released == st.heap_idle)
			break;
	}
	assert_int_equal(st.heap_objects, 0);
	assert_int_equal(st.heap_released, st.heap_idle); /* and the memory went back */
	assert_true(st.heap_idle > 16u << 20);
	heapd_close(obs);
	/* Nothing more happens: the daemon must sit in epoll_wait. */
	sleep_ms(1500);
	long before = cpu_ticks(d.pid);
	sleep_ms(2000);
	long used = cpu_ticks(d.pid) - before;
	assert_true(used <= 1); /* at most one tick (10 ms) in 2 s */
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(holds_end_with_connection),
		cmocka_unit_test(roots_outlive_their_creator),
		cmocka_unit_test(many_clients_at_once),
		cmocka_unit_test(silent_reader_is_held_back),
		cmocka_unit_test(quiet_daemon_cleans_up_then_sleeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
