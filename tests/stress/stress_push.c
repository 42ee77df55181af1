/*
 * stress_push.c - several clients push onto one shared list at once with
 * compare and swap, and none of their pushes is lost (issue 18, part 5).
 *
 * Each pusher is a thread with a connection of its own. A push makes a
 * node (one slot, 8 bytes: the pusher's number and the push's), links it
 * to the head the pusher last saw (slot 0) and swaps the head from that to
 * the node, until a swap holds: a CONFLICT says what the head is now, and
 * the pusher links to that and tries again. Then it drops its hold on the
 * node, which only the list keeps from then on. Two heads:
 *   HEAD_ROOT    the root "push/list" names the head; the push is one
 *                batch [set_ref(node, 0, head), root_cas(list, head,
 *                node)], expected 0 while the list is empty, so the first
 *                push makes the root;
 *   HEAD_ANCHOR  slot 0 of a shared anchor object (the root "push/anchor")
 *                holds the head; the push is set_ref, then cas_ref, one
 *                call each.
 * Meanwhile the collector runs in 1 us slices (so swaps land while it
 * marks: the write barrier's case) and the coordinator asks for saves (so
 * the anchor changes while a save copies it on first change).
 *
 * At the end the coordinator walks the list from the head: every push is
 * there exactly once, each pusher's pushes in the order it made them (the
 * later nearer the head), and after a collection the heap holds the nodes
 * and the anchor, and nothing else. A pusher does not call cmocka (whose
 * failures jump out of the calling thread): it records its first error,
 * which the coordinator reports.
 */
#include <inttypes.h>
#include <pthread.h>

#include "../daemon/daemonutil.h"
#include "stress.h"

enum head { HEAD_ROOT, HEAD_ANCHOR };

struct pusher {
	pthread_t thread;
	const struct daemon *d;
	enum head head;
	heapd_ref anchor;
	uint32_t k, pushes;
	uint64_t conflicts;
	char error[256];
};

/* Records the first error of p's pushes; returns 1 if there is one. */
static int push_failed(struct pusher *p, heapd *h, int rc, const char *what)
{
	if (!rc || p->error[0])
		return rc != 0 || p->error[0];
	snprintf(p->error, sizeof p->error, "pusher %u: %s: %s", p->k, what, h ? heapd_errmsg(h) : "no connection");
	return 1;
}

/* One push of node, whose slot 0 gets each head tried; 0 or an error. */
static int push_one(struct pusher *p, heapd *h, heapd_batch *b, heapd_ref node, heapd_ref *head)
{
	for (;;) {
		int rc;
		heapd_ref was = 0;
		if (p->head == HEAD_ROOT) {
			heapd_batch_reset(b);
			heapd_batch_set_ref(b, node, 0, *head);
			heapd_batch_root_cas(b, "push/list", *head, node);
			rc = heapd_batch_exec(h, b);
			if (rc == HEAPD_ECONFLICT) {
				heapd_reply r;
				heapd_batch_reply(b, 1, &r);
				was = r.ref;
			}
		} else {
			rc = heapd_set_ref(h, node, 0, *head);
			if (!rc)
				rc = heapd_cas_ref(h, p->anchor, 0, *head, node, &was);
		}
		if (rc != HEAPD_ECONFLICT) {
			*head = node;
			return rc;
		}
		p->conflicts++;
		*head = was;
	}
}

static void *push_thread(void *arg)
{
	struct pusher *p = arg;
	heapd *h = heapd_connect(p->d->sock);
	heapd_batch *b = heapd_batch_new();
	heapd_ref head = 0;
	if (!h || !b || push_failed(p, h, heapd_errcode(h), "connect"))
		goto out;
	/* head 0: the first swap's conflict says what the head is. */
	for (uint32_t i = 0; i < p->pushes && !p->error[0]; i++) {
		uint64_t id = (uint64_t)p->k << 32 | i;
		heapd_ref node;
		if (push_failed(p, h, heapd_alloc_into(h, 0, 0, 1, 8, &id, 8, &node), "alloc") ||
		    push_failed(p, h, push_one(p, h, b, node, &head), "push"))
			break;
		push_failed(p, h, heapd_release(h, node), "release");
	}
out:
	heapd_batch_free(b);
	heapd_close(h);
	return NULL;
}

/* Walks the list from head: each push once, each pusher's in order. */
static void walk(heapd *h, heapd_ref head, uint32_t npushers, uint32_t pushes, const char *what)
{
	uint32_t *next = calloc(npushers, sizeof *next);  /* pushes of k not yet seen, counting down */
	assert_non_null(next);
	for (uint32_t k = 0; k < npushers; k++)
		next[k] = pushes;
	uint64_t seen = 0;
	for (heapd_ref cur = head, nxt; cur; cur = nxt, seen++) {
		uint64_t id;
		assert_int_equal(heapd_read(h, cur, 0, &id, 8), 0);
		uint32_t k = (uint32_t)(id >> 32), i = (uint32_t)id;
		if (k >= npushers || !next[k] || i != next[k] - 1)
			fail_msg("%s: node %" PRIu64 " from the head is pusher %u's push %u, where %d was due", what,
				 seen, k, i, k < npushers ? (int)next[k] - 1 : -1);
		next[k]--;
		assert_int_equal(heapd_get_ref(h, cur, 0, &nxt), 0);
		if (nxt)
			assert_int_equal(heapd_release(h, nxt), 0);
	}
	for (uint32_t k = 0; k < npushers; k++)
		if (next[k])
			fail_msg("%s: %u of pusher %u's pushes are not in the list (its first %u)", what, next[k], k,
				 next[k]);
	assert_int_equal(seen, (uint64_t)npushers * pushes);
	free(next);
}

static void push_case(const struct daemon *d, heapd *h, enum head kind, uint32_t npushers, uint32_t pushes)
{
	const char *what = kind == HEAD_ROOT ? "root_cas" : "cas_ref";
	struct pusher *p = calloc(npushers, sizeof *p);
	assert_non_null(p);
	heapd_ref anchor = 0, head;
	if (kind == HEAD_ANCHOR) {
		assert_int_equal(heapd_alloc(h, 1, 0, &anchor), 0);
		assert_int_equal(heapd_root_set(h, "push/anchor", anchor), 0);
		assert_int_equal(heapd_release(h, anchor), 0);
	}
	uint64_t t0 = mono_ns(), conflicts = 0;
	for (uint32_t k = 0; k < npushers; k++) {
		p[k] = (struct pusher){.d = d, .head = kind, .anchor = anchor, .k = k, .pushes = pushes};
		assert_int_equal(pthread_create(&p[k].thread, NULL, push_thread, &p[k]), 0);
	}
	/* Saves while they push: the anchor changes under a save's copy. */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(heapd_save(h, 0), 0);
		sleep_ms(5);
	}
	for (uint32_t k = 0; k < npushers; k++) {
		assert_int_equal(pthread_join(p[k].thread, NULL), 0);
		if (p[k].error[0])
			fail_msg("%s: %s", what, p[k].error);
		conflicts += p[k].conflicts;
	}
	assert_int_equal(heapd_save(h, 1), 0);
	assert_int_equal(heapd_gc(h), 0);
	if (kind == HEAD_ROOT)
		assert_int_equal(heapd_root_get(h, "push/list", &head), 0);
	else
		assert_int_equal(heapd_get_ref(h, anchor, 0, &head), 0);
	assert_int_equal(heapd_release(h, head), 0);
	walk(h, head, npushers, pushes, what);
	heapd_stats st;
	assert_int_equal(heapd_get_stats(h, &st, sizeof st), 0);
	if (st.heap_objects != (uint64_t)npushers * pushes + (anchor != 0))
		fail_msg("%s: %" PRIu64 " objects in the heap, for %u nodes%s", what, st.heap_objects, npushers * pushes,
			 anchor ? " and the anchor" : "");
	printf("# %s: %u clients pushed %u nodes each in %.2f s, %" PRIu64 " conflicts; every node in the list "
	       "once, in each client's order\n",
	       what, npushers, pushes, (mono_ns() - t0) / 1e9, conflicts);
	fflush(stdout);
	assert_int_equal(heapd_root_set(h, kind == HEAD_ROOT ? "push/list" : "push/anchor", 0), 0);
	free(p);
}

void push_run(int clients, long long ops)
{
	struct daemon d;
	uint32_t npushers = clients > 1 ? (uint32_t)clients : 2;
	uint32_t pushes = (uint32_t)(ops / (4 * (long long)npushers)) + 1;
	daemon_start(&d, "--gc-percent", "50", "--gc-slice-us", "1", NULL);
	heapd *h = client(&d);
	push_case(&d, h, HEAD_ROOT, npushers, pushes);
	push_case(&d, h, HEAD_ANCHOR, npushers, pushes);
	assert_int_equal(heapd_gc(h), 0);
	heapd_stats st;
	assert_int_equal(heapd_get_stats(h, &st, sizeof st), 0);
	assert_int_equal(st.heap_objects, 0);
	assert_int_equal(st.named_roots, 0);
	heapd_close(h);
	daemon_stop(&d);
}
