/*
 * uids.c - heapctl uids: what each uid has of heapd (uid_stats), as a
 * text table or JSON; and the table's lines and order, which top.c shares.
 *
 * Rows are shown heaviest first: by heap bytes, then holds, then uid, so
 * the uids worth a look lead both the table and top's section. A reply
 * holds the rows that fit in one frame, the lowest uids first; past that,
 * as for roots, a partial table is printed and reported as an error, so
 * that a script does not take it for whole.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "format.h"
#include "heapctl.h"

static int cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

static int heaviest_first(const void *pa, const void *pb)
{
	const heapd_uid_stat *a = pa, *b = pb;
	int c = cmp_u64(b->heap_bytes, a->heap_bytes);
	if (!c)
		c = cmp_u64(b->holds, a->holds);
	return c ? c : cmp_u64(a->uid, b->uid);
}

void ctl_uids_sort(heapd_uid_stat *rows, size_t n)
{
	qsort(rows, n, sizeof *rows, heaviest_first);
}

const char *ctl_uids_line(char buf[CTL_UIDS_LINE], const heapd_uid_stat *r)
{
	if (!r) {
		snprintf(buf, CTL_UIDS_LINE, "%10s%7s%9s%7s%8s%8s%8s%12s%7s", "UID", "CONNS", "HOLDS", "ROOTS", "NAMES",
			 "OUTPUT", "HEAP", "REFUSED", "STALLS");
		return buf;
	}
	char names[FMT_HUMAN_MAX], out[FMT_HUMAN_MAX], heap[FMT_HUMAN_MAX], refused[2 * 21 + 2];
	snprintf(refused, sizeof refused, "%" PRIu64 "/%" PRIu64, r->roots_refused, r->holds_refused);
	snprintf(buf, CTL_UIDS_LINE, "%10" PRIu32 "%7" PRIu64 "%9" PRIu64 "%7" PRIu64 "%8s%8s%8s%12s%7" PRIu64, r->uid,
		 r->connections, r->holds, r->named_roots, fmt_bytes_human(names, r->root_name_bytes),
		 fmt_bytes_human(out, r->output_bytes), fmt_bytes_human(heap, r->heap_bytes), refused,
		 r->output_stalls);
	return buf;
}

static void put_json(const heapd_uid_stat *rows, size_t n, int truncated)
{
	printf("{\n  \"truncated\": %s,\n  \"uids\": [", truncated ? "true" : "false");
	for (size_t i = 0; i < n; i++) {
		const heapd_uid_stat *r = &rows[i];
		printf("%s\n    {\"uid\": %" PRIu32 ", \"connections\": %" PRIu64 ", \"holds\": %" PRIu64
		       ", \"named_roots\": %" PRIu64 ", \"root_name_bytes\": %" PRIu64 ", \"output_bytes\": %" PRIu64
		       ", \"heap_bytes\": %" PRIu64 ", \"roots_refused\": %" PRIu64 ", \"holds_refused\": %" PRIu64
		       ", \"output_stalls\": %" PRIu64 "}",
		       i ? "," : "", r->uid, r->connections, r->holds, r->named_roots, r->root_name_bytes,
		       r->output_bytes, r->heap_bytes, r->roots_refused, r->holds_refused, r->output_stalls);
	}
	printf("%s]\n}\n", n ? "\n  " : "");
}

static int uids_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc, json = 0;
	while ((c = ctl_option(cmd, argc, argv, "h", opts, &rc)) > 0)
		json = 1;
	if (c == 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	heapd_uid_stat *rows;
	size_t n;
	int truncated;
	if (heapd_uid_stats(h, &rows, sizeof *rows, &n, &truncated) < 0)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	ctl_uids_sort(rows, n);
	if (json) {
		put_json(rows, n, truncated);
	} else {
		char line[CTL_UIDS_LINE];
		puts(ctl_uids_line(line, NULL));
		for (size_t i = 0; i < n; i++)
			puts(ctl_uids_line(line, &rows[i]));
	}
	heapd_free_uid_stats(rows);
	return ctl_truncated(cmd->name, truncated, "%zu uids", n);
}

const struct ctl_cmd uids_cmd = {
	"uids", "[--json]", "what each uid has of heapd: connections, holds, roots, heap",
	"Print a row for each uid with a connection, a named root, a hold or objects\n"
	"in heapd, heaviest first (by heap bytes, then holds): its connections,\n"
	"holds, named roots and the bytes of their names, replies not yet sent to\n"
	"it, the heap bytes of the objects it allocated, operations the per-uid\n"
	"quotas refused it (roots/holds) and the times its connections were held\n"
	"back past max_output_per_uid.\n"
	"\n"
	"      --json  one JSON object: \"truncated\", and \"uids\", an array of objects\n"
	"              with the fields of struct heapd_uid_stat by name, in bytes\n"
	"  -h, --help  print this help\n"
	"\n"
	"When more uids exist than one reply holds, the rows that came are printed\n"
	"and heapctl exits 1.\n",
	uids_run,
};
