/*
 * dump.c - the graph below a root, depth first, each object once.
 *
 * Text: a line per slot, indented two spaces a level, the root's line
 * first:
 *
 *   config 0x1f00000003 refs 2 bytes 5 "hello"
 *     .0 0x2000000004 refs 0 bytes 3 "abc"
 *     .1 0x1f00000003 (above)
 *
 * An object met again (shared, or in a cycle) is shown once, and after
 * that as "(above)"; an empty slot is "null"; an object past the depth or
 * the object limit is named with "(below --depth)" or "(past --max)" and
 * not read. Data is shown up to opts.data bytes, escaped as get --escaped
 * escapes it, with "..." when there is more.
 *
 * JSON: {"root": NAME, "objects": [...], "complete": BOOL}, an object per
 * entry in the order the walk met them, each with its ref, depth, nbytes,
 * data (hex, the first opts.data bytes) and slots (refs or null), so a
 * shared object is one entry that several slots name; complete is false
 * when a limit left objects out.
 *
 * Invariants: an object is read (size, slots, data) at most once, since
 * seen holds every object read; the walk recurses at most opts.depth + 1
 * deep, and opts.depth is at most DUMP_DEPTH_MAX.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"

/* The refs the walk has read: open addressing, a power of two, at most
 * half full; 0 (the null ref) marks a free cell. */
struct refset {
	heapd_ref *cell;
	size_t cap, n;
};

static size_t refset_index(const struct refset *s, heapd_ref ref)
{
	uint64_t h = ref * 0x9e3779b97f4a7c15u;
	size_t i = (size_t)(h >> 17) & (s->cap - 1);
	while (s->cell[i] && s->cell[i] != ref)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int refset_has(const struct refset *s, heapd_ref ref)
{
	return s->cap && s->cell[refset_index(s, ref)] == ref;
}

static int refset_add(struct refset *s, heapd_ref ref)
{
	if (2 * (s->n + 1) > s->cap) {
		struct refset grown = {calloc(s->cap ? 2 * s->cap : 64, sizeof *s->cell), s->cap ? 2 * s->cap : 64, 0};
		if (!grown.cell)
			return HEAPD_ENOBUFS;
		for (size_t i = 0; i < s->cap; i++)
			if (s->cell[i])
				grown.cell[refset_index(&grown, s->cell[i])] = s->cell[i];
		grown.n = s->n;
		free(s->cell);
		*s = grown;
	}
	s->cell[refset_index(s, ref)] = ref;
	s->n++;
	return 0;
}

struct walk {
	FILE *f;
	const struct dump_source *src;
	const struct dump_opts *o;
	struct refset seen;
	uint32_t shown;
	int complete;
	unsigned char *data;   /* o->data bytes */
};

/* How put_escaped writes bytes: data (as get --escaped, and "), a root
 * name (UTF-8 text: bytes from 0x80 as they are), or a JSON string. */
enum escape { ESC_DATA, ESC_NAME, ESC_JSON };

static void put_escaped(FILE *f, const unsigned char *p, size_t n, enum escape how)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' || p[i] == '"')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] == '\t')
			fputs("\\t", f);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, how == ESC_JSON ? "\\u%04x" : "\\x%02x", p[i]);
		else if (p[i] > 0x7f && how == ESC_DATA)
			fprintf(f, "\\x%02x", p[i]);
		else
			putc(p[i], f);
	}
}

void dump_put_name(FILE *f, const char *s, int json)
{
	put_escaped(f, (const unsigned char *)s, strlen(s), json ? ESC_JSON : ESC_NAME);
}

static void put_ref(FILE *f, heapd_ref ref, int json)
{
	if (!ref)
		fputs("null", f);
	else
		fprintf(f, json ? "\"0x%" PRIx64 "\"" : "0x%" PRIx64, ref);
}

/* The object's line (text) or entry (JSON), its slots read into kids. */
static void put_object(struct walk *w, heapd_ref ref, uint32_t depth, uint32_t nbytes, uint32_t shown,
		       const heapd_ref *kids, uint32_t nrefs)
{
	FILE *f = w->f;
	if (!w->o->json) {
		fprintf(f, " refs %" PRIu32 " bytes %" PRIu32 " \"", nrefs, nbytes);
		put_escaped(f, w->data, shown, ESC_DATA);
		fputs(shown < nbytes ? "\"...\n" : "\"\n", f);
		return;
	}
	fprintf(f, "%s\n    {\"ref\": ", w->shown > 1 ? "," : "");
	put_ref(f, ref, 1);
	fprintf(f, ", \"depth\": %" PRIu32 ", \"nbytes\": %" PRIu32 ", \"data\": \"", depth, nbytes);
	for (uint32_t i = 0; i < shown; i++)
		fprintf(f, "%02x", w->data[i]);
	fputs("\", \"slots\": [", f);
	for (uint32_t i = 0; i < nrefs; i++) {
		fputs(i ? ", " : "", f);
		put_ref(f, kids[i], 1);
	}
	fputs("]}", f);
}

static int visit(struct walk *w, heapd_ref ref, uint32_t depth, const char *label, uint32_t slot);

/* The object at ref, not seen before and within the limits. */
static int read_object(struct walk *w, heapd_ref ref, uint32_t depth)
{
	const struct dump_source *s = w->src;
	uint32_t nrefs, nbytes;
	int err = s->size(s->ctx, ref, &nrefs, &nbytes);
	if (err || (err = refset_add(&w->seen, ref)) != 0)
		return err;
	w->shown++;
	uint32_t shown = nbytes < w->o->data ? nbytes : w->o->data;
	heapd_ref *kids = calloc(nrefs ? nrefs : 1, sizeof *kids);
	if (!kids)
		return HEAPD_ENOBUFS;
	if (shown)
		err = s->read(s->ctx, ref, 0, w->data, shown);
	for (uint32_t i = 0; !err && i < nrefs; i++)
		err = s->slot(s->ctx, ref, i, &kids[i]);
	if (!err)
		put_object(w, ref, depth, nbytes, shown, kids, nrefs);
	for (uint32_t i = 0; !err && i < nrefs; i++)
		err = visit(w, kids[i], depth + 1, NULL, i);
	for (uint32_t i = 0; s->release && i < nrefs; i++)
		if (kids[i])
			s->release(s->ctx, kids[i]);
	free(kids);
	return err;
}

/* What visit does with a ref, and what the text says of those it does
 * not read. */
enum mark { MARK_READ, MARK_NULL, MARK_SEEN, MARK_DEEP, MARK_MAX };
static const char *const mark_text[] = {"", "", " (above)", " (below --depth)", " (past --max)"};

static enum mark mark_of(const struct walk *w, heapd_ref ref, uint32_t depth)
{
	if (!ref)
		return MARK_NULL;
	if (refset_has(&w->seen, ref))
		return MARK_SEEN;
	if (depth > w->o->depth)
		return MARK_DEEP;
	return w->shown >= w->o->objects ? MARK_MAX : MARK_READ;
}

/* label: the root's name, else slot is the slot's number. */
static int visit(struct walk *w, heapd_ref ref, uint32_t depth, const char *label, uint32_t slot)
{
	FILE *f = w->f;
	enum mark m = mark_of(w, ref, depth);
	if (!w->o->json) {
		fprintf(f, "%*s", (int)(2 * depth), "");
		if (label)
			put_escaped(f, (const unsigned char *)label, strlen(label), ESC_NAME);
		else
			fprintf(f, ".%" PRIu32, slot);
		putc(' ', f);
		put_ref(f, ref, 0);
		if (m != MARK_READ)
			fprintf(f, "%s\n", mark_text[m]);
	}
	if (m == MARK_DEEP || m == MARK_MAX)
		w->complete = 0;
	return m == MARK_READ ? read_object(w, ref, depth) : 0;
}

int dump_graph(FILE *f, const struct dump_source *src, const char *name, heapd_ref root,
	       const struct dump_opts *o)
{
	struct walk w = {.f = f, .src = src, .o = o, .complete = 1};
	w.data = malloc(o->data ? o->data : 1);
	if (!w.data)
		return HEAPD_ENOBUFS;
	if (o->json) {
		fputs("{\n  \"root\": \"", f);
		put_escaped(f, (const unsigned char *)name, strlen(name), ESC_JSON);
		fputs("\",\n  \"objects\": [", f);
	}
	int err = visit(&w, root, 0, name, 0);
	if (o->json && !err)
		fprintf(f, "%s],\n  \"complete\": %s\n}\n", w.shown ? "\n  " : "", w.complete ? "true" : "false");
	free(w.seen.cell);
	free(w.data);
	return err;
}
