/*
 * list.h - intrusive doubly-linked lists with a sentinel head, shared by
 * the engine and the daemon. A node knows nothing of its list, so removal
 * is O(1) and a node is on at most one list per link it embeds.
 */
#ifndef HEAPD_LIST_H
#define HEAPD_LIST_H

#include <stddef.h>

struct list {
	struct list *next, *prev;
};

static inline void list_init(struct list *l) { l->next = l->prev = l; }
static inline int list_empty(const struct list *l) { return l->next == l; }

static inline void list_insert_after(struct list *at, struct list *n)
{
	n->prev = at;
	n->next = at->next;
	at->next->prev = n;
	at->next = n;
}
#define list_push_head(l, n) list_insert_after((l), (n))
#define list_push_tail(l, n) list_insert_after((l)->prev, (n))

static inline void list_remove(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

/* Moves every node of src to the front of dst (Go's mSpanList.takeAll). */
static inline void list_take_all(struct list *dst, struct list *src)
{
	if (list_empty(src))
		return;
	struct list *first = src->next, *last = src->prev;
	last->next = dst->next;
	dst->next->prev = last;
	dst->next = first;
	first->prev = dst;
	list_init(src);
}

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

#endif
