/*
 * config.c - heapd's configuration: defaults, then the file, then flags.
 *
 * One table, config_opts[] (confopts.c), describes every setting: file
 * key, flag, type, range, whether it may change on reload, and its help.
 * The file parser, getopt_long, --help, the sample file and
 * config_reload() all walk it, so a setting is added in one place and is
 * documented as it is parsed.
 *
 * Order. config_parse() walks the flags once for --config, --help,
 * --version and malformed options; reads the file; then walks the flags
 * again, applying them over the file; last, it checks what no single value
 * shows (a uid both admin and read-only). config_reload() repeats the last
 * three steps into a fresh struct config, from the running config's file
 * and its saved command line, and only when all succeed moves the live
 * settings into the running config: a reload with an error changes
 * nothing.
 *
 * Values. Numbers are decimal (socket_mode octal), with no sign and nothing
 * after them; a SIZE may add K, M, G or T; a switch is yes or no
 * (confvalue.c reads and shows them). Every value is checked against its range as it is parsed, and an
 * error names the key (or the flag), the value and the range.
 *
 * Memory. The configuration is a few short strings and arrays; a process
 * that cannot allocate them cannot serve either, so xrealloc() logs and
 * aborts: the one out-of-memory policy of this module.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "confopts.h"
#include "confvalue.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif



static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		log_error("out of memory reading the configuration");
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xrealloc(NULL, n), s, n);
}

/* Fills err with "FILE:LINE: " when file is not NULL, then the message.
 * Returns -1, for "return fail_at(...)". */
__attribute__((format(printf, 5, 6)))
static int fail_at(char *err, size_t errlen, const char *file, unsigned line, const char *fmt, ...)
{
	if (!errlen)
		return -1;
	size_t n = 0;
	if (file) {
		int k = snprintf(err, errlen, "%s:%u: ", file, line);
		n = k < 0 ? 0 : (size_t)k < errlen ? (size_t)k : errlen - 1;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Through memcpy: the fields are uint32_t, mode_t, int, uint64_t and
 * size_t, all accessed by their width. */
static uint64_t num_load(const struct config *c, const struct opt *o)
{
	uint32_t v32;
	uint64_t v64;
	if (o->size == sizeof v32)
		return memcpy(&v32, (const char *)c + o->off, sizeof v32), v32;
	return memcpy(&v64, (const char *)c + o->off, sizeof v64), v64;
}

static void num_store(struct config *c, const struct opt *o, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;
	memcpy((char *)c + o->off, o->size == sizeof v32 ? (void *)&v32 : (void *)&v, o->size);
}

/* ---- showing values ---- */

static void format_value(const struct config *c, const struct opt *o, char *buf, size_t n)
{
	const bool list = o->type == T_UIDS || o->type == T_GIDS;
	uint64_t v = list || o->type == T_PATH ? 0 : num_load(c, o);
	id_t *ids = NULL;
	size_t nids = 0;
	if (list) {
		memcpy(&ids, (const char *)c + o->off, sizeof ids);
		memcpy(&nids, (const char *)c + o->count_off, sizeof nids);
	}
	switch (o->type) {
	case T_PATH:
		snprintf(buf, n, "%s", *(char *const *)((const char *)c + o->off));
		break;
	case T_MODE:
		snprintf(buf, n, "%04llo", (unsigned long long)v);
		break;
	case T_SIZE:
		if (o->none && !v)
			snprintf(buf, n, "none");
		else
			cval_format_size(v, buf, n);
		break;
	case T_COUNT:
		snprintf(buf, n, "%llu", (unsigned long long)(v / (o->scale ? o->scale : 1)));
		break;
	case T_PERCENT:
		if ((int32_t)v < 0)
			snprintf(buf, n, "off");
		else
			snprintf(buf, n, "%llu", (unsigned long long)v);
		break;
	case T_LEVEL:
		snprintf(buf, n, "%s", log_level_name((int)v));
		break;
	case T_TARGET:
		snprintf(buf, n, "%s", log_target_name((int)v));
		break;
	case T_BOOL:
		snprintf(buf, n, "%s", v ? "yes" : "no");
		break;
	case T_UIDS:
	case T_GIDS:
		buf[0] = '\0';
		for (size_t i = 0, len = 0; i < nids && len < n; i++)
			len += (size_t)snprintf(buf + len, n - len, "%s%u", i ? "," : "", (unsigned)ids[i]);
		break;
	}
}

static void range_text(const struct opt *o, char *buf, size_t n)
{
	char lo[32], hi[32];
	if (o->range)
		snprintf(buf, n, "%s", o->range);
	else if (o->type == T_SIZE)
		snprintf(buf, n, "%s%s..%s", o->none ? "none or " : "", cval_format_size(o->min, lo, sizeof lo),
		         cval_format_size(o->max, hi, sizeof hi));
	else
		snprintf(buf, n, "%s%llu..%llu", o->type == T_PERCENT ? "off or " : "",
		         (unsigned long long)o->min, (unsigned long long)o->max);
}

/* A comma-separated list of ids or names; an empty value empties it.
 * id_t, uid_t and gid_t are one type on Linux. */
static int set_ids(struct config *c, const struct opt *o, const char *val, const char *file,
                   unsigned line, const char *name, char *err, size_t errlen)
{
	char *copy = xstrdup(val), *rest = cval_trim(copy);
	id_t *ids = NULL;
	size_t n = 0;
	int rc = 0;
	if (!*rest)
		rest = NULL;
	while (rest && rc == 0) {
		char *tok = cval_trim(strsep(&rest, ","));
		id_t id;
		const char *problem = *tok ? cval_id(tok, o->type == T_GIDS, &id) : NULL;
		if (!*tok)
			rc = fail_at(err, errlen, file, line, "%s '%s' has an empty entry", name, val);
		else if (problem)
			rc = fail_at(err, errlen, file, line, "%s: '%s' %s", name, tok, problem);
		else {
			ids = xrealloc(ids, (n + 1) * sizeof *ids);
			ids[n++] = id;
		}
	}
	free(copy);
	if (rc) {
		free(ids);
		return -1;
	}
	id_t *old;
	memcpy(&old, (char *)c + o->off, sizeof old);
	free(old);
	memcpy((char *)c + o->off, &ids, sizeof ids);
	memcpy((char *)c + o->count_off, &n, sizeof n);
	return 0;
}

/* Parses val into o's field. file is NULL for a flag: the error then names
 * the flag rather than the key. */
static int set_value(struct config *c, const struct opt *o, const char *val, const char *file,
                     unsigned line, char *err, size_t errlen)
{
	char name[64], range[64];
	snprintf(name, sizeof name, "%s%s", file ? "" : "--", file ? o->key : o->flag);
	uint64_t v = 0;
	int level;
	const char *problem = NULL;
	switch (o->type) {
	case T_PATH:
		if ((*val || o->none) && strlen(val) <= o->max) {
			char **field = (char **)((char *)c + o->off);
			free(*field);
			*field = xstrdup(val);
			return 0;
		}
		break;
	case T_MODE:
		problem = cval_number(val, 8, &v, "is not an octal mode");
		break;
	case T_SIZE:
		if (!o->none || strcasecmp(val, "none") != 0)
			problem = cval_size(val, &v);
		break;
	case T_COUNT:
		problem = cval_number(val, 10, &v, "is not a number");
		break;
	case T_PERCENT:
		if (strcasecmp(val, "off") == 0 || (val[0] == '-' && !cval_number(val + 1, 10, &v, ""))) {
			num_store(c, o, (uint32_t)-1);
			return 0;
		}
		problem = val[0] == '-' ? "is not a percentage or off"
		                        : cval_number(val, 10, &v, "is not a percentage or off");
		break;
	case T_LEVEL:
	case T_TARGET:
		if ((o->type == T_LEVEL ? log_level_parse : log_target_parse)(val, &level))
			problem = o->type == T_LEVEL ? "is not a log level (error, warn, info or debug)"
			                             : "is not a log target (auto, stderr or journal)";
		else
			v = (uint64_t)level;
		break;
	case T_BOOL:
		problem = cval_bool(val, &v);
		break;
	case T_UIDS:
	case T_GIDS:
		return set_ids(c, o, val, file, line, name, err, errlen);
	}
	if (problem)
		return fail_at(err, errlen, file, line, "%s '%s' %s", name, val, problem);
	if (o->type == T_PATH || v < o->min || (o->type == T_MODE ? (v & ~o->max) != 0 : v > o->max)) {
		range_text(o, range, sizeof range);
		return fail_at(err, errlen, file, line, "%s '%s' is out of range (%s)", name, val, range);
	}
	num_store(c, o, v * (o->scale ? o->scale : 1));
	return 0;
}

static const struct opt *find_key(const char *key)
{
	for (size_t i = 0; i < CONFIG_NOPTS; i++)
		if (strcmp(config_opts[i].key, key) == 0)
			return &config_opts[i];
	return NULL;
}

/* One line of the file. first[i] is the line that set config_opts[i], or 0. */
static int parse_line(struct config *c, char *line, unsigned lineno, unsigned *first,
                      char *err, size_t errlen)
{
	const char *file = c->config_path;
	for (char *p = line; *p; p++) {
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	char *s = cval_trim(line), *eq = strchr(s, '=');
	if (!*s)
		return 0;
	if (!eq || eq == s)
		return fail_at(err, errlen, file, lineno, "expected 'key = value', got '%s'", s);
	*eq = '\0';
	const char *key = cval_trim(s), *val = cval_trim(eq + 1);
	const struct opt *o = find_key(key);
	if (!o)
		return fail_at(err, errlen, file, lineno, "unknown key '%s'", key);
	unsigned *seen = &first[o - config_opts];
	if (*seen)
		return fail_at(err, errlen, file, lineno, "%s is set twice (first on line %u)", key, *seen);
	*seen = lineno;
	return set_value(c, o, val, file, lineno, err, errlen);
}

/* Reads c->config_path. The default file may be missing, unless it was
 * read before (c->config_read); one named with --config may not. */
static int load_file(struct config *c, char *err, size_t errlen)
{
	FILE *f = fopen(c->config_path, "re");
	if (!f && errno == ENOENT && !c->config_given && !c->config_read)
		return 0;
	if (!f && c->config_read && !c->config_given)
		return fail_at(err, errlen, NULL, 0, "cannot open config file %s: %s (it was read before; "
		               "heapd runs without it only after a restart)", c->config_path, strerror(errno));
	if (!f)
		return fail_at(err, errlen, NULL, 0, "cannot open config file %s: %s", c->config_path,
		               strerror(errno));
	c->config_read = true;
	unsigned first[CONFIG_NOPTS] = {0};
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;
	while (rc == 0 && getline(&line, &cap, f) >= 0)
		rc = parse_line(c, line, ++lineno, first, err, errlen);
	if (rc == 0 && ferror(f))
		rc = fail_at(err, errlen, NULL, 0, "cannot read config file %s: %s", c->config_path,
		             strerror(errno));
	free(line);
	fclose(f);
	return rc;
}

/* ---- the command line ---- */

enum { OPT_CONFIG = 1, OPT_CHECK, OPT_DISCARD, OPT_HELP = 'h', OPT_VERSION = 'V', OPT_TABLE = 256 };

struct flags {
	const char *config;
	bool help, version, check, discard;
};

/* Walks argv with getopt_long. The first walk (apply false) notes the
 * flags that steer config_parse() and rejects malformed ones; the second
 * applies the settings. */
static int walk_flags(struct config *c, int argc, char **argv, bool apply, struct flags *fl,
                      char *err, size_t errlen)
{
	struct option lo[CONFIG_NOPTS + 6];
	size_t i;
	for (i = 0; i < CONFIG_NOPTS; i++)
		lo[i] = (struct option){config_opts[i].flag, required_argument, NULL, OPT_TABLE + (int)i};
	lo[i++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	lo[i++] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
	lo[i++] = (struct option){"discard-snapshot", no_argument, NULL, OPT_DISCARD};
	lo[i++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	lo[i++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	lo[i] = (struct option){0};
	if (argc < 1)
		return 0;
	optind = 0; /* glibc: start over, forgetting any earlier walk */
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":hV", lo, NULL)) != -1) {
		const char *arg = argv[optind - 1];
		switch (ch) {
		case ':':
			return fail_at(err, errlen, NULL, 0, "option '%s' needs a value", arg);
		case '?':
			if (optopt && strncmp(arg, "--", 2) != 0)
				return fail_at(err, errlen, NULL, 0, "unknown option '-%c'", optopt);
			return fail_at(err, errlen, NULL, 0, optopt ? "option '%s' takes no value"
			                                            : "unknown option '%s'", arg);
		case OPT_CONFIG:
			fl->config = optarg;
			break;
		case OPT_CHECK:
			fl->check = true;
			break;
		case OPT_DISCARD:
			fl->discard = true;
			break;
		case OPT_HELP:
			fl->help = true;
			break;
		case OPT_VERSION:
			fl->version = true;
			break;
		default:
			if (apply && set_value(c, &config_opts[ch - OPT_TABLE], optarg, NULL, 0, err, errlen))
				return -1;
		}
	}
	if (optind < argc)
		return fail_at(err, errlen, NULL, 0, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Prints text wrapped to 78 columns, each line starting with prefix. */
static void print_wrapped(FILE *f, const char *prefix, const char *text)
{
	size_t col = 0;
	bool start = true;
	while (*text) {
		size_t w = strcspn(text, " ");
		if (!start && col + 1 + w > 78) {
			fputc('\n', f);
			start = true;
		}
		if (start)
			col = (size_t)fprintf(f, "%s", prefix);
		else
			col += (size_t)fprintf(f, " ");
		start = false;
		col += fwrite(text, 1, w, f);
		for (text += w; *text == ' '; text++)
			;
	}
	if (!start)
		fputc('\n', f);
}

/* "<help>. Default: D. Range: R. Changes on reload." */
static void describe(const struct config *def, const struct opt *o, char *buf, size_t n)
{
	char dflt[128], range[64];
	format_value(def, o, dflt, sizeof dflt);
	range_text(o, range, sizeof range);
	snprintf(buf, n, "%s. Default: %s. Range: %s. Changes %s.", o->help, *dflt ? dflt : "empty",
	         range, o->live ? "on reload" : "at restart");
}

static void print_usage(FILE *f)
{
	static const char *const arg_names[] = {
		[T_PATH] = "PATH", [T_MODE] = "MODE", [T_SIZE] = "SIZE", [T_COUNT] = "N",
		[T_PERCENT] = "N|off", [T_LEVEL] = "LEVEL", [T_TARGET] = "WHERE", [T_UIDS] = "LIST", [T_GIDS] = "LIST",
		[T_BOOL] = "yes|no",
	};
	struct config def;
	char text[1024];
	fputs("Usage: heapd [OPTION]...\n"
	      "Serves a garbage-collected object heap over a Unix socket.\n"
	      "Settings come from their defaults, then the config file, then these flags.\n"
	      "SIZE is a byte count or a number with K, M, G or T (powers of 1024).\n"
	      "\n"
	      "  --config FILE\n"
	      "        Config file (default " CONFIG_DEFAULT_PATH ", which may be missing).\n"
	      "  --check-config\n"
	      "        Check the configuration and exit.\n"
	      "  --discard-snapshot\n"
	      "        Start with an empty heap when the snapshot in state_dir cannot be\n"
	      "        loaded, moving it aside (heapd.snapshot.bad-TIME) rather than\n"
	      "        refusing to start.\n"
	      "  -h, --help\n"
	      "        Show this help and exit.\n"
	      "  -V, --version\n"
	      "        Show the version and exit.\n",
	      f);
	config_init(&def);
	for (size_t i = 0; i < CONFIG_NOPTS; i++) {
		fprintf(f, "  --%s %s\n", config_opts[i].flag, arg_names[config_opts[i].type]);
		snprintf(text, sizeof text, "%s: ", config_opts[i].key);
		describe(&def, &config_opts[i], text + strlen(text), sizeof text - strlen(text));
		print_wrapped(f, "        ", text);
	}
	config_free(&def);
}

/* ---- the API ---- */

void config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->socket_path = xstrdup(CONFIG_DEFAULT_SOCKET);
	c->socket_mode = 0660;
	heap_config_default(&c->heap);
	c->max_clients = 1024;
	c->max_clients_per_uid = 256;
	c->admin_uids = xrealloc(NULL, sizeof *c->admin_uids);
	c->admin_uids[0] = 0;
	c->n_admin_uids = 1;
	c->admin_reserved = 3;
	c->hello_timeout_ms = 5000;
	c->max_bad_refs = 1000;
	c->max_frame = 16 * MIB;
	c->max_output = 8 * MIB;
	c->max_batch_ops = 1024;
	c->max_cas_batch_ops = 64;
	c->max_roots_per_uid = 65536;
	c->max_root_bytes_per_uid = 4 * MIB;
	c->max_holds_per_uid = 1u << 21;
	c->max_output_per_uid = 64 * MIB;
	c->max_retained_per_uid = 4;
	c->root_mode = 0644;
	c->heap.max_tenant_heap = 3 * GIB;
	c->log_level = LOGL_INFO;
	c->log_target = LOGT_AUTO;
	c->idle_gc_period_s = 120;
	c->state_dir = xstrdup(CONFIG_DEFAULT_STATE_DIR);
	c->save_on_stop = 1;
	c->save_interval_s = 300;
	c->save_min_changes = 1;
	c->config_path = xstrdup(CONFIG_DEFAULT_PATH);
}

void config_free(struct config *c)
{
	free(c->socket_path);
	free(c->state_dir);
	free(c->allowed_uids);
	free(c->allowed_gids);
	free(c->admin_uids);
	free(c->readonly_uids);
	free(c->readonly_gids);
	free(c->zero_copy_uids);
	free(c->zero_copy_gids);
	free(c->config_path);
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	memset(c, 0, sizeof *c);
}

static int set_config_path(struct config *c, const char *path, char *err, size_t errlen)
{
	char *cwd = path[0] == '/' ? NULL : getcwd(NULL, 0);
	if (path[0] != '/' && !cwd)
		return fail_at(err, errlen, NULL, 0, "cannot resolve config file %s: %s", path,
		               strerror(errno));
	free(c->config_path);
	c->config_path = xrealloc(NULL, (cwd ? strlen(cwd) + 1 : 0) + strlen(path) + 1);
	sprintf(c->config_path, "%s%s%s", cwd ? cwd : "", cwd ? "/" : "", path);
	c->config_given = true;
	free(cwd);
	return 0;
}

/* A uid is an admin or read-only, not both: which one was meant is not
 * for heapd to guess. */
static int check_roles(const struct config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n_readonly_uids; i++)
		if (config_id_listed(c->admin_uids, c->n_admin_uids, c->readonly_uids[i]))
			return fail_at(err, errlen, NULL, 0, "uid %u is in both admin_uids and readonly_uids",
			               (unsigned)c->readonly_uids[i]);
	return 0;
}

int config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	c->argv = xrealloc(c->argv, ((size_t)argc + 1) * sizeof *c->argv);
	for (int i = 0; i < argc; i++)
		c->argv[i] = xstrdup(argv[i]);
	c->argv[argc] = NULL;
	c->argc = argc;

	struct flags fl = {0};
	if (walk_flags(c, c->argc, c->argv, false, &fl, err, errlen))
		return -1;
	if (fl.help || fl.version) {
		if (fl.help)
			print_usage(stdout);
		else
			printf("heapd %s\n", PACKAGE_VERSION);
		return 1;
	}
	if (fl.config && set_config_path(c, fl.config, err, errlen))
		return -1;
	c->config_read = false; /* at start, the default file may be missing */
	if (load_file(c, err, errlen) || walk_flags(c, c->argc, c->argv, true, &fl, err, errlen) ||
	    check_roles(c, err, errlen))
		return -1;
	c->discard_snapshot = fl.discard;
	return fl.check ? 2 : 0;
}

static void swap_bytes(void *a, void *b, size_t n)
{
	unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++) {
		unsigned char t = x[i];
		x[i] = y[i];
		y[i] = t;
	}
}

int config_reload(struct config *running, char *err, size_t errlen)
{
	struct config next;
	struct flags fl = {0};
	config_init(&next);
	free(next.config_path);
	next.config_path = xstrdup(running->config_path);
	next.config_given = running->config_given;
	next.config_read = running->config_read;
	if (load_file(&next, err, errlen) ||
	    walk_flags(&next, running->argc, running->argv, true, &fl, err, errlen) ||
	    check_roles(&next, err, errlen)) {
		config_free(&next);
		return -1;
	}
	if (!next.config_read)
		log_info("no config file %s: the defaults and the command line, as before", next.config_path);
	running->config_read = next.config_read;
	for (const struct opt *o = config_opts; o < config_opts + CONFIG_NOPTS; o++) {
		char was[256], now[256];
		if (o->live) {
			/* The old value goes to next, which frees it. */
			swap_bytes((char *)running + o->off, (char *)&next + o->off, o->size);
			if (o->type == T_UIDS || o->type == T_GIDS)
				swap_bytes((char *)running + o->count_off, (char *)&next + o->count_off,
				           sizeof(size_t));
			continue;
		}
		format_value(running, o, was, sizeof was);
		format_value(&next, o, now, sizeof now);
		if (strcmp(was, now) != 0)
			log_warn("%s changed: takes effect at restart (running %s, new %s)", o->key, was, now);
	}
	config_free(&next);
	return 0;
}

int config_id_listed(const id_t *ids, size_t n, id_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

void config_write_sample(FILE *f)
{
	struct config def;
	char text[1024], dflt[128];
	fputs("# heapd configuration (" CONFIG_DEFAULT_PATH ").\n"
	      "#\n"
	      "# Lines are \"key = value\"; '#' starts a comment. Every key is listed\n"
	      "# below with its default, commented out: uncomment a line to change it.\n"
	      "# Each key has a command-line flag (heapd --help), which overrides this\n"
	      "# file. A SIZE is a byte count or a number with K, M, G or T (powers of\n"
	      "# 1024; 16M, 16MiB and 16MB are the same). When heapd reloads its\n"
	      "# configuration, keys marked \"changes at restart\" keep their old value\n"
	      "# until heapd restarts.\n",
	      f);
	config_init(&def);
	for (const struct opt *o = config_opts; o < config_opts + CONFIG_NOPTS; o++) {
		fputc('\n', f);
		describe(&def, o, text, sizeof text);
		print_wrapped(f, "# ", text);
		format_value(&def, o, dflt, sizeof dflt);
		fprintf(f, "#%s =%s%s\n", o->key, *dflt ? " " : "", dflt);
	}
	config_free(&def);
}
