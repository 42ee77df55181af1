/*
 * test_dump.c - heapctl dump's walk and output (client/heapctl/dump.c) on
 * a graph in memory: each object once (a shared object and a cycle), the
 * depth and object limits, empty slots, data cut and escaped, JSON, every
 * hold released, and a read error passed up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heapctl/dump.h"

/* Objects 0x10, 0x20, ...: ref 0x10 * (i + 1) is node[i]. */
struct node {
	uint32_t nrefs;
	heapd_ref slot[3];
	const char *data;
	size_t len;
};

struct graph {
	const struct node *node;
	size_t n;
	int holds;          /* slot refs handed out and not released */
	heapd_ref broken;   /* size() of this one fails */
};

static const struct node *find(const struct graph *g, heapd_ref ref)
{
	size_t i = (size_t)(ref / 0x10) - 1;
	return ref % 0x10 == 0 && i < g->n ? &g->node[i] : NULL;
}

static int g_size(void *ctx, heapd_ref ref, uint32_t *nrefs, uint32_t *nbytes)
{
	struct graph *g = ctx;
	const struct node *n = find(g, ref);
	if (!n || ref == g->broken)
		return HEAPD_EBADREF;
	*nrefs = n->nrefs;
	*nbytes = (uint32_t)n->len;
	return 0;
}

static int g_slot(void *ctx, heapd_ref ref, uint32_t slot, heapd_ref *out)
{
	struct graph *g = ctx;
	const struct node *n = find(g, ref);
	if (!n || slot >= n->nrefs)
		return HEAPD_ERANGE;
	*out = n->slot[slot];
	g->holds += *out != 0;
	return 0;
}

static int g_read(void *ctx, heapd_ref ref, uint32_t off, void *buf, uint32_t len)
{
	const struct node *n = find(ctx, ref);
	if (!n || off + len > n->len)
		return HEAPD_ERANGE;
	memcpy(buf, n->data + off, len);
	return 0;
}

static void g_release(void *ctx, heapd_ref ref)
{
	struct graph *g = ctx;
	assert_non_null(find(g, ref));
	g->holds--;
}

/* root 0x10 -> 0x20, 0x30, null; 0x20 -> 0x30 (shared); 0x30 -> 0x10 (a
 * cycle) and 0x40; 0x40 has 40 bytes of data. */
static const struct node nodes[] = {
	{3, {0x20, 0x30, 0}, "root", 4},
	{1, {0x30}, "two", 3},
	{2, {0x10, 0x40}, "\x01q\"\\\xff", 5},
	{0, {0}, "0123456789012345678901234567890123456789", 40},
};

/* Dumps the graph with o into a string (free it). */
static char *dump(struct graph *g, const struct dump_opts *o, int *err)
{
	struct dump_source src = {g, g_size, g_slot, g_read, g_release};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	*err = dump_graph(f, &src, "config", 0x10, o);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void text_tree(void **state)
{
	(void)state;
	struct graph g = {nodes, 4, 0, 0};
	struct dump_opts o = {DUMP_DEPTH_DEFAULT, DUMP_OBJECTS_DEFAULT, DUMP_DATA_DEFAULT, 0};
	int err;
	char *text = dump(&g, &o, &err);
	assert_int_equal(err, 0);
	assert_string_equal(text,
			    "config 0x10 refs 3 bytes 4 \"root\"\n"
			    "  .0 0x20 refs 1 bytes 3 \"two\"\n"
			    "    .0 0x30 refs 2 bytes 5 \"\\x01q\\\"\\\\\\xff\"\n"
			    "      .0 0x10 (above)\n"
			    "      .1 0x40 refs 0 bytes 40 \"01234567890123456789012345678901\"...\n"
			    "  .1 0x30 (above)\n"
			    "  .2 null\n");
	assert_int_equal(g.holds, 0);
	free(text);
}

static void limits(void **state)
{
	(void)state;
	struct graph g = {nodes, 4, 0, 0};
	struct dump_opts o = {1, DUMP_OBJECTS_DEFAULT, 2, 0};
	int err;
	char *text = dump(&g, &o, &err);
	assert_int_equal(err, 0);
	assert_string_equal(text,
			    "config 0x10 refs 3 bytes 4 \"ro\"...\n"
			    "  .0 0x20 refs 1 bytes 3 \"tw\"...\n"
			    "    .0 0x30 (below --depth)\n"
			    "  .1 0x30 refs 2 bytes 5 \"\\x01q\"...\n"
			    "    .0 0x10 (above)\n"
			    "    .1 0x40 (below --depth)\n"
			    "  .2 null\n");
	free(text);
	o = (struct dump_opts){DUMP_DEPTH_DEFAULT, 2, 0, 0};
	text = dump(&g, &o, &err);
	assert_string_equal(text,
			    "config 0x10 refs 3 bytes 4 \"\"...\n"
			    "  .0 0x20 refs 1 bytes 3 \"\"...\n"
			    "    .0 0x30 (past --max)\n"
			    "  .1 0x30 (past --max)\n"
			    "  .2 null\n");
	assert_int_equal(g.holds, 0);
	free(text);
}

static void json(void **state)
{
	(void)state;
	struct graph g = {nodes, 4, 0, 0};
	struct dump_opts o = {DUMP_DEPTH_DEFAULT, DUMP_OBJECTS_DEFAULT, 4, 1};
	int err;
	char *text = dump(&g, &o, &err);
	assert_int_equal(err, 0);
	assert_string_equal(text,
			    "{\n  \"root\": \"config\",\n  \"objects\": [\n"
			    "    {\"ref\": \"0x10\", \"depth\": 0, \"nbytes\": 4, \"data\": \"726f6f74\", "
			    "\"slots\": [\"0x20\", \"0x30\", null]},\n"
			    "    {\"ref\": \"0x20\", \"depth\": 1, \"nbytes\": 3, \"data\": \"74776f\", \"slots\": [\"0x30\"]},\n"
			    "    {\"ref\": \"0x30\", \"depth\": 2, \"nbytes\": 5, \"data\": \"0171225c\", "
			    "\"slots\": [\"0x10\", \"0x40\"]},\n"
			    "    {\"ref\": \"0x40\", \"depth\": 3, \"nbytes\": 40, \"data\": \"30313233\", \"slots\": []}\n"
			    "  ],\n  \"complete\": true\n}\n");
	free(text);
	o.depth = 2;
	text = dump(&g, &o, &err);
	assert_non_null(strstr(text, "\"complete\": false"));
	assert_null(strstr(text, "{\"ref\": \"0x40\""));
	assert_int_equal(g.holds, 0);
	free(text);
}

static void read_error(void **state)
{
	(void)state;
	struct graph g = {nodes, 4, 0, 0x30};
	struct dump_opts o = {DUMP_DEPTH_DEFAULT, DUMP_OBJECTS_DEFAULT, DUMP_DATA_DEFAULT, 0};
	int err;
	char *text = dump(&g, &o, &err);
	assert_int_equal(err, HEAPD_EBADREF);
	assert_int_equal(g.holds, 0);   /* released on the way out too */
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_tree),
		cmocka_unit_test(limits),
		cmocka_unit_test(json),
		cmocka_unit_test(read_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
