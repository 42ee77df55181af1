/*
 * roots.c - heapctl roots, which lists the named roots (names, or with
 * -l their modes and owners, as `ls -l`), and heapctl root, which sets,
 * reads, deletes and lists them (root ls PATTERN, a glob the daemon
 * matches, read with heapd_root_scan's cursor) and changes one's mode or
 * owner (root_chmod, root_chown).
 *
 * heapd lists only the roots the caller may read. Names are printed
 * sorted bytewise and escaped (ctl_put_text), unless -0 asks for them as
 * they are; owners and groups by name when this host has one for the
 * number, else as the number. A partial list (more than one reply holds)
 * is printed and reported as an error, so that a script does not take it
 * for whole.
 */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapctl.h"
#include "parse.h"

const char *ctl_id_name(uint32_t id, int group, char buf[CTL_ID_NAME_MAX])
{
	const struct passwd *pw = group ? NULL : getpwuid((uid_t)id);
	const struct group *gr = group ? getgrgid((gid_t)id) : NULL;
	const char *name = pw ? pw->pw_name : gr ? gr->gr_name : NULL;
	if (name && strlen(name) < CTL_ID_NAME_MAX)
		return name;
	snprintf(buf, CTL_ID_NAME_MAX, "%" PRIu32, id);
	return buf;
}

void ctl_mode_text(uint32_t mode, char out[10])
{
	for (int i = 0; i < 3; i++) {
		uint32_t bits = mode >> (6 - 3 * i);
		out[3 * i] = bits & 4 ? 'r' : '-';
		out[3 * i + 1] = bits & 2 ? 'w' : '-';
		out[3 * i + 2] = '-';
	}
	out[9] = '\0';
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const heapd_root_info *)a)->name, ((const heapd_root_info *)b)->name);
}

/* One root: its name, after its mode, owner and group with -l. */
static void put_root(const heapd_root_info *r, int end, int width[2])
{
	if (width) {
		char mode[10], u[CTL_ID_NAME_MAX], g[CTL_ID_NAME_MAX];
		ctl_mode_text(r->mode, mode);
		printf("%s %-*s %-*s ", mode, width[0], ctl_id_name(r->uid, 0, u), width[1], ctl_id_name(r->gid, 1, g));
	}
	if (end == '\n')
		ctl_put_text(stdout, r->name);
	else
		fputs(r->name, stdout);  /* -0: for xargs -0, the bytes as they are */
	putchar(end);
}

static int roots_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"null", no_argument, NULL, '0'},
		{"long", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc, end = '\n', lng = 0;
	while ((c = ctl_option(cmd, argc, argv, "0lh", opts, &rc)) > 0) {
		if (c == '0')
			end = '\0';
		else
			lng = 1;
	}
	if (c == 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	heapd_root_info *roots;
	size_t n;
	int truncated;
	if (heapd_root_list_info(h, &roots, &n, &truncated) < 0)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	qsort(roots, n, sizeof *roots, by_name);  /* for people and diffs */
	int width[2] = {0, 0};
	for (size_t i = 0; lng && i < n; i++) {
		char u[CTL_ID_NAME_MAX], g[CTL_ID_NAME_MAX];
		int wu = (int)strlen(ctl_id_name(roots[i].uid, 0, u)), wg = (int)strlen(ctl_id_name(roots[i].gid, 1, g));
		width[0] = wu > width[0] ? wu : width[0];
		width[1] = wg > width[1] ? wg : width[1];
	}
	for (size_t i = 0; i < n; i++)
		put_root(&roots[i], end, lng ? width : NULL);
	heapd_free_root_info(roots);
	return ctl_truncated(cmd->name, truncated, "the first %zu names", n);
}

const struct ctl_cmd roots_cmd = {
	"roots", "[-l] [-0]", "list the named roots",
	"Print the names of the named roots that this user may read, one per\n"
	"line, sorted.\n"
	"\n"
	"  -l, --long  print each root's mode, owner and group before its name,\n"
	"              as `ls -l` does: rw-r--r-- alice staff NAME\n"
	"  -0, --null  end each line with a NUL byte instead of a newline, the\n"
	"              name as it is (xargs -0 reads this); else control\n"
	"              characters that an older heapd let in are printed as \\xNN\n"
	"  -h, --help  print this help\n",
	roots_run,
};

/* ------------------------------------------------------------- root */

/* A user or group: a name this host knows, else a number. */
static int parse_id(const char *s, int group, uint32_t *id)
{
	const struct passwd *pw = group ? NULL : getpwnam(s);
	const struct group *gr = group ? getgrnam(s) : NULL;
	if (pw || gr) {
		*id = pw ? (uint32_t)pw->pw_uid : (uint32_t)gr->gr_gid;
		return 0;
	}
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || *s == '-' || v >= HEAPD_ID_KEEP)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

/* OWNER, OWNER:GROUP or :GROUP; what is not given is HEAPD_ID_KEEP.
 * Returns -1 to go on, or the exit code (bad usage). */
static int parse_owner(const struct ctl_cmd *cmd, char *arg, uint32_t *uid, uint32_t *gid)
{
	char *colon = strchr(arg, ':');
	*uid = *gid = HEAPD_ID_KEEP;
	if (colon)
		*colon = '\0';
	if (*arg && parse_id(arg, 0, uid) != 0)
		return ctl_usage(cmd->name, "no user '%s'", arg);
	if (colon && colon[1] && parse_id(colon + 1, 1, gid) != 0)
		return ctl_usage(cmd->name, "no group '%s'", colon + 1);
	if (*uid == HEAPD_ID_KEEP && *gid == HEAPD_ID_KEEP)
		return ctl_usage(cmd->name, "no owner or group in '%s%s%s'", arg, colon ? ":" : "", colon ? colon + 1 : "");
	return -1;
}

/* An octal mode; heapd checks its bits. -1 to go on, or the exit code. */
static int parse_mode(const struct ctl_cmd *cmd, const char *arg, uint32_t *mode)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 8);
	if (!*arg || *end || *arg == '-' || v > 07777)
		return ctl_usage(cmd->name, "'%s' is not an octal mode", arg);
	*mode = (uint32_t)v;
	return -1;
}

/* root set NAME REF|ROOTNAME, root get NAME, root del NAME. */
static int root_data(const struct ctl_cmd *cmd, const char *verb, char **args)
{
	struct ctl_target t;
	heapd_ref ref = 0;
	int rc, set = strcmp(verb, "set") == 0;
	if (set && (rc = ctl_target_parse(cmd->name, args[1], &t)) >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	if (set) {
		if ((rc = ctl_target_resolve(h, cmd->name, &t)) >= 0)
			return rc;
		if (heapd_root_set(h, args[0], t.ref) < 0)
			return ctl_fail(h, cmd->name);
		ctl_target_release(h, &t);
	} else if (strcmp(verb, "get") == 0) {
		if (heapd_root_get(h, args[0], &ref) < 0)
			return ctl_fail(h, cmd->name);
		ctl_release(h, ref);   /* root_get's hold */
		char text[CTL_REF_MAX];
		puts(ctl_ref_text(text, ref));
	} else if (heapd_root_set(h, args[0], 0) < 0) {
		return ctl_fail(h, cmd->name);
	}
	ctl_close(h);
	return CTL_OK;
}

void ctl_free_roots(heapd_root_info *roots, size_t n)
{
	for (size_t i = 0; roots && i < n; i++)
		free((char *)roots[i].name);
	free(roots);
}

/* Appends a scan's piece to *all (*n of them, room for *cap). */
static int keep_roots(heapd_root_info **all, size_t *n, size_t *cap, const heapd_root_info *piece, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (*n == *cap) {
			size_t grown = *cap ? 2 * *cap : 64;
			heapd_root_info *p = realloc(*all, grown * sizeof *p);
			if (!p)
				return HEAPD_ENOBUFS;
			*all = p;
			*cap = grown;
		}
		heapd_root_info r = piece[i];
		if ((r.name = strdup(piece[i].name)) == NULL)
			return HEAPD_ENOBUFS;
		(*all)[(*n)++] = r;
	}
	return 0;
}

int ctl_scan_roots(heapd *h, const char *pattern, heapd_root_info **roots, size_t *n)
{
	heapd_root_info *all = NULL;
	size_t kept = 0, cap = 0;
	uint64_t cursor = 0;
	int err = 0;
	do {
		heapd_root_info *piece;
		size_t count;
		if (heapd_root_scan(h, pattern, cursor, 0, &piece, &count, &cursor) < 0) {
			err = -1;
			break;
		}
		err = keep_roots(&all, &kept, &cap, piece, count);
		heapd_free_root_info(piece);
	} while (!err && cursor != 0);
	if (err) {
		ctl_free_roots(all, kept);
		return err;
	}
	if (kept)   /* qsort wants a real array, even of none */
		qsort(all, kept, sizeof *all, by_name);
	size_t unique = 0;   /* a scan may list a root twice */
	for (size_t i = 0; i < kept; i++) {
		if (unique && strcmp(all[unique - 1].name, all[i].name) == 0)
			free((char *)all[i].name);
		else
			all[unique++] = all[i];
	}
	*roots = all;
	*n = unique;
	return 0;
}

/* root ls [PATTERN]: the names the glob matches (the daemon matches them,
 * a scan at a time), sorted, as roots prints them. */
static int root_ls(const struct ctl_cmd *cmd, const char *pattern)
{
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	heapd_root_info *roots;
	size_t n;
	int err = ctl_scan_roots(h, pattern, &roots, &n);
	if (err == HEAPD_ENOBUFS) {
		fprintf(stderr, "heapctl: %s: out of memory\n", cmd->name);
		ctl_close(h);
		return CTL_ERROR;
	}
	if (err)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	for (size_t i = 0; i < n; i++)
		put_root(&roots[i], '\n', NULL);
	ctl_free_roots(roots, n);
	return CTL_OK;
}

/* The subcommands: name, arguments after it, and what they are. */
static const struct {
	const char *verb;
	int nargs;   /* -1: 0 or 1 */
	const char *usage;
} root_verbs[] = {
	{"set", 2, "set NAME REF"},
	{"get", 1, "get NAME"},
	{"del", 1, "del NAME"},
	{"ls", -1, "ls [PATTERN]"},
	{"cas", 3, "cas NAME EXPECTED NEW"},
	{"chmod", 2, "chmod MODE NAME"},
	{"chown", 2, "chown OWNER[:GROUP] NAME"},
};

static int root_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c = getopt_long(argc, argv, "+h", opts, NULL);
	if (c == 'h')
		return ctl_help(cmd);
	if (c != -1)
		return ctl_usage(cmd->name, NULL);
	char **args = argv + optind;
	int nargs = argc - optind - 1;
	size_t v = 0, nverbs = sizeof root_verbs / sizeof root_verbs[0];
	while (nargs >= 0 && v < nverbs && strcmp(args[0], root_verbs[v].verb) != 0)
		v++;
	if (nargs < 0 || v == nverbs)
		return ctl_usage(cmd->name, "expected set, get, del, ls, cas, chmod or chown");
	if (root_verbs[v].nargs >= 0 ? nargs != root_verbs[v].nargs : nargs > 1)
		return ctl_usage(cmd->name, "expected %s", root_verbs[v].usage);
	if (strcmp(args[0], "ls") == 0)
		return root_ls(cmd, nargs ? args[1] : NULL);
	if (strcmp(args[0], "cas") == 0)
		return ctl_root_cas(cmd, args + 1);
	int is_chmod = strcmp(args[0], "chmod") == 0;
	if (!is_chmod && strcmp(args[0], "chown") != 0)
		return root_data(cmd, args[0], args + 1);
	uint32_t a, b = 0;
	int rc = is_chmod ? parse_mode(cmd, args[1], &a) : parse_owner(cmd, args[1], &a, &b);
	if (rc >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	if ((is_chmod ? heapd_root_chmod(h, args[2], a) : heapd_root_chown(h, args[2], a, b)) < 0)
		return ctl_fail(h, cmd->name);
	ctl_close(h);
	return CTL_OK;
}

const struct ctl_cmd root_cmd = {
	"root", "set|get|del|ls|cas|chmod|chown ...", "set, get, delete, list named roots; chmod and chown them",
	"Work with one named root, or list them.\n"
	"\n"
	"  set NAME REF              make NAME (or change it) to name REF, a ref\n"
	"                            or a root name (root:NAME if it looks like a\n"
	"                            number)\n"
	"  get NAME                  print the ref NAME names: 0x1f00000003\n"
	"  del NAME                  delete NAME; an error if there is none\n"
	"  ls [PATTERN]              print the names this user may read, sorted,\n"
	"                            those that match the glob PATTERN (fnmatch(3):\n"
	"                            *, ?, [...]) if given\n"
	"  cas NAME EXPECTED NEW     set NAME to NEW only if it names EXPECTED\n"
	"                            (- or 0: only if there is no NAME; NEW - or\n"
	"                            0 deletes it); print what NAME named (-:\n"
	"                            nothing); exit 1 when it named another\n"
	"  chmod MODE NAME           MODE in octal, read (4) and write (2) for\n"
	"                            the owner, the group and others: 0644 is\n"
	"                            rw-r--r--; the root's owner or an admin may\n"
	"  chown OWNER[:GROUP] NAME  OWNER and GROUP by name or number; :GROUP\n"
	"                            alone keeps the owner. As chown(1): only an\n"
	"                            admin may give a root to another user; its\n"
	"                            owner may set a group it is in\n"
	"  -h, --help                print this help\n",
	root_run,
};
