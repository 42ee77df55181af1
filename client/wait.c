/*
 * wait.c - how a blocking call waits: it sends its requests and receives
 * replies until it has what it came for, or until its deadline (conn.h).
 *
 * No deadlock, bounded memory. The daemon stops reading a client whose
 * replies pile up unread (max_output_buffer), so a client that only
 * writes a long pipeline would wait forever on a full socket. exchange
 * never waits for the socket to take more without also reading: it polls
 * for both, and a reply that arrives is received. HWAIT_REPLY stops as
 * soon as the reply it wants is whole, so what it reads ahead is at most
 * one reply and one read; HWAIT_SENT reads ahead at most
 * HEAPD_PIPELINE_BYTES. When the socket takes everything at once (a short
 * request, the common case) a call costs one send, then recv tries while
 * it spins for the reply (spin.h), or one poll and one recv.
 *
 * Deadlines. A call with a timeout (heapd_set_timeout, $HEAPD_TIMEOUT_MS)
 * gives up timeout_ms after its wait began; heapd_connect's connect and
 * Hello share one deadline. The spin and the poll after it both end at
 * the deadline, so spinning never stretches a timeout. A call that gives
 * up closes the connection: the reply may still come, and nothing would
 * tell it from the next request's, so the stream is out of step for good.
 *
 * A daemon that goes away is "connection closed by the daemon", whether
 * the recv saw the end of the stream or a reset, or a send found the
 * socket closed; only other errors are reported by their errno.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

#define CLOSED_BY_DAEMON "connection closed by the daemon"

int hwait_broken(heapd *h, int code, const char *fmt, ...)
{
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(h->errmsg, sizeof h->errmsg, fmt, ap);
		va_end(ap);
	}
	h->err = h->dead = code;
	memcpy(h->deadmsg, h->errmsg, sizeof h->deadmsg);
	return code;
}

uint64_t hwait_deadline(const heapd *h)
{
	if (h->connect_deadline_ns)
		return h->connect_deadline_ns;
	return h->timeout_ms ? wire_mono_ns() + (uint64_t)h->timeout_ms * 1000000u : 0;
}

int hwait_env(uint32_t *ms)
{
	const char *env = getenv("HEAPD_TIMEOUT_MS");
	if (!env || !env[0])
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(env, &end, 10);
	if (errno || *end || env[0] < '0' || env[0] > '9' || v > UINT32_MAX)
		return -1;
	*ms = (uint32_t)v;
	return 1;
}

/* Whether errno e, from a send or a recv, says the daemon went away. */
static int gone(int e)
{
	return e == EPIPE || e == ECONNRESET;
}

/* Bytes received and not yet taken. */
static size_t untaken(const heapd *h)
{
	return h->core.in.len - h->core.taken;
}

/* One recv into core.in, of at least want bytes of room; flags as recv's
 * (core_recv, which keeps the arena's descriptor). Nothing to read now
 * (MSG_DONTWAIT) is not an error. */
static int receive(heapd *h, size_t want, int flags)
{
	size_t room;
	uint8_t *p = core_in_room(&h->core, want, &room);
	if (!p)
		return hwait_broken(h, HEAPD_ENOBUFS, "out of memory for a reply");
	ssize_t r = core_recv(&h->core, h->fd, p, room, flags);
	if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r > 0) {
		h->core.in.len += (size_t)r;
		return 0;
	}
	/* A send that failed may have had a reason, sent before the daemon
	 * closed (a refusal at accept): that reply is read and reported
	 * first; the send's error is for what is left. */
	int e = h->send_errno ? h->send_errno : r == 0 ? EPIPE : errno;
	if (gone(e))
		return hwait_broken(h, HEAPD_EIO, CLOSED_BY_DAEMON);
	return hwait_broken(h, HEAPD_EIO, "%s: %s", h->send_errno ? "send" : "recv", strerror(e));
}

/* Bytes core.in still lacks for the next reply to be whole (0: it is),
 * or -1 (the connection is then broken) for a length over max_frame. */
static ssize_t reply_lacks(heapd *h)
{
	ssize_t lacks = core_reply_lacks(&h->core);
	if (lacks < 0)
		hwait_broken(h, HEAPD_EPROTO, "reply longer than max_frame_size %u", h->core.max_frame);
	return lacks;
}

/* Waits for reply bytes without sleeping, if h->spin says so (spin.h),
 * yielding the CPU between tries (a daemon on the same CPU runs then),
 * until deadline at most (0: none). Returns >0 when bytes came, 0 when it
 * did not spin or saw none, or the error that broke the connection. */
static int spin_for_reply(heapd *h, size_t lacks, uint64_t deadline)
{
	if (!spin_start(&h->spin))
		return 0;
	uint64_t start = wire_mono_ns();
	for (;;) {
		/* Counted past taken: receive() may move the untaken bytes
		 * to the front, which shrinks in.len. */
		size_t had = untaken(h);
		int err = receive(h, lacks, MSG_DONTWAIT);
		if (err)
			return err;
		if (untaken(h) > had) {
			spin_hit(&h->spin);
			return 1;
		}
		uint64_t now = wire_mono_ns();
		if (now - start >= h->spin.ns || (deadline && now >= deadline))
			break;
		sched_yield();
	}
	spin_miss(&h->spin);
	return 0;
}

/* The deadline passed: the connection goes. */
static int timed_out(heapd *h, enum hwait_goal goal)
{
	uint32_t ms = h->timeout_ms;
	if (h->connect_deadline_ns)
		return hwait_broken(h, HEAPD_ETIMEDOUT,
				    "the daemon did not answer the Hello within %u ms (HEAPD_TIMEOUT_MS)", ms);
	if (goal == HWAIT_SENT)
		return hwait_broken(h, HEAPD_ETIMEDOUT,
				    "the daemon took no requests for %u ms (heapd_set_timeout); the connection is closed",
				    ms);
	return hwait_broken(h, HEAPD_ETIMEDOUT,
			    "request %llu got no reply within %u ms (heapd_set_timeout); the connection is closed",
			    (unsigned long long)core_oldest(&h->core)->id, ms);
}

/* How long poll may sleep before deadline (0: none): -1 for ever, or
 * milliseconds rounded up; 0 when it has passed. */
static int poll_ms(uint64_t deadline)
{
	if (!deadline)
		return -1;
	uint64_t now = wire_mono_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999u) / 1000000u;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int hwait_exchange(heapd *h, enum hwait_goal goal)
{
	struct core *c = &h->core;
	uint64_t deadline = hwait_deadline(h);
	for (;;) {
		ssize_t lacks = reply_lacks(h);
		if (lacks < 0)
			return h->err;
		size_t unsent = c->out.len - c->sent;
		if (goal == HWAIT_REPLY ? lacks == 0 : unsent == 0)
			return 0;
		if (unsent) {
			ssize_t w = send(h->fd, c->out.p + c->sent, unsent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0) {
				core_sent(c, (size_t)w);
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				/* Nothing more can go; what the daemon sent may still come. */
				h->send_errno = w == 0 ? EPIPE : errno;
				core_sent(c, unsent);
				continue;
			}
		}
		/* The socket takes no more now, or there is nothing to send. */
		if (goal == HWAIT_SENT && untaken(h) >= HEAPD_PIPELINE_BYTES)
			return 0; /* the rest goes as replies are taken */
		if (goal == HWAIT_REPLY && !unsent) {
			int got = spin_for_reply(h, (size_t)lacks, deadline);
			if (got < 0)
				return got;
			if (got)
				continue;
		}
		int ms = poll_ms(deadline);
		if (ms == 0)
			return timed_out(h, goal);
		/* Waits in poll, not in a blocking recv: a recv sleeps on the
		 * socket's one wait queue, where the daemon reading our request
		 * (freeing its buffer gives us write space) wakes it for nothing;
		 * poll is woken only for what it asked. That wake-up was one more
		 * per call, across CPUs when the daemon runs on another. */
		struct pollfd p = {.fd = h->fd, .events = unsent ? POLLIN | POLLOUT : POLLIN};
		int n = poll(&p, 1, ms);
		if (n < 0 && errno != EINTR)
			return hwait_broken(h, HEAPD_EIO, "poll: %s", strerror(errno));
		if (n <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue; /* writable: sent above; or the deadline, checked above */
		int err = receive(h, (size_t)lacks, MSG_DONTWAIT);
		if (err)
			return err;
	}
}
