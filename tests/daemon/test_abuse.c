/*
 * test_abuse.c - clients that misuse their connection, each at a scale
 * that would hurt a daemon without limits, and the daemon's answer:
 *
 *   connection_storm            2,000 connections at once, max_clients 1,000
 *   fd_limit_caps_clients       max_clients larger than RLIMIT_NOFILE allows
 *   slow_clients                a frame dribbled a byte at a time, and 50
 *                               clients each sitting on 1 MiB of an
 *                               unfinished frame
 *   silent_readers              20 clients pipelining reads, never reading
 *   huge_frames                 frames announcing 4 GiB, before and after Hello
 *   large_frames_given_back     16 idle clients that once wrote and read 4 MiB
 *   dense_frames                16 MiB frames of 2- and 3-byte fields
 *   hello_flood                 4,000 reconnects, 10,000 Hellos on one
 *                               connection, 1,000 clients gone before their
 *                               reply
 *
 * Every test checks three things besides its own: a bystander is served
 * and its data is intact; nothing leaks (sessions, descriptors); and the
 * daemon's peak RSS stays under a bound that follows from the limits it
 * was started with (abuseutil.h). docs/reliability.md has the figures.
 */
#include "abuseutil.h"
#include "runutil.h"

/* A client whose object must come through every abuse unchanged. */
struct bystander {
	heapd *h;
	heapd_ref obj;
};

static void bystander_start(struct bystander *b, const struct daemon *d)
{
	b->h = client(d);
	assert_int_equal(heapd_alloc(b->h, 0, 8, &b->obj), 0);
	assert_int_equal(heapd_write(b->h, b->obj, 0, "intact!!", 8), 0);
}

/* Starts heapd with the flags given (NULL-ended), and a bystander on it. */
static void start_watched(struct daemon *d, struct bystander *b, ...)
{
	va_list ap;
	va_start(ap, b);
	daemon_startv(d, ap);
	va_end(ap);
	bystander_start(b, d);
}

static void bystander_check(struct bystander *b)
{
	char buf[8];
	assert_int_equal(heapd_ping(b->h, NULL), 0);
	assert_int_equal(heapd_read(b->h, b->obj, 0, buf, 8), 0);
	assert_memory_equal(buf, "intact!!", 8);
}

/* Sessions and descriptors are back to what one bystander costs. */
static void no_leftovers(const struct daemon *d, struct bystander *b, int fds0)
{
	heapd_stats *st = NULL;
	for (int i = 0; i < 100; i++) {
		st = stats_of(b->h);
		if (st->sessions == 1 && fd_count(d->pid) == fds0)
			break;
		sleep_ms(20);
	}
	assert_int_equal(st->sessions, 1);
	assert_int_equal(fd_count(d->pid), fds0);
}

/* ------------------------------------------------- connection storm */

#define STORM 2000
#define STORM_MAX 1000

/* 2,000 connections opened before any is served, each then saying Hello:
 * exactly max_clients are served, the others read a LIMIT error naming
 * max_clients (refused, or shed for a newer one before their Hello was
 * read: admit.c) and then EOF; the served ones all work; a new client is
 * refused while they stay and served once one goes. */
static void connection_storm(void **state)
{
	(void)state;
	/* The test's own descriptors; the daemon inherits the limit. */
	if (raise_nofile(STORM + 256) != 0)
		fail_msg("RLIMIT_NOFILE: the hard limit is below %d", STORM + 256);
	struct daemon d;
	struct bystander b;
	start_watched(&d, &b, "--max-clients", "1000", "--log-level", "warn", "--admin-reserved-connections", "0",
		      "--max-clients-per-uid", "4096", NULL);
	uint64_t rss0 = rss_now(&d);
	int fds0 = fd_count(d.pid);
	static int fd[STORM];
	/* All connected first (the listen backlog holds them), then all
	 * Hellos, then all replies: the daemon meets them at once. */
	for (int i = 0; i < STORM; i++)
		fd[i] = raw_connect(&d);
	struct batch hello = {0};
	batch_add(&hello, rq_hello(1));
	for (int i = 0; i < STORM; i++)
		send(fd[i], hello.buf, hello.len, MSG_NOSIGNAL); /* a refused one may be closed already */
	batch_free(&hello);
	int served = 0, refused = 0;
	static int ok[STORM];
	for (int i = 0; i < STORM; i++) {
		Heapd__Response *resp = raw_reply(fd[i]);
		assert_non_null(resp);
		if (resp->status == HEAPD__STATUS__OK) {
			assert_int_equal(resp->id, 1);
			assert_int_equal(resp->result_case, HEAPD__RESPONSE__RESULT_HELLO);
			ok[i] = 1;
			served++;
		} else {
			assert_int_equal(resp->status, HEAPD__STATUS__LIMIT);
			assert_int_equal(resp->id, 0);
			assert_non_null(strstr(resp->error, "max_clients 1000"));
			assert_true(raw_closed(fd[i]));
			close(fd[i]);
			fd[i] = -1;
			refused++;
		}
		heapd__response__free_unpacked(resp, NULL);
	}
	/* The bystander holds one place. */
	assert_int_equal(served, STORM_MAX - 1);
	assert_int_equal(refused, STORM - STORM_MAX + 1);
	/* Every served connection works: an object each, read back. */
	struct batch req = {0};
	static heapd_ref obj[STORM];
	for (int i = 0; i < STORM; i++) {
		if (!ok[i])
			continue;
		batch_add(&req, rq_alloc_into(2, 0, 0, 0, sizeof i, &i, sizeof i));
		batch_send(fd[i], &req);
	}
	for (int i = 0; i < STORM; i++) {
		if (!ok[i])
			continue;
		Heapd__Response *resp = reply_expect(fd[i], 2, HEAPD__STATUS__OK);
		obj[i] = resp->ref;
		heapd__response__free_unpacked(resp, NULL);
		batch_add(&req, rq_read(3, obj[i], 0, sizeof i));
		batch_send(fd[i], &req);
	}
	for (int i = 0; i < STORM; i++) {
		if (!ok[i])
			continue;
		Heapd__Response *resp = reply_expect(fd[i], 3, HEAPD__STATUS__OK);
		assert_int_equal(resp->data.len, sizeof i);
		assert_memory_equal(resp->data.data, &i, sizeof i);
		heapd__response__free_unpacked(resp, NULL);
	}
	batch_free(&req);
	heapd_stats *st = stats_of(b.h);
	assert_int_equal(st->sessions, STORM_MAX);
	assert_int_equal(st->holds, STORM_MAX);
	/* Full: a new client reads the refusal through libheapd. */
	heapd *late = heapd_connect(d.sock);
	assert_int_equal(heapd_errcode(late), HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(late), "max_clients"));
	heapd_close(late);
	bystander_check(&b);
	/* One goes, a new one is served. */
	for (int i = 0; i < STORM; i++)
		if (ok[i]) {
			close(fd[i]);
			ok[i] = 0;
			break;
		}
	for (int i = 0; i < 100 && heapd_errcode(late = heapd_connect(d.sock)) == HEAPD_ELIMIT; i++) {
		heapd_close(late);
		sleep_ms(10);
	}
	assert_int_equal(heapd_errcode(late), 0);
	assert_int_equal(heapd_ping(late, NULL), 0);
	heapd_close(late);
	for (int i = 0; i < STORM; i++)
		if (ok[i])
			close(fd[i]);
	no_leftovers(&d, &b, fds0);
	/* An idle session costs its read buffer (64 KiB, touched only as far
	 * as it is filled) and a reply buffer. */
	rss_check(&d, rss0, STORM_MAX * (64 * KIB + 8 * KIB) + 16 * MIB, "connection_storm");
	heapd_close(b.h);
	daemon_stop(&d);
}

/* ------------------------------------------- descriptors vs max_clients */

static void limit_fds(struct daemon *d)
{
	const rlim_t *lim = d->arg;
	struct rlimit rl = {lim[0], lim[1]};
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* Opens n connections with Hello; returns how many were served, and
 * checks that every other one read the refusal naming max_clients. An
 * observer is connected first, once the connection that found the daemon
 * listening has been closed: it holds one place, so that exactly
 * max_clients - 1 are served. */
static int storm_count(const struct daemon *d, int n, int *fd, const char *max)
{
	heapd *obs = client(d);
	for (int i = 0; i < 100 && stats_of(obs)->sessions > 1; i++)
		sleep_ms(10);
	assert_int_equal(stats_of(obs)->sessions, 1);
	int served = 0;
	for (int i = 0; i < n; i++) {
		fd[i] = raw_connect(d);
		struct batch hello = {0};
		batch_add(&hello, rq_hello(1));
		send(fd[i], hello.buf, hello.len, MSG_NOSIGNAL);
		batch_free(&hello);
	}
	for (int i = 0; i < n; i++) {
		Heapd__Response *resp = raw_reply(fd[i]);
		assert_non_null(resp); /* never a bare EOF */
		if (resp->status == HEAPD__STATUS__OK) {
			served++;
		} else {
			assert_int_equal(resp->status, HEAPD__STATUS__LIMIT);
			assert_non_null(strstr(resp->error, max));
		}
		heapd__response__free_unpacked(resp, NULL);
	}
	heapd_close(obs);
	return served;
}

/* The number in heapd's "serving at most N clients" warning (valgrind,
 * under HEAPD_WRAPPER, keeps a few descriptors below the limit for
 * itself, so N is read rather than assumed); 0 if there is none. */
static unsigned capped_clients(const struct daemon *d)
{
	char *log = slurp(d->log);
	const char *p = log ? strstr(log, "serving at most ") : NULL;
	unsigned n = p ? (unsigned)strtoul(p + strlen("serving at most "), NULL, 10) : 0;
	free(log);
	return n;
}

/* max_clients 1000 with an open file limit of 96: heapd serves what fits
 * (96 - 32 reserved descriptors), says so at start, and refuses the rest
 * as past max_clients, with the clear error rather than connections reset
 * because accept() failed. With a hard limit that allows it, heapd raises
 * its soft limit and serves max_clients. */
static void fd_limit_caps_clients(void **state)
{
	(void)state;
	enum { N = 120 };
	int fd[N];
	char max[32];
	struct daemon d;
	daemon_prepare(&d);
	rlim_t hard[2] = {96, 96};
	d.child_setup = limit_fds;
	d.arg = hard;
	daemon_spawn(&d, "--max-clients", "1000", "--admin-reserved-connections", "0", NULL);
	unsigned cap = capped_clients(&d);
	if (!wrapper())
		assert_int_equal(cap, 64);
	assert_true(cap > 16 && cap <= 64);
	snprintf(max, sizeof max, "max_clients %u", cap);
	assert_int_equal(storm_count(&d, N, fd, max), cap - 1);
	for (int i = 0; i < N; i++)
		close(fd[i]);
	daemon_stop(&d);

	rlim_t soft[2] = {96, 4096};
	daemon_prepare(&d);
	d.child_setup = limit_fds;
	d.arg = soft;
	daemon_spawn(&d, "--max-clients", "100", "--admin-reserved-connections", "0", NULL);
	/* valgrind refuses the raise (it keeps the hard limit for itself) */
	cap = capped_clients(&d);
	if (!wrapper())
		assert_int_equal(cap, 0);
	cap = cap ? cap : 100;
	snprintf(max, sizeof max, "max_clients %u", cap);
	assert_int_equal(storm_count(&d, N, fd, max), cap - 1);
	for (int i = 0; i < N; i++)
		close(fd[i]);
	daemon_stop(&d);
}

/* ------------------------------------------------------- slow clients */

#define HOLDERS 50

/* A frame dribbled one byte at a time, 25 ms apart (a second for the
 * frame: slowloris at 40x the speed, which changes nothing but the wait),
 * while a bystander's round trips are timed; meanwhile 50 clients each sit
 * on 1 MiB of a frame they have not finished. The bystander is served as
 * fast as ever, each unfinished frame costs the daemon no more than its
 * size, and every frame, once finished, is answered and applied. */
static void slow_clients(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	start_watched(&d, &b, "--max-frame-size", "2M", NULL);
	uint64_t rss0 = rss_now(&d);

	/* Holders: each allocates a 1 MiB object, then sends all but the last
	 * 100 bytes of a frame writing it. */
	enum { BIG = 1 << 20 };
	uint8_t *data = malloc(BIG);
	static int hfd[HOLDERS];
	static struct batch hb[HOLDERS];
	for (int i = 0; i < HOLDERS; i++) {
		hfd[i] = raw_connect(&d);
		raw_hello(hfd[i]);
		struct batch a = {0};
		batch_add(&a, rq_alloc_into(2, 0, 0, 0, BIG, NULL, 0));
		batch_send(hfd[i], &a);
		batch_free(&a);
		Heapd__Response *resp = reply_expect(hfd[i], 2, HEAPD__STATUS__OK);
		memset(data, 'a' + i % 26, BIG);
		batch_add(&hb[i], rq_write(3, resp->ref, 0, data, BIG));
		heapd__response__free_unpacked(resp, NULL);
		raw_send(hfd[i], hb[i].buf, hb[i].len - 100);
	}
	free(data);

	/* The dribbler: an alloc with data, one byte at a time. */
	int slow = raw_connect(&d);
	raw_hello(slow);
	struct batch f = {0};
	batch_add(&f, rq_alloc_into(7, 0, 0, 0, 16, "dribbled, slowly", 16));
	uint64_t worst = 0, pings = 0, began = mono_ns();
	for (size_t i = 0; i < f.len; i++) {
		raw_send(slow, f.buf + i, 1);
		uint64_t until = mono_ns() + 25000000u;
		while (mono_ns() < until) {
			uint64_t rtt;
			assert_int_equal(heapd_ping(b.h, &rtt), 0);
			worst = rtt > worst ? rtt : worst;
			pings++;
		}
	}
	uint64_t dribble = mono_ns() - began;
	Heapd__Response *resp = reply_expect(slow, 7, HEAPD__STATUS__OK);
	char got[16];
	assert_int_equal(heapd_read(b.h, resp->ref, 0, got, 16), 0);
	assert_memory_equal(got, "dribbled, slowly", 16);
	heapd__response__free_unpacked(resp, NULL);
	batch_free(&f);
	assert_int_equal(stats_of(b.h)->sessions, HOLDERS + 2);
	close(slow);
	print_message("# slow_clients: %llu round trips during the %llu ms dribble, worst %llu us\n",
		      (unsigned long long)pings, (unsigned long long)(dribble / 1000000),
		      (unsigned long long)(worst / 1000));
	/* A daemon that waited for the frame would answer one round trip in
	 * the whole dribble and stall it for most of it; one that serves
	 * around it answers one or more every 25 ms byte, however slow a
	 * shared machine makes each. */
	assert_true(pings >= f.len);
	assert_true(worst < dribble / 2);
	/* What the holders cost: their frames, and their objects. */
	rss_check(&d, rss0, 2 * HOLDERS * (BIG + 64 * KIB) + 16 * MIB, "slow_clients");

	/* The holders finish: every write is applied. */
	for (int i = 0; i < HOLDERS; i++) {
		raw_send(hfd[i], hb[i].buf + hb[i].len - 100, 100);
		status_expect(hfd[i], 3, HEAPD__STATUS__OK);
		batch_free(&hb[i]);
		struct batch r = {0};
		batch_add(&r, rq_ping(4));
		batch_send(hfd[i], &r);
		batch_free(&r);
		status_expect(hfd[i], 4, HEAPD__STATUS__OK);
		close(hfd[i]);
	}
	bystander_check(&b);
	heapd_close(b.h);
	daemon_stop(&d);
}

/* ----------------------------------------------------- silent readers */

#define SILENT 20

/* 20 clients pipeline 64 KiB reads and never read a reply. The daemon
 * stops reading each once max_output_buffer (1 MiB) of replies waits, so
 * what they cost is bounded by max_output_buffer, however much they send
 * (test_sessions: silent_reader_is_held_back does it for one client; this
 * is the many-client version, with the bound computed from the limits). */
static void silent_readers(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	start_watched(&d, &b, "--max-output-buffer", "1M", "--max-frame-size", "1M", NULL);
	heapd_ref obj;
	assert_int_equal(heapd_alloc(b.h, 0, 65536, &obj), 0);
	uint64_t rss0 = rss_now(&d);

	struct batch reads = {0};
	for (int i = 0; i < 4096; i++)
		batch_add(&reads, rq_read(100, obj, 0, 65536));
	size_t flen = reads.len / reads.n;
	static int fd[SILENT];
	static size_t sent[SILENT];
	for (int i = 0; i < SILENT; i++) {
		fd[i] = raw_connect(&d);
		raw_hello(fd[i]);
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	}
	/* Round robin until no client's socket takes more for 20 rounds. */
	for (int stalls = 0; stalls < 20;) {
		int progress = 0;
		for (int i = 0; i < SILENT; i++) {
			size_t off = sent[i] % reads.len;
			ssize_t w = send(fd[i], reads.buf + off, reads.len - off, MSG_NOSIGNAL);
			if (w > 0) {
				sent[i] += (size_t)w;
				progress = 1;
			} else {
				assert_true(w < 0 && errno == EAGAIN);
			}
		}
		stalls = progress ? 0 : stalls + 1;
		if (!progress)
			sleep_ms(20);
	}
	uint64_t owed = 0;
	for (int i = 0; i < SILENT; i++)
		owed += sent[i] / flen * 65536;
	print_message("# silent_readers: %llu MiB of replies asked for and not read\n",
		      (unsigned long long)(owed >> 20));
	assert_true(owed > (uint64_t)SILENT * (32 * MIB));
	/* The others are served. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_ping(b.h, NULL), 0);
	bystander_check(&b);
	/* Per client: max_output_buffer, the reply that crossed it, the
	 * read buffer and a frame of input. */
	rss_check(&d, rss0, SILENT * (1 * MIB + 64 * KIB + 64 * KIB + 1 * MIB) + 16 * MIB, "silent_readers");
	/* When they read, their replies come, in order. */
	for (int i = 0; i < SILENT; i++) {
		fcntl(fd[i], F_SETFL, 0);
		for (int k = 0; k < 50; k++)
			status_expect(fd[i], 100, HEAPD__STATUS__OK);
		close(fd[i]);
	}
	batch_free(&reads);
	heapd_close(b.h);
	daemon_stop(&d);
}

/* -------------------------------------------------------- huge frames */

/* Frames announcing 4 GiB - 1 (the largest a 4-byte length says), 2 GiB
 * and max_frame_size + 1, before and after Hello, some followed by body
 * bytes: each gets a LIMIT error naming the size, then EOF. The daemon
 * never reserves the body: its peak virtual size (VmPeak) does not move,
 * where one malloc of the announced size would add 4 GiB. */
static void huge_frames(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	start_watched(&d, &b, NULL);
	uint64_t rss0 = rss_now(&d), vm0 = proc_status(d.pid, "VmPeak");
	static const struct {
		const char *hdr, *size;
	} frames[] = {
		{"\xff\xff\xff\xff", "4294967295"},
		{"\x80\x00\x00\x00", "2147483648"},
		{"\x01\x00\x00\x01", "16777217"},
	};
	uint8_t junk[4096];
	memset(junk, 0x5a, sizeof junk);
	for (int i = 0; i < 300; i++) {
		int fd = raw_connect(&d);
		if (i % 2)
			raw_hello(fd);
		raw_send(fd, frames[i % 3].hdr, 4);
		if (i % 4 >= 2)
			send(fd, junk, sizeof junk, MSG_NOSIGNAL);
		Heapd__Response *resp = reply_expect(fd, 0, HEAPD__STATUS__LIMIT);
		assert_non_null(strstr(resp->error, frames[i % 3].size));
		heapd__response__free_unpacked(resp, NULL);
		assert_true(raw_closed(fd));
		close(fd);
	}
	uint64_t vm1 = proc_status(d.pid, "VmPeak");
	print_message("# huge_frames: VmPeak %llu -> %llu MiB\n", (unsigned long long)(vm0 >> 20),
		      (unsigned long long)(vm1 >> 20));
	if (!wrapper())
		assert_true(vm1 < vm0 + 64 * MIB);
	bystander_check(&b);
	assert_int_equal(stats_of(b.h)->sessions, 1);
	rss_check(&d, rss0, 16 * MIB, "huge_frames");
	heapd_close(b.h);
	daemon_stop(&d);
}

/* --------------------------------------------------- large frames */

#define LARGE_CLIENTS 16
#define LARGE (4u << 20)

/* 16 clients each write a 4 MiB object and read it back, then stay
 * connected and idle. Once the objects are collected and the pages
 * released, the daemon's resident size is back near where it started: a
 * session does not keep its largest request or reply buffered for as long
 * as it lives (64 MiB here without that). */
static void large_frames_given_back(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	start_watched(&d, &b, NULL);
	uint64_t rss0 = rss_now(&d);
	uint8_t *buf = malloc(LARGE), *back = malloc(LARGE);
	assert_non_null(buf);
	assert_non_null(back);
	heapd *h[LARGE_CLIENTS];
	for (int i = 0; i < LARGE_CLIENTS; i++) {
		heapd_ref obj;
		memset(buf, 'a' + i, LARGE);
		h[i] = client(&d);
		assert_int_equal(heapd_alloc(h[i], 0, LARGE, &obj), 0);
		assert_int_equal(heapd_write(h[i], obj, 0, buf, LARGE), 0);
		assert_int_equal(heapd_read(h[i], obj, 0, back, LARGE), 0);
		assert_memory_equal(back, buf, LARGE);
		assert_int_equal(heapd_release(h[i], obj), 0);
	}
	assert_int_equal(heapd_free_os_memory(b.h), 0);
	uint64_t rss1 = rss_now(&d);
	print_message("# large_frames_given_back: RSS %llu MiB at the start, %llu MiB after %d clients "
		      "wrote and read %u MiB each\n",
		      (unsigned long long)(rss0 >> 20), (unsigned long long)(rss1 >> 20), LARGE_CLIENTS, LARGE >> 20);
	/* ASan's quarantine, TSan's shadow and valgrind keep freed memory. */
	if (!wrapper() && !UNDER_ASAN && !UNDER_TSAN)
		assert_true(rss1 < rss0 + 16 * MIB);
	for (int i = 0; i < LARGE_CLIENTS; i++) {
		assert_int_equal(heapd_ping(h[i], NULL), 0);
		heapd_close(h[i]);
	}
	free(buf);
	free(back);
	bystander_check(&b);
	heapd_close(b.h);
	daemon_stop(&d);
}

/* --------------------------------------------------- dense frames */

/* Sends one frame of at most max bytes: id 7, then, inside field `field`
 * when it is not 0 (length-delimited), `unit` repeated. */
static void send_dense(int fd, unsigned field, const uint8_t *unit, size_t ulen, size_t max)
{
	uint8_t *f = malloc(4 + max);
	assert_non_null(f);
	size_t at = 4, room = max - 2 - (field ? 2 + 5 : 0);
	room -= room % ulen;
	f[at++] = 0x08; /* id = 7 */
	f[at++] = 7;
	if (field) {
		at += put_varint(f + at, (uint64_t)field << 3 | 2);
		at += put_varint(f + at, room);
	}
	for (size_t i = 0; i < room; i += ulen)
		memcpy(f + at + i, unit, ulen);
	at += room;
	put_frame_len(f, at - 4);
	raw_send(fd, f, at);
	free(f);
}

/* Frames of the largest size made of the smallest fields: 5.6 million
 * unknown fields, and a batch of 8.4 million empty ops (max_batch_ops is
 * 1024). protobuf-c builds a structure for each field it decodes, tens of
 * bytes for every 2 or 3 on the wire, so what decoding may take is capped
 * (docs/configuration.md): each gets LIMIT, the connection goes on, and
 * the daemon's peak RSS stays within the cap. */
static void dense_frames(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	start_watched(&d, &b, NULL);
	uint64_t rss0 = rss_now(&d);
	static const uint8_t unknown[] = {0xc0, 0x3e, 0x00}; /* field 1000 = 0 */
	static const uint8_t empty_op[] = {0x0a, 0x00};      /* an empty BatchOp */
	int fd = raw_connect(&d);
	raw_hello(fd);
	send_dense(fd, 0, unknown, sizeof unknown, 16 * MIB);
	Heapd__Response *resp = reply_expect(fd, 0, HEAPD__STATUS__LIMIT); /* no id: not decoded */
	print_message("# dense_frames: unknown fields: %s\n", resp->error);
	heapd__response__free_unpacked(resp, NULL);
	send_dense(fd, 16, empty_op, sizeof empty_op, 16 * MIB);
	resp = reply_expect(fd, 0, HEAPD__STATUS__LIMIT);
	print_message("# dense_frames: batch: %s\n", resp->error);
	heapd__response__free_unpacked(resp, NULL);
	raw_ping(fd, 8);
	close(fd);
	bystander_check(&b);
	/* A frame of input, the decoding limit, and room for the rest. */
	rss_check(&d, rss0, 16 * MIB + (4 * 16 * MIB + 512 * 1024 + MIB) + 16 * MIB, "dense_frames");
	heapd_close(b.h);
	daemon_stop(&d);
}

/* -------------------------------------------------------- Hello flood */

#define FLOODERS 4
#define RECONNECTS 1000
#define HELLOS 10000

/* Reconnects in a tight loop from four processes, 10,000 Hellos on one
 * connection (each after the first is refused, the session goes on), and
 * 1,000 clients that send Hello and go before the reply: afterwards no
 * session, descriptor or hold is left behind. */
static void hello_flood(void **state)
{
	(void)state;
	struct daemon d;
	struct bystander b;
	start_watched(&d, &b, "--log-level", "info", "--max-clients-per-uid", "4096", NULL);
	uint64_t rss0 = rss_now(&d);
	int fds0 = fd_count(d.pid);

	pid_t kids[FLOODERS];
	for (int k = 0; k < FLOODERS; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			for (int i = 0; i < RECONNECTS; i++) {
				heapd *h = heapd_connect(d.sock);
				heapd_ref r;
				if (!h || heapd_errcode(h) || (i % 10 == 0 && heapd_alloc(h, 0, 8, &r)))
					_exit(1);
				heapd_close(h);
			}
			_exit(0);
		}
	}
	int fd = raw_connect(&d);
	raw_hello(fd);
	struct batch hellos = {0};
	for (int i = 0; i < HELLOS; i++) {
		batch_add(&hellos, rq_hello(10 + (uint64_t)i));
		if (hellos.n == 1000 || i == HELLOS - 1) {
			uint64_t first = 10 + (uint64_t)i + 1 - hellos.n;
			unsigned n = hellos.n;
			batch_send(fd, &hellos);
			for (unsigned k = 0; k < n; k++)
				status_expect(fd, first + k, HEAPD__STATUS__PROTOCOL);
		}
	}
	batch_add(&hellos, rq_ping(5));
	batch_send(fd, &hellos);
	status_expect(fd, 5, HEAPD__STATUS__OK);
	batch_free(&hellos);
	close(fd);
	for (int i = 0; i < 1000; i++) {
		fd = raw_connect(&d);
		struct batch h = {0};
		batch_add(&h, rq_hello(1));
		batch_add(&h, rq_alloc_into(2, 0, 0, 0, 64, NULL, 0));
		batch_send(fd, &h);
		batch_free(&h);
		close(fd);
	}
	for (int k = 0; k < FLOODERS; k++) {
		int status;
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	bystander_check(&b);
	no_leftovers(&d, &b, fds0);
	assert_int_equal(heapd_gc(b.h), 0);
	heapd_stats *st = stats_of(b.h);
	assert_int_equal(st->holds, 1);
	assert_int_equal(st->heap_objects, 1);
	rss_check(&d, rss0, 16 * MIB, "hello_flood");
	heapd_close(b.h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connection_storm),
		cmocka_unit_test(fd_limit_caps_clients),
		cmocka_unit_test(slow_clients),
		cmocka_unit_test(silent_readers),
		cmocka_unit_test(huge_frames),
		cmocka_unit_test(large_frames_given_back),
		cmocka_unit_test(dense_frames),
		cmocka_unit_test(hello_flood),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
