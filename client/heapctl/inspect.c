/*
 * inspect.c - heapctl's commands that look into the heap and at its
 * clients: info, du, dump, clients and client kill; and root cas.
 *
 * They parse and check everything before they connect, as the other
 * commands do. info and dump read objects with heapd_object_info (and a
 * root's owner, group and mode with heapd_root_stat); dump's walk and
 * output are dump.c's, reading the daemon's graph through dump_source
 * below, and taking a hold (get_ref) on each object only while it walks
 * below it. du counts with heapd_root_retained, one root at a time (the
 * daemon answers a uid's few counts in turn anyway), every readable root
 * found by heapd_root_scan when none is named. clients and client kill are
 * heapd_client_list and heapd_client_kill; the text from the daemon in
 * them (root names, command and client names) is escaped for a terminal
 * or for JSON.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump.h"
#include "format.h"
#include "heapctl.h"
#include "parse.h"

/* Options that are flags or numbers, then the positional arguments:
 * min to max of them. Returns -1 to go on (*first: the first argument),
 * or the exit code. */
static int parse_args(const struct ctl_cmd *cmd, int argc, char **argv, const struct option *longs,
		      int (*on_option)(const struct ctl_cmd *, int, void *), void *arg, int min, int max, int *first)
{
	int c, rc;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		if (c == 'h')
			return ctl_help(cmd);
		if (c == '?' || c == ':')
			return ctl_usage(cmd->name, NULL);
		if ((rc = on_option(cmd, c, arg)) >= 0)
			return rc;
	}
	int n = argc - optind;
	if (n < min)
		return ctl_usage(cmd->name, "expected %s", cmd->args);
	if (n > max)
		return ctl_usage(cmd->name, "unexpected argument '%s'", argv[optind + max]);
	*first = optind;
	return -1;
}

static int json_option(const struct ctl_cmd *cmd, int c, void *arg)
{
	(void)cmd;
	if (c == 'j')
		*(int *)arg = 1;
	return -1;
}

static const struct option json_opts[] = {
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* ------------------------------------------------------------ info */

static void put_info_text(const struct ctl_target *t, const struct heapd_object_info *o,
			  const heapd_root_info *r)
{
	char text[CTL_REF_MAX], human[FMT_HUMAN_MAX];
	if (t->root) {
		fputs("root    ", stdout);
		ctl_put_text(stdout, t->root);
		putchar('\n');
	}
	printf("ref     %s\n", ctl_ref_text(text, t->ref));
	if (r) {
		char u[CTL_ID_NAME_MAX], g[CTL_ID_NAME_MAX], mode[10];
		ctl_mode_text(r->mode, mode);
		printf("owner   %s (%" PRIu32 ")\n", ctl_id_name(r->uid, 0, u), r->uid);
		printf("group   %s (%" PRIu32 ")\n", ctl_id_name(r->gid, 1, g), r->gid);
		printf("mode    %s (%04" PRIo32 ")\n", mode, r->mode);
	}
	printf("slots   %" PRIu32 "\n", o->nrefs);
	printf("bytes   %" PRIu32 "\n", o->nbytes);
	printf("size    %s in the heap (%" PRIu64 " bytes)\n", fmt_bytes_human(human, o->size), o->size);
	printf("sealed  %s\n", o->sealed ? "yes" : "no");
	printf("age     %" PRIu32 " collections\n", o->age);
}

static void put_info_json(const struct ctl_target *t, const struct heapd_object_info *o,
			  const heapd_root_info *r)
{
	char text[CTL_REF_MAX];
	printf("{\"ref\": \"%s\"", ctl_ref_text(text, t->ref));
	if (t->root) {
		fputs(", \"root\": \"", stdout);
		dump_put_name(stdout, t->root, 1);
		printf("\", \"uid\": %" PRIu32 ", \"gid\": %" PRIu32 ", \"mode\": \"%04" PRIo32 "\"", r->uid, r->gid,
		       r->mode);
	}
	printf(", \"nrefs\": %" PRIu32 ", \"nbytes\": %" PRIu32 ", \"size\": %" PRIu64
	       ", \"sealed\": %s, \"age\": %" PRIu32 "}\n",
	       o->nrefs, o->nbytes, o->size, o->sealed ? "true" : "false", o->age);
}

static int info_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	int json = 0, first, rc = parse_args(cmd, argc, argv, json_opts, json_option, &json, 1, 1, &first);
	struct ctl_target t;
	heapd *h;
	/* The ref first, then its object's info: what is printed is one
	 * object's, even if the root changes meanwhile. */
	if (rc >= 0 || !(h = ctl_target_open(cmd->name, argv[first], &t, &rc)))
		return rc;
	struct heapd_object_info o;
	heapd_root_info r = {0};
	if (heapd_object_info(h, t.ref, &o) < 0 || (t.root && heapd_root_stat(h, t.root, &r, NULL) < 0))
		return ctl_fail(h, cmd->name);
	ctl_target_release(h, &t);
	ctl_close(h);
	(json ? put_info_json : put_info_text)(&t, &o, t.root ? &r : NULL);
	return CTL_OK;
}

const struct ctl_cmd info_cmd = {
	"info", "REF|ROOTNAME [--json]", "an object's slots, bytes, size in the heap and age",
	"Print what heapd knows of the object REF, or of the one the root ROOTNAME\n"
	"names: its reference slots and data bytes, the bytes it takes in the heap\n"
	"(its size class), whether it is sealed, and the collections it has\n"
	"survived (not tracked yet: 0); for a root, its owner, group and mode too.\n"
	"\n"
	"      --json  one JSON object: ref, nrefs, nbytes, size, sealed, age;\n"
	"              for a root also root, uid, gid and mode (\"0644\")\n"
	"  -h, --help  print this help\n",
	info_run,
};

/* -------------------------------------------------------------- du */

struct du_args {
	int json, bytes;
};

static int du_option(const struct ctl_cmd *cmd, int c, void *arg)
{
	(void)cmd;
	struct du_args *a = arg;
	if (c == 'j')
		a->json = 1;
	else if (c == 'b')
		a->bytes = 1;
	return -1;
}

/* A root's count; name is a root's name or a ref's text. */
struct du_row {
	const char *name;
	uint64_t objects, bytes;
};

static int by_bytes(const void *a, const void *b)
{
	const struct du_row *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void put_du(const struct du_row *rows, size_t n, const struct du_args *a)
{
	if (a->json)
		fputs("{\n  \"roots\": [", stdout);
	for (size_t i = 0; i < n; i++) {
		char human[FMT_HUMAN_MAX];
		if (a->json) {
			printf("%s\n    {\"name\": \"", i ? "," : "");
			dump_put_name(stdout, rows[i].name, 1);
			printf("\", \"objects\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", rows[i].objects, rows[i].bytes);
			continue;
		}
		if (a->bytes)
			printf("%" PRIu64, rows[i].bytes);
		else
			fputs(fmt_bytes_human(human, rows[i].bytes), stdout);
		printf("\t%" PRIu64 "\t", rows[i].objects);
		ctl_put_text(stdout, rows[i].name);
		putchar('\n');
	}
	if (a->json)
		printf("%s]\n}\n", n ? "\n  " : "");
}

/* Counts each of the n targets into rows (*kept of them). A root that is
 * gone or not this user's to read, a stale ref, is reported (unless
 * scanned: a root deleted since the scan is skipped) and skipped, *failed
 * set; any other error ends the count: -1, h's error. */
static int du_count(heapd *h, const char *cmd, const struct ctl_target *t, size_t n, int scanned,
		    struct du_row *rows, size_t *kept, int *failed)
{
	for (size_t i = 0; i < n; i++) {
		struct du_row *r = &rows[*kept];
		int err = t[i].root ? heapd_root_retained(h, t[i].root, &r->objects, &r->bytes)
				    : heapd_retained(h, t[i].ref, &r->objects, &r->bytes);
		if (err == HEAPD_ENOTFOUND || err == HEAPD_EPERM || err == HEAPD_EBADREF) {
			if (scanned && err == HEAPD_ENOTFOUND)
				continue;
			const char *msg = heapd_errmsg(h);
			fprintf(stderr, "heapctl: %s: %s%s", cmd, t[i].root ? "" : t[i].text, t[i].root ? "" : ": ");
			ctl_put_text(stderr, *msg ? msg : heapd_strerror(err));
			putc('\n', stderr);
			*failed = 1;
			continue;
		}
		if (err < 0)
			return -1;
		r->name = t[i].root ? t[i].root : t[i].text;
		(*kept)++;
	}
	return 0;
}

/* The named targets, each checked as REF|ROOTNAME before heapctl connects. */
static int du_targets(const struct ctl_cmd *cmd, char **args, size_t n, struct ctl_target *t)
{
	for (size_t i = 0; i < n; i++) {
		int rc = ctl_target_parse(cmd->name, args[i], &t[i]);
		if (rc >= 0)
			return rc;
	}
	return -1;
}

static int du_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"bytes", no_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct du_args a = {0, 0};
	int first, rc = parse_args(cmd, argc, argv, opts, du_option, &a, 0, INT32_MAX, &first);
	if (rc >= 0)
		return rc;
	size_t n = (size_t)(argc - first);
	struct ctl_target *t = calloc(n ? n : 1, sizeof *t);
	if (!t) {
		fprintf(stderr, "heapctl: %s: out of memory\n", cmd->name);
		return CTL_ERROR;
	}
	if ((rc = du_targets(cmd, argv + first, n, t)) >= 0) {
		free(t);
		return rc;
	}
	heapd *h = ctl_connect(cmd->name);
	heapd_root_info *roots = NULL;
	int err = h ? 0 : -2;
	if (!err && n == 0 && (err = ctl_scan_roots(h, NULL, &roots, &n)) == 0) {
		struct ctl_target *all = realloc(t, (n ? n : 1) * sizeof *t);
		err = all ? 0 : HEAPD_ENOBUFS;
		t = all ? all : t;
		for (size_t i = 0; !err && i < n; i++)
			t[i] = (struct ctl_target){.root = roots[i].name};
	}
	struct du_row *rows = err ? NULL : calloc(n ? n : 1, sizeof *rows);
	size_t kept = 0;
	int failed = 0;
	if (!err && !rows)
		err = HEAPD_ENOBUFS;
	if (!err)
		err = du_count(h, cmd->name, t, n, roots != NULL, rows, &kept, &failed);
	if (!err) {
		ctl_close(h);
		qsort(rows, kept, sizeof *rows, by_bytes);
		put_du(rows, kept, &a);
	} else if (err == HEAPD_ENOBUFS) {
		fprintf(stderr, "heapctl: %s: out of memory\n", cmd->name);
		ctl_close(h);
	} else if (err == -1) {
		ctl_fail(h, cmd->name);
	}
	free(rows);
	free(t);
	ctl_free_roots(roots, n);
	return err || failed ? CTL_ERROR : CTL_OK;
}

const struct ctl_cmd du_cmd = {
	"du", "[ROOT...] [--bytes] [--json]", "the bytes each root keeps alive, largest first",
	"Print, for each ROOT (a root name or a ref; every root this user may\n"
	"read, without one), the heap bytes and the objects reachable from it,\n"
	"largest first, as du(1) and `redis-cli --bigkeys` do: SIZE, OBJECTS and\n"
	"NAME, tab-separated. An object reachable from two roots counts in both.\n"
	"A root that is missing or not this user's to read is reported, and the\n"
	"others are still printed (exit status 1). The daemon counts in its\n"
	"slices: a large graph takes a while (-t 0 waits for it).\n"
	"\n"
	"      --bytes  SIZE in bytes, not 1.50K\n"
	"      --json   one JSON object: \"roots\", an array of {name, objects,\n"
	"               bytes}, largest first\n"
	"  -h, --help   print this help\n",
	du_run,
};

/* ------------------------------------------------------------ dump */

struct dump_args {
	struct dump_opts o;
};

static int dump_option(const struct ctl_cmd *cmd, int c, void *arg)
{
	struct dump_opts *o = &((struct dump_args *)arg)->o;
	static const struct {
		int c;
		const char *name;
		uint32_t max;
	} nums[] = {{'d', "--depth", DUMP_DEPTH_MAX}, {'m', "--max", UINT32_MAX}, {'b', "--data", DUMP_DATA_MAX}};
	uint32_t *field[] = {&o->depth, &o->objects, &o->data};
	if (c == 'j') {
		o->json = 1;
		return -1;
	}
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		if (c == nums[i].c && ctl_parse_u32(optarg, nums[i].max, field[i]) != 0)
			return ctl_usage(cmd->name, "%s '%s': a whole number from 0 to %" PRIu32, nums[i].name, optarg,
					 nums[i].max);
	return -1;
}

/* The daemon's graph, for dump.c. */
struct daemon_graph {
	heapd *h;
};

static int graph_size(void *ctx, heapd_ref ref, uint32_t *nrefs, uint32_t *nbytes)
{
	struct heapd_object_info info = {0};
	int err = heapd_object_info(((struct daemon_graph *)ctx)->h, ref, &info);
	*nrefs = info.nrefs;
	*nbytes = info.nbytes;
	return err;
}

static int graph_slot(void *ctx, heapd_ref ref, uint32_t slot, heapd_ref *out)
{
	return heapd_get_ref(((struct daemon_graph *)ctx)->h, ref, slot, out);
}

static int graph_read(void *ctx, heapd_ref ref, uint32_t off, void *buf, uint32_t len)
{
	return heapd_read(((struct daemon_graph *)ctx)->h, ref, off, buf, len);
}

static void graph_release(void *ctx, heapd_ref ref)
{
	heapd_release(((struct daemon_graph *)ctx)->h, ref);
}

static int dump_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"depth", required_argument, NULL, 'd'},
		{"max", required_argument, NULL, 'm'},
		{"data", required_argument, NULL, 'b'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct dump_args a = {{DUMP_DEPTH_DEFAULT, DUMP_OBJECTS_DEFAULT, DUMP_DATA_DEFAULT, 0}};
	int first, rc = parse_args(cmd, argc, argv, opts, dump_option, &a, 1, 1, &first);
	struct ctl_target t;
	heapd *h;
	if (rc >= 0 || !(h = ctl_target_open(cmd->name, argv[first], &t, &rc)))
		return rc;
	struct heapd_object_info root;   /* a stale ref fails here, before anything is printed */
	if (heapd_object_info(h, t.ref, &root) < 0)
		return ctl_fail(h, cmd->name);
	struct daemon_graph g = {h};
	struct dump_source src = {&g, graph_size, graph_slot, graph_read, graph_release};
	int err = dump_graph(stdout, &src, t.root ? t.root : t.text, t.ref, &a.o);
	ctl_target_release(h, &t);
	if (err == HEAPD_ENOBUFS) {
		fprintf(stderr, "heapctl: %s: out of memory\n", cmd->name);
		ctl_close(h);
		return CTL_ERROR;
	}
	if (err)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	return CTL_OK;
}

const struct ctl_cmd dump_cmd = {
	"dump", "ROOT [--depth N] [--max N] [--data N] [--json]", "the graph below a root, as text or JSON",
	"Print the objects reachable from ROOT (a root name or a ref), depth first:\n"
	"a line per slot, indented by level, with each object's ref, slots, bytes\n"
	"and the start of its data. An object met again (shared, or in a cycle)\n"
	"is shown once, then as (above).\n"
	"\n"
	"      --depth=N  levels below ROOT shown (default 8, at most 1000)\n"
	"      --max=N    objects shown at most (default 1000)\n"
	"      --data=N   data bytes shown per object (default 32, at most 4096)\n"
	"      --json     {\"root\", \"objects\": [{ref, depth, nbytes, data (hex),\n"
	"                 slots}], \"complete\"}, each object once\n"
	"  -h, --help     print this help\n",
	dump_run,
};

/* ------------------------------------------------ clients and client */

/* Text from the daemon, escaped (ctl_put_text), into buf. */
static const char *escaped(char *buf, size_t size, const char *s)
{
	FILE *f = fmemopen(buf, size, "w");
	buf[0] = '\0';
	if (f) {
		ctl_put_text(f, s);
		fclose(f);
	}
	return buf;
}

/* How long ago, from the wall clock: 42s, 17m, 5h, 3d. */
static const char *age_text(char buf[FMT_HUMAN_MAX], uint64_t since_unix_ns)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t s = ctl_delta((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, since_unix_ns) / 1000000000u;
	if (s < 120)
		snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "s", s);
	else if (s < 2 * 3600)
		snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "m", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "h", s / 3600);
	else
		snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "d", s / 86400);
	return buf;
}

/* comm is 16 bytes, name 64: escaped, four times that at most. */
#define CLIENT_TEXT_MAX (4 * 64 + 1)

static void put_clients_text(const heapd_client_info *rows, size_t n)
{
	char text[CLIENT_TEXT_MAX];
	int wcomm = 4, wname = 4;
	for (size_t i = 0; i < n; i++) {
		int wc = (int)strlen(escaped(text, sizeof text, rows[i].comm));
		int wn = (int)strlen(escaped(text, sizeof text, rows[i].name));
		wcomm = wc > wcomm ? wc : wcomm;
		wname = wn > wname ? wn : wname;
	}
	printf("  %8s %8s %10s %-*s %-*s %5s %8s %8s %10s %8s %8s\n", "ID", "PID", "UID", wcomm, "COMM", wname,
	       "NAME", "AGE", "HOLDS", "HELD", "REQUESTS", "IN", "OUT");
	for (size_t i = 0; i < n; i++) {
		const heapd_client_info *r = &rows[i];
		char comm[CLIENT_TEXT_MAX], age[FMT_HUMAN_MAX], held[FMT_HUMAN_MAX], in[FMT_HUMAN_MAX],
			out[FMT_HUMAN_MAX];
		printf("%c %8" PRIu64 " %8" PRIu32 " %10" PRIu32 " %-*s %-*s %5s %8" PRIu64 " %8s %10" PRIu64
		       " %8s %8s\n",
		       r->self ? '*' : ' ', r->id, r->pid, r->uid, wcomm, escaped(comm, sizeof comm, r->comm), wname,
		       escaped(text, sizeof text, r->name), age_text(age, r->connected_unix_ns), r->holds,
		       fmt_bytes_human(held, r->held_bytes), r->requests, fmt_bytes_human(in, r->bytes_in),
		       fmt_bytes_human(out, r->bytes_out));
	}
}

static void put_clients_json(const heapd_client_info *rows, size_t n, int truncated)
{
	printf("{\n  \"truncated\": %s,\n  \"clients\": [", truncated ? "true" : "false");
	for (size_t i = 0; i < n; i++) {
		const heapd_client_info *r = &rows[i];
		printf("%s\n    {\"id\": %" PRIu64 ", \"pid\": %" PRIu32 ", \"uid\": %" PRIu32 ", \"gid\": %" PRIu32
		       ", \"self\": %s, \"comm\": \"", i ? "," : "", r->id, r->pid, r->uid, r->gid,
		       r->self ? "true" : "false");
		dump_put_name(stdout, r->comm, 1);
		fputs("\", \"name\": \"", stdout);
		dump_put_name(stdout, r->name, 1);
		printf("\", \"connected_unix_ns\": %" PRIu64 ", \"holds\": %" PRIu64 ", \"held_bytes\": %" PRIu64
		       ", \"requests\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 "}",
		       r->connected_unix_ns, r->holds, r->held_bytes, r->requests, r->bytes_in, r->bytes_out);
	}
	printf("%s]\n}\n", n ? "\n  " : "");
}

static int clients_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	int json = 0, first, rc = parse_args(cmd, argc, argv, json_opts, json_option, &json, 0, 0, &first);
	if (rc >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	heapd_client_info *rows;
	size_t n;
	int truncated;
	if (heapd_client_list(h, &rows, &n, &truncated) < 0)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	(json ? put_clients_json(rows, n, truncated) : put_clients_text(rows, n));
	heapd_free_client_list(rows);
	return ctl_truncated(cmd->name, truncated && !json, "the first %zu connections", n);
}

const struct ctl_cmd clients_cmd = {
	"clients", "[--json]", "the connections: pid, uid, command, holds, traffic",
	"Print a line per connection this user may see (an admin sees all): its\n"
	"id, pid, uid, command name, client name, when it connected, its holds\n"
	"and the bytes they keep, requests served and bytes in and out, as\n"
	"`redis-cli client list` does. heapctl's own is marked.\n"
	"\n"
	"      --json  one JSON object: \"clients\", an array, and \"truncated\"\n"
	"  -h, --help  print this help\n",
	clients_run,
};

static int no_option(const struct ctl_cmd *cmd, int c, void *arg)
{
	(void)cmd;
	(void)c;
	(void)arg;
	return -1;
}

static int client_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int first, rc = parse_args(cmd, argc, argv, opts, no_option, NULL, 2, 2, &first);
	heapd_ref id;
	if (rc >= 0)
		return rc;
	if (strcmp(argv[first], "kill") != 0)
		return ctl_usage(cmd->name, "expected kill ID");
	if (argv[first + 1][0] < '1' || argv[first + 1][0] > '9' || ctl_parse_ref(argv[first + 1], &id) != 0)
		return ctl_usage(cmd->name, "'%s' is not a client id (a number from `heapctl clients`)", argv[first + 1]);
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	if (heapd_client_kill(h, id) < 0)
		return ctl_fail(h, cmd->name);
	if (id == heapd_session_id(h))
		ctl_disconnect(h);   /* the daemon closes it */
	else
		ctl_close(h);
	return CTL_OK;
}

const struct ctl_cmd client_cmd = {
	"client", "kill ID", "close a client's connection (admins only)",
	"Close the connection ID (the first column of `heapctl clients`): its\n"
	"holds go, as when the client closes it. Admins only.\n"
	"\n"
	"  -h, --help  print this help\n",
	client_run,
};

/* -------------------------------------------------------- root cas */

/* EXPECTED and NEW: a ref, or - or 0 for none. */
static int parse_cas_ref(const char *arg, heapd_ref *out)
{
	if (strcmp(arg, "-") == 0) {
		*out = 0;
		return 0;
	}
	return ctl_parse_ref(arg, out);
}

int ctl_root_cas(const struct ctl_cmd *cmd, char **args)
{
	heapd_ref expected, target, was = 0;
	if (parse_cas_ref(args[1], &expected) != 0)
		return ctl_usage(cmd->name, "cas: EXPECTED '%s' is not a ref (- or 0 for none)", args[1]);
	if (parse_cas_ref(args[2], &target) != 0)
		return ctl_usage(cmd->name, "cas: NEW '%s' is not a ref (- or 0 to delete)", args[2]);
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	int err = heapd_root_cas(h, args[0], expected, target, &was);
	if (err < 0 && err != HEAPD_ECONFLICT)
		return ctl_fail(h, cmd->name);
	char text[CTL_REF_MAX];
	puts(was ? ctl_ref_text(text, was) : "-");   /* what a retry gives as EXPECTED */
	if (err == HEAPD_ECONFLICT)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	return CTL_OK;
}
