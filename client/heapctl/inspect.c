/*
 * inspect.c - heapctl's commands that look into the heap and at its
 * clients: info, du, dump, clients and client kill; and root cas.
 *
 * They parse and check everything as the other commands do, before they
 * connect. What they ask the daemon for comes with issue 18's
 * introspection calls (heapd_object_info, heapd_retained,
 * heapd_client_list, heapd_client_kill, heapd_root_cas), which this libheapd does not
 * have yet: until they land, each command stops where it would call one
 * and says so (needs()), exit status 1. dump's walk and output are whole
 * (dump.c, tested on a graph in memory); it reads the daemon's graph
 * through dump_source below, of which only size is waiting.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "heapctl.h"
#include "parse.h"

/* The point where a command needs a call this libheapd lacks. */
static int needs(heapd *h, const char *cmd, const char *call)
{
	fprintf(stderr, "heapctl: %s: needs %s, which this libheapd does not have yet\n", cmd, call);
	if (h)
		ctl_close(h);
	return CTL_ERROR;
}

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

static int info_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	int json = 0, first, rc = parse_args(cmd, argc, argv, json_opts, json_option, &json, 1, 1, &first);
	struct ctl_target t;
	if (rc >= 0 || (rc = ctl_target_parse(cmd->name, argv[first], &t)) >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	if ((rc = ctl_target_resolve(h, cmd->name, &t)) >= 0)
		return rc;
	ctl_target_release(h, &t);
	return needs(h, cmd->name, "heapd_object_info");
}

const struct ctl_cmd info_cmd = {
	"info", "REF|ROOTNAME [--json]", "an object's slots, bytes, size in the heap and age",
	"Print what heapd knows of the object REF, or of the one the root ROOTNAME\n"
	"names: its reference slots and data bytes, the bytes it takes in the heap\n"
	"(its size class), whether it is sealed, and the collections it has\n"
	"survived.\n"
	"\n"
	"      --json  one JSON object, the fields by name\n"
	"  -h, --help  print this help\n",
	info_run,
};

/* -------------------------------------------------------------- du */

static int du_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	int json = 0, first, rc = parse_args(cmd, argc, argv, json_opts, json_option, &json, 0, INT32_MAX, &first);
	if (rc >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	return needs(h, cmd->name, "heapd_root_retained");
}

const struct ctl_cmd du_cmd = {
	"du", "[ROOT...] [--json]", "the bytes each root keeps alive, largest first",
	"Print, for each ROOT (every root this user may read, without one), the\n"
	"objects and bytes reachable from it, largest first, as du(1) and\n"
	"`redis-cli --bigkeys` do. An object reachable from two roots counts in\n"
	"both.\n"
	"\n"
	"      --json  one JSON object: \"roots\", an array of {name, objects, bytes}\n"
	"  -h, --help  print this help\n",
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
	(void)ctx;
	(void)ref;
	(void)nrefs;
	(void)nbytes;
	return HEAPD_EINVAL;   /* heapd_object_info's nrefs and nbytes, once it lands */
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
	if (rc >= 0 || (rc = ctl_target_parse(cmd->name, argv[first], &t)) >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	if ((rc = ctl_target_resolve(h, cmd->name, &t)) >= 0)
		return rc;
	struct daemon_graph g = {h};
	struct dump_source src = {&g, graph_size, graph_slot, graph_read, graph_release};
	int err = dump_graph(stdout, &src, t.root ? t.root : t.text, t.ref, &a.o);
	ctl_target_release(h, &t);
	if (err == HEAPD_EINVAL)
		return needs(h, cmd->name, "heapd_object_info");
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

static int clients_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	int json = 0, first, rc = parse_args(cmd, argc, argv, json_opts, json_option, &json, 0, 0, &first);
	if (rc >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	return needs(h, cmd->name, "heapd_client_list");
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
	return needs(h, cmd->name, "heapd_client_kill");
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

int ctl_root_cas(const struct ctl_cmd *cmd, char **args)
{
	heapd_ref expected, target;
	if (ctl_parse_ref(args[1], &expected) != 0)
		return ctl_usage(cmd->name, "cas: EXPECTED '%s' is not a ref (0 for none)", args[1]);
	if (ctl_parse_ref(args[2], &target) != 0)
		return ctl_usage(cmd->name, "cas: NEW '%s' is not a ref (0 to delete)", args[2]);
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	return needs(h, cmd->name, "heapd_root_cas");
}
