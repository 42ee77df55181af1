/*
 * heapctl.c - heapctl, heapd's command-line tool: main, the commands but
 * roots and root (roots.c), the data's (data.c), the inspecting ones
 * (inspect.c, dump.c), top (top.c), uids (uids.c) and bench (bench.c,
 * benchloop.c), and what they share; sessions are shell.c's.
 *
 *   heapctl [-s SOCKET] [-t MS] [COMMAND [OPTIONS]]
 *
 * -t bounds every wait for the daemon, the connect and hello included
 * (ctl_connect_own), so that a daemon that stopped answering costs a
 * command at most that long: HEAPD_ETIMEDOUT, an error like any other.
 *
 * Without a command, shell.c reads commands (a prompt on a terminal, else
 * stdin) and runs each through ctl_dispatch, as main runs one; they share
 * one connection (ctl_session_begin): ctl_connect hands it out, ctl_close
 * keeps it open, ctl_fail drops it only when the error left it unusable.
 *
 * Global options come before the command ("+" in getopt's string stops
 * at the first non-option); then the command parses the rest with getopt
 * again, under the name "heapctl: COMMAND" so getopt's own messages say
 * which command they are about, in the style of heapctl's: every usage
 * error is "heapctl: COMMAND: message", then "Try 'heapctl COMMAND
 * --help'." (for heapctl's own options, "heapctl: message", then "Try
 * 'heapctl --help'."). A command parses everything before it
 * connects: --help and bad usage never need the daemon.
 *
 * Exit status: 0 success; 1 an error, reported on stderr as
 * "heapctl: COMMAND: message" (the library's message for the library's
 * errors); 2 bad usage. Output that could not be written is an error too:
 * `heapctl stats > /full/disk` must not exit 0; but a reader that closed
 * its pipe (`heapctl top | head -1`) ends heapctl quietly, with the
 * command's status: SIGPIPE is ignored, so that it cannot kill heapctl
 * with 141.
 *
 * gc and free-os-memory report what changed as differences of cumulative
 * counters read before and after, so other clients' work done meanwhile is
 * in the figures; bytes freed is the growth of total_alloc - heap_alloc,
 * which is every byte ever freed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "heapctl.h"
#include "parse.h"

#ifndef PACKAGE_VERSION   /* configure defines it; a build by hand does not */
#define PACKAGE_VERSION "unknown"
#endif

static const char *ctl_socket;   /* -s; NULL: the library's default */
static uint32_t ctl_timeout = CTL_TIMEOUT_DEFAULT_MS;   /* -t */
static int ctl_sharing;          /* a session: commands share one connection */
static heapd *ctl_shared;        /* that connection, once made */

/* The holds the running command took on ctl_shared and has not let go of:
 * ctl_dispatch releases them when it returns, however it ended, so that a
 * session's holds do not grow with its failed commands. A command takes a
 * few at most (new: the object and --into's root). */
#define CTL_HOLDS_MAX 4
static heapd_ref ctl_holds[CTL_HOLDS_MAX];
static size_t ctl_nholds;

const char *ctl_socket_path(void)
{
	return ctl_socket;
}

uint32_t ctl_timeout_ms(void)
{
	return ctl_timeout;
}

heapd *ctl_connect_own(const char *cmd)
{
	heapd *h = heapd_connect_timeout(ctl_socket, ctl_timeout);   /* the connect and hello too */
	if (!h) {
		fprintf(stderr, "heapctl: %s: out of memory\n", cmd);
		return NULL;
	}
	if (heapd_errcode(h) != HEAPD_OK) {
		ctl_fail(h, cmd);
		return NULL;
	}
	return h;
}

heapd *ctl_connect(const char *cmd)
{
	if (!ctl_shared) {
		heapd *h = ctl_connect_own(cmd);
		if (!h || !ctl_sharing)
			return h;
		ctl_shared = h;
	}
	return ctl_shared;
}

void ctl_held(heapd *h, heapd_ref ref)
{
	if (h == ctl_shared && ctl_nholds < CTL_HOLDS_MAX)
		ctl_holds[ctl_nholds++] = ref;
}

void ctl_release(heapd *h, heapd_ref ref)
{
	for (size_t i = 0; i < ctl_nholds; i++) {
		if (h == ctl_shared && ctl_holds[i] == ref) {
			ctl_holds[i] = ctl_holds[--ctl_nholds];
			break;
		}
	}
	heapd_release(h, ref);   /* its failure changes nothing the user asked for */
}

/* After a command: what it left held on the session's connection. */
static void release_left(void)
{
	while (ctl_nholds > 0) {
		heapd_ref ref = ctl_holds[--ctl_nholds];
		if (ctl_shared)
			heapd_release(ctl_shared, ref);
	}
}

void ctl_close(heapd *h)
{
	if (h != ctl_shared)
		heapd_close(h);
}

void ctl_session_begin(void)
{
	ctl_sharing = 1;
}

int ctl_in_session(void)
{
	return ctl_sharing;
}

void ctl_session_end(void)
{
	heapd_close(ctl_shared);
	ctl_shared = NULL;
	ctl_sharing = 0;
}

void ctl_put_text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\' || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			fprintf(f, "\\x%02x", *p);
		else
			putc(*p, f);
	}
}

void ctl_disconnect(heapd *h)
{
	if (h == ctl_shared)
		ctl_shared = NULL;
	heapd_close(h);
}

int ctl_fail(heapd *h, const char *cmd)
{
	const char *msg = heapd_errmsg(h);
	fprintf(stderr, "heapctl: %s: ", cmd);
	ctl_put_text(stderr, *msg ? msg : heapd_strerror(heapd_errcode(h)));
	putc('\n', stderr);
	int code = heapd_errcode(h);
	if (code == HEAPD_EIO || code == HEAPD_ETIMEDOUT || code == HEAPD_EPROTO)
		ctl_disconnect(h);   /* gone, or out of step: the next command connects again */
	else
		ctl_close(h);
	return CTL_ERROR;
}

int ctl_truncated(const char *cmd, int truncated, const char *fmt, ...)
{
	if (!truncated)
		return CTL_OK;
	fprintf(stderr, "heapctl: %s: only ", cmd);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" fit in one reply (max_frame_size)\n", stderr);
	return CTL_ERROR;
}

int ctl_usage(const char *cmd, const char *fmt, ...)
{
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		fprintf(stderr, "heapctl: %s: ", cmd);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	fprintf(stderr, "Try 'heapctl %s --help'.\n", cmd);
	return CTL_USAGE;
}

int ctl_help(const struct ctl_cmd *cmd)
{
	printf("Usage: heapctl [-s SOCKET] %s%s%s\n%s", cmd->name, *cmd->args ? " " : "", cmd->args,
	       cmd->help);
	return CTL_OK;
}

uint64_t ctl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ctl_option(const struct ctl_cmd *cmd, int argc, char **argv, const char *shorts, const struct option *longs,
	       int *rc)
{
	int c = getopt_long(argc, argv, shorts, longs, NULL);
	if (c == 'h')
		*rc = ctl_help(cmd);
	else if (c == '?' || c == ':')
		*rc = ctl_usage(cmd->name, NULL);
	else if (c != -1)
		return c;
	else if (optind < argc)
		*rc = ctl_usage(cmd->name, "unexpected argument '%s'", argv[optind]);
	else
		return -1;
	return 0;
}

/* For commands whose only option is --help. Returns -1 to go on, or the
 * exit code. */
static int plain_args(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int rc;
	return ctl_option(cmd, argc, argv, "h", opts, &rc) == 0 ? rc : -1;
}

uint64_t ctl_delta(uint64_t after, uint64_t before)
{
	return after > before ? after - before : 0;
}

/* ------------------------------------------------------------- ping */

static int ping_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	int rc = plain_args(cmd, argc, argv);
	if (rc >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	uint64_t rtt;
	if (heapd_ping(h, &rtt) < 0)
		return ctl_fail(h, cmd->name);
	printf("PONG %" PRIu64 " us\n", (rtt + 500) / 1000);
	ctl_close(h);
	return CTL_OK;
}

static const struct ctl_cmd ping_cmd = {
	"ping", "", "check that heapd answers; print the round-trip time",
	"Send one request that heapd answers at once, and print \"PONG N us\": the\n"
	"round-trip time in microseconds.\n"
	"\n"
	"  -h, --help  print this help\n",
	ping_run,
};

/* ------------------------------------------------------------ stats */

static int stats_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"prometheus", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	void (*format)(FILE *, const heapd_stats *) = fmt_text;
	int c, rc, chosen = 0;
	while ((c = ctl_option(cmd, argc, argv, "h", opts, &rc)) > 0) {
		format = c == 'j' ? fmt_json : fmt_prometheus;
		chosen++;
	}
	if (c == 0)
		return rc;
	if (chosen > 1)
		return ctl_usage(cmd->name, "choose one of --json and --prometheus");
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	heapd_stats st;
	if (heapd_get_stats(h, &st, sizeof st) < 0)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	format(stdout, &st);
	return CTL_OK;
}

static const struct ctl_cmd stats_cmd = {
	"stats", "[--json | --prometheus]", "print heapd's figures (text, JSON or Prometheus)",
	"Print heapd's figures; docs/stats.md says what each one means.\n"
	"\n"
	"      --json        one JSON object: every field of struct heapd_stats by\n"
	"                    its name, pause_ns as an array, oldest pause first\n"
	"      --prometheus  Prometheus text exposition format 0.0.4: heapd_ names,\n"
	"                    in bytes and seconds (docs/heapctl.md has the mapping)\n"
	"  -h, --help        print this help\n"
	"\n"
	"Without an option: sections of key:value lines, as `redis-cli info`\n"
	"prints, with a KEY_human line after each size and time.\n",
	stats_run,
};

/* ------------------------------------------- gc and free-os-memory */

static int collect_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	int rc = plain_args(cmd, argc, argv);
	if (rc >= 0)
		return rc;
	int free_os = strcmp(cmd->name, "free-os-memory") == 0;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	heapd_stats before, after;
	if (heapd_get_stats(h, &before, sizeof before) < 0)
		return ctl_fail(h, cmd->name);
	uint64_t t0 = ctl_now_ns();
	if ((free_os ? heapd_free_os_memory(h) : heapd_gc(h)) < 0)
		return ctl_fail(h, cmd->name);
	uint64_t took = ctl_now_ns() - t0;
	if (heapd_get_stats(h, &after, sizeof after) < 0)
		return ctl_fail(h, cmd->name);
	ctl_close(h);

	char a[FMT_HUMAN_MAX], b[FMT_HUMAN_MAX], c[FMT_HUMAN_MAX];
	uint64_t freed = ctl_delta(after.total_alloc - after.heap_alloc, before.total_alloc - before.heap_alloc);
	printf("freed %" PRIu64 " objects (%s)", ctl_delta(after.frees, before.frees), fmt_bytes_human(a, freed));
	if (free_os)
		printf(", released %s to the OS",
		       fmt_bytes_human(a, ctl_delta(after.scav_released_bytes, before.scav_released_bytes)));
	printf(" in %s; heap_alloc %s -> %s", fmt_ns_human(a, took), fmt_bytes_human(b, before.heap_alloc),
	       fmt_bytes_human(c, after.heap_alloc));
	if (free_os)
		printf(", rss %s -> %s", fmt_bytes_human(a, before.rss_bytes), fmt_bytes_human(b, after.rss_bytes));
	putchar('\n');
	return CTL_OK;
}

static const struct ctl_cmd gc_cmd = {
	"gc", "", "run a full collection",
	"Run a full collection and wait for it: every object that was unreachable\n"
	"when it started is freed. Prints the objects and bytes freed, the time\n"
	"taken and heap_alloc before -> after.\n"
	"\n"
	"  -h, --help  print this help\n",
	collect_run,
};

static const struct ctl_cmd free_os_cmd = {
	"free-os-memory", "", "collect, then return every free page to the OS",
	"Run a full collection, then return every free page to the OS at once\n"
	"(the scavenger does it gradually by itself). Prints what gc prints, the\n"
	"bytes released, and the daemon's RSS before -> after.\n"
	"\n"
	"  -h, --help  print this help\n",
	collect_run,
};

/* ------------------------------------------------------------- save */

static int save_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"wait", no_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc, wait = 0;
	while ((c = ctl_option(cmd, argc, argv, "h", opts, &rc)) > 0)
		wait = 1;
	if (c == 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	uint64_t t0 = ctl_now_ns();
	if (heapd_save(h, wait) < 0)
		return ctl_fail(h, cmd->name);
	uint64_t took = ctl_now_ns() - t0;
	heapd_stats st;
	if (wait && heapd_get_stats(h, &st, sizeof st) < 0)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	char a[FMT_HUMAN_MAX], b[FMT_HUMAN_MAX];
	if (wait)
		printf("saved %" PRIu64 " objects (%s) in %s\n", st.last_save_objects,
		       fmt_bytes_human(a, st.last_save_size_bytes), fmt_ns_human(b, took));
	else
		puts("save started");
	return CTL_OK;
}

static const struct ctl_cmd save_cmd = {
	"save", "[--wait]", "save the heap to heapd's snapshot (admins only)",
	"Save the named roots and everything they reach to heapd's snapshot in its\n"
	"state_dir, while heapd goes on serving (docs/persistence.md). Prints\n"
	"\"save started\"; a save already running is followed by another.\n"
	"\n"
	"      --wait  wait until a save begun after this request is on disk, and\n"
	"              print its objects, size and the time waited; a failed save\n"
	"              (a full disk, say) is an error\n"
	"  -h, --help  print this help\n",
	save_run,
};

/* ------------------------------------------------------------- main */

static const struct ctl_cmd *const commands[] = {
	&ping_cmd, &stats_cmd, &gc_cmd, &free_os_cmd, &save_cmd, &new_cmd, &get_cmd, &put_cmd, &link_cmd,
	&unlink_cmd, &seal_cmd, &info_cmd, &dump_cmd, &du_cmd, &roots_cmd, &root_cmd, &uids_cmd, &clients_cmd, &client_cmd,
	&top_cmd, &bench_cmd,
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

void ctl_print_usage(FILE *f)
{
	fputs("Usage: heapctl [-s SOCKET] [-t MS] [COMMAND [OPTIONS]]\n"
	      "Inspect and control heapd, the garbage-collected heap daemon.\n"
	      "Without a command: a prompt on a terminal, else commands from stdin,\n"
	      "one a line.\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-16s%s\n", commands[i]->name, commands[i]->summary);
	fputs("\n"
	      "Options:\n"
	      "  -s, --socket=SOCKET  heapd's socket; by default $HEAPD_SOCKET, else\n"
	      "                       " HEAPD_DEFAULT_SOCKET "\n"
	      "  -t, --timeout=MS     how long to wait for the daemon, in milliseconds\n"
	      "                       (default 5000; 0 waits forever)\n"
	      "  -h, --help           print this help; `heapctl COMMAND --help` for a command\n"
	      "      --version        print heapctl's version\n"
	      "\n"
	      "A ref is written 0x1f00000003 (or in decimal); where REF|ROOTNAME is\n"
	      "asked for, root:NAME always means the root NAME.\n"
	      "\n"
	      "Exit status: 0 success, 1 error, 2 bad usage.\n", f);
}

/* Whether stdout is a pipe or socket whose reader has gone: poll says
 * POLLERR (a pipe) or POLLHUP (a socket) at once. */
static int stdout_reader_gone(void)
{
	struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* The end of every run: what could not be written is an error, but for a
 * reader that closed its end (`heapctl top | head -1`): it has read what
 * it wanted, and heapctl ends quietly with its status. */
static int finish(const char *cmd, int rc)
{
	int flushed = fflush(stdout) == 0;
	if (flushed && !ferror(stdout))
		return rc;
	int err = errno;
	if (stdout_reader_gone())
		return rc;
	/* An earlier failed write left no errno worth trusting. */
	fprintf(stderr, "heapctl: %s: cannot write the output%s%s\n", cmd, flushed ? "" : ": ",
		flushed ? "" : strerror(err));
	return rc == CTL_OK ? CTL_ERROR : rc;
}

int ctl_dispatch(int argc, char **argv)
{
	const struct ctl_cmd *cmd = NULL;
	for (size_t i = 0; i < NCOMMANDS && !cmd; i++)
		if (strcmp(argv[0], commands[i]->name) == 0)
			cmd = commands[i];
	if (!cmd) {
		fputs("heapctl: unknown command '", stderr);
		ctl_put_text(stderr, argv[0]);
		fputs("'\nTry 'heapctl --help'.\n", stderr);
		return CTL_USAGE;
	}
	char prog[64];
	snprintf(prog, sizeof prog, "heapctl: %s", cmd->name);   /* getopt's messages in our style */
	char *name = argv[0];
	argv[0] = prog;
	optind = 0;   /* glibc: start afresh, forgetting the "+" */
	int rc = finish(cmd->name, cmd->run(cmd, argc, argv));
	release_left();
	argv[0] = name;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	/* A closed pipe is an error from write (EPIPE), which finish() judges,
	 * not a signal that kills heapctl with 141. */
	signal(SIGPIPE, SIG_IGN);
	argv[0] = "heapctl";   /* getopt says "heapctl: ...", whatever the path */
	int c;
	while ((c = getopt_long(argc, argv, "+s:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			ctl_socket = optarg;
			break;
		case 't':
			if (ctl_parse_u32(optarg, CTL_TIMEOUT_MAX_MS, &ctl_timeout) != 0) {
				fprintf(stderr, "heapctl: -t '%s': milliseconds from 0 (forever) to %u\n"
						"Try 'heapctl --help'.\n", optarg, CTL_TIMEOUT_MAX_MS);
				return CTL_USAGE;
			}
			break;
		case 'h':
			ctl_print_usage(stdout);
			return finish("help", CTL_OK);
		case 'V':
			puts("heapctl " PACKAGE_VERSION);
			return finish("version", CTL_OK);
		default:
			fputs("Try 'heapctl --help'.\n", stderr);
			return CTL_USAGE;
		}
	}
	if (optind == argc)
		return ctl_shell();
	return ctl_dispatch(argc - optind, argv + optind);
}
