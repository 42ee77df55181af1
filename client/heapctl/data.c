/*
 * data.c - heapctl's commands on the data: new, get, put, link, unlink
 * and seal, and what they share: the REF|ROOTNAME rule (struct ctl_target), data
 * from an argument, a file or stdin, and I/O in frame-sized pieces.
 *
 * Holds. An object that only heapctl's connection held would die when
 * heapctl exits, so new attaches what it makes to a root or a slot before
 * it lets go. Every hold a command takes (new's alloc, a root_get to
 * resolve a name) is released before it returns (ctl_release), and in a
 * session, whose connection outlives its commands, what a failed command
 * left is released after it (ctl_held); when heapctl exits, its
 * connection's holds go anyway.
 *
 * Sizes. Data moves in pieces that fit in a frame (max_frame_size less
 * CTL_FRAME_SLACK for the rest of the request or reply), so an object of
 * any size the daemon takes can be written and read. An object larger than
 * max_object_size (8 + 8 * nrefs + nbytes) is refused here, with the
 * numbers, before anything is sent.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapctl.h"
#include "parse.h"

/* Bytes of a frame kept for what surrounds the data (as bench's -d). */
#define CTL_FRAME_SLACK 64
/* The most data heapctl reads from a file or stdin: an object's nbytes is
 * 32 bits. */
#define CTL_DATA_MAX UINT32_MAX

/* ------------------------------------------------------- shared */

int ctl_target_parse(const char *cmd, const char *arg, struct ctl_target *t)
{
	if (strlen(arg) >= sizeof t->text)
		return ctl_usage(cmd, "'%.20s...': a root name is %d bytes at most", arg, CTL_ROOT_NAME_MAX);
	strcpy(t->text, arg);
	t->root = NULL;
	switch (ctl_parse_target(t->text, &t->ref, &t->root)) {
	case CTL_TARGET_REF:
		return t->ref ? -1 : ctl_usage(cmd, "'%s' is the null ref", arg);
	case CTL_TARGET_ROOT:
		return -1;
	default:
		return ctl_usage(cmd, "'%s' is neither a ref (0x1f00000003 or decimal) nor a root name", arg);
	}
}

int ctl_slot_parse(const char *cmd, const char *arg, struct ctl_target *t, uint32_t *slot)
{
	char text[sizeof t->text];
	if (ctl_split_slot(arg, text, sizeof text, slot) != 0)
		return ctl_usage(cmd, "'%s': expected REF.SLOT, as 0x1f00000003.0 or NAME.0", arg);
	return ctl_target_parse(cmd, text, t);
}

int ctl_target_resolve(heapd *h, const char *cmd, struct ctl_target *t)
{
	if (!t->root)
		return -1;
	if (heapd_root_get(h, t->root, &t->ref) < 0)
		return ctl_fail(h, cmd);
	ctl_held(h, t->ref);
	return -1;
}

heapd *ctl_target_open(const char *cmd, const char *arg, struct ctl_target *t, int *rc)
{
	if ((*rc = ctl_target_parse(cmd, arg, t)) >= 0)
		return NULL;
	heapd *h = ctl_connect(cmd);
	if (!h) {
		*rc = CTL_ERROR;
		return NULL;
	}
	if ((*rc = ctl_target_resolve(h, cmd, t)) >= 0)
		return NULL;
	return h;
}

void ctl_target_release(heapd *h, const struct ctl_target *t)
{
	if (t->root)
		ctl_release(h, t->ref);
}

/* The next option, -1 at the end of them (arguments may be left), or 0
 * with *rc set for --help and a refused option. */
static int next_option(const struct ctl_cmd *cmd, int argc, char **argv, const char *shorts,
		       const struct option *longs, int *rc)
{
	int c = getopt_long(argc, argv, shorts, longs, NULL);
	if (c == 'h')
		*rc = ctl_help(cmd);
	else if (c == '?' || c == ':')
		*rc = ctl_usage(cmd->name, NULL);
	else
		return c;
	return 0;
}

static int number_option(const struct ctl_cmd *cmd, const char *opt, const char *arg, uint32_t *out)
{
	if (ctl_parse_u32(arg, UINT32_MAX, out) == 0)
		return -1;
	return ctl_usage(cmd->name, "%s '%s': a whole number from 0 to %" PRIu32, opt, arg, UINT32_MAX);
}

/* Everything f holds, up to CTL_DATA_MAX bytes. */
static int read_all(const struct ctl_cmd *cmd, FILE *f, const char *what, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	while (b) {
		n += fread(b + n, 1, cap - n, f);
		if (n < cap || n > CTL_DATA_MAX)
			break;
		char *nb = realloc(b, cap * 2);
		if (!nb) {
			free(b);
			b = NULL;
			break;
		}
		b = nb;
		cap *= 2;
	}
	const char *why = NULL;
	if (!b)
		why = "out of memory";
	else if (ferror(f))
		why = strerror(errno);
	else if (n > CTL_DATA_MAX)
		why = "more than 4294967295 bytes";
	if (why) {
		fprintf(stderr, "heapctl: %s: reading %s: %s\n", cmd->name, what, why);
		free(b);
		return CTL_ERROR;
	}
	*buf = b;
	*len = n;
	return -1;
}

/* The data of new and put: the argument, stdin for "-", or --file's. */
static int get_data(const struct ctl_cmd *cmd, const char *arg, const char *file, char **buf, size_t *len)
{
	if (arg && file)
		return ctl_usage(cmd->name, "give the data as an argument or with --file, not both");
	if (file) {
		FILE *f = fopen(file, "rb");
		if (!f) {
			fprintf(stderr, "heapctl: %s: %s: %s\n", cmd->name, file, strerror(errno));
			return CTL_ERROR;
		}
		int rc = read_all(cmd, f, file, buf, len);
		fclose(f);
		return rc;
	}
	if (arg && strcmp(arg, "-") == 0 && ctl_in_session())
		return ctl_usage(cmd->name, "stdin holds the commands here: give the data as an argument or with --file");
	if (arg && strcmp(arg, "-") == 0)
		return read_all(cmd, stdin, "stdin", buf, len);
	*len = arg ? strlen(arg) : 0;
	*buf = malloc(*len + 1);
	if (!*buf) {
		fprintf(stderr, "heapctl: %s: out of memory\n", cmd->name);
		return CTL_ERROR;
	}
	memcpy(*buf, arg ? arg : "", *len);
	return -1;
}

static uint32_t piece_size(const heapd *h)
{
	return heapd_max_frame(h) - CTL_FRAME_SLACK;
}

/* buf[0..len) into obj at off, a piece per request. */
static int write_pieces(heapd *h, heapd_ref obj, uint64_t off, const char *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		size_t n = len - done < piece_size(h) ? len - done : piece_size(h);
		if (off + done + n > UINT32_MAX || heapd_write(h, obj, (uint32_t)(off + done), buf + done, (uint32_t)n) < 0)
			return -1;
		done += n;
	}
	return 0;
}

/* ------------------------------------------------------------ new */

struct new_args {
	uint32_t nrefs, nbytes;
	int have_bytes;
	const char *root, *into, *file, *data;
	struct ctl_target obj;   /* --into's REF */
	uint32_t slot;           /* --into's SLOT */
};

static int new_parse(const struct ctl_cmd *cmd, int argc, char **argv, struct new_args *a)
{
	static const struct option opts[] = {
		{"refs", required_argument, NULL, 'r'},
		{"bytes", required_argument, NULL, 'b'},
		{"root", required_argument, NULL, 'R'},
		{"into", required_argument, NULL, 'i'},
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc = CTL_OK;
	while ((c = next_option(cmd, argc, argv, "h", opts, &rc)) > 0) {
		if (c == 'r' && (rc = number_option(cmd, "--refs", optarg, &a->nrefs)) >= 0)
			return rc;
		if (c == 'b' && (rc = number_option(cmd, "--bytes", optarg, &a->nbytes)) >= 0)
			return rc;
		a->have_bytes |= c == 'b';
		a->root = c == 'R' ? optarg : a->root;
		a->into = c == 'i' ? optarg : a->into;
		a->file = c == 'f' ? optarg : a->file;
	}
	if (c == 0)
		return rc;
	if (!a->root == !a->into)
		return ctl_usage(cmd->name, "say where the object goes: --root NAME or --into REF.SLOT (one of them)");
	if (argc - optind > 1)
		return ctl_usage(cmd->name, "unexpected argument '%s'", argv[optind + 1]);
	a->data = optind < argc ? argv[optind] : NULL;
	return a->into ? ctl_slot_parse(cmd->name, a->into, &a->obj, &a->slot) : -1;
}

/* The new object, held, filled, then attached where it goes. */
static int new_make(const struct ctl_cmd *cmd, heapd *h, struct new_args *a, const char *buf, size_t len)
{
	heapd_ref ref;
	int rc = a->into ? ctl_target_resolve(h, cmd->name, &a->obj) : -1;
	if (rc >= 0)
		return rc;
	uint32_t first = len < piece_size(h) ? (uint32_t)len : piece_size(h);
	if (heapd_alloc_into(h, 0, 0, a->nrefs, a->nbytes, buf, first, &ref) < 0)
		return ctl_fail(h, cmd->name);
	ctl_held(h, ref);
	if (write_pieces(h, ref, first, buf + first, len - first) < 0 ||
	    (a->root ? heapd_root_set(h, a->root, ref) : heapd_set_ref(h, a->obj.ref, a->slot, ref)) < 0)
		return ctl_fail(h, cmd->name);
	ctl_release(h, ref);
	if (a->into)
		ctl_target_release(h, &a->obj);
	char text[CTL_REF_MAX];
	puts(ctl_ref_text(text, ref));
	ctl_close(h);
	return CTL_OK;
}

static int new_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct new_args a = {.root = NULL};
	char *buf;
	size_t len;
	int rc = new_parse(cmd, argc, argv, &a);
	if (rc >= 0 || (rc = get_data(cmd, a.data, a.file, &buf, &len)) >= 0)
		return rc;
	if (!a.have_bytes)
		a.nbytes = (uint32_t)len;
	if (len > a.nbytes) {
		free(buf);
		return ctl_usage(cmd->name, "%zu bytes of data do not fit in --bytes %" PRIu32, len, a.nbytes);
	}
	heapd *h = ctl_connect(cmd->name);
	if (!h) {
		free(buf);
		return CTL_ERROR;
	}
	uint64_t size = 8 + 8 * (uint64_t)a.nrefs + a.nbytes;
	if (size > heapd_max_object(h)) {
		fprintf(stderr, "heapctl: %s: %" PRIu32 " refs and %" PRIu32 " bytes make an object of %" PRIu64
			" bytes; this daemon's max_object_size is %" PRIu64 "\n", cmd->name, a.nrefs, a.nbytes, size,
			heapd_max_object(h));
		ctl_close(h);
		rc = CTL_ERROR;
	} else {
		rc = new_make(cmd, h, &a, buf, len);
	}
	free(buf);
	return rc;
}

const struct ctl_cmd new_cmd = {
	"new", "[--refs N] [--bytes N] (--root NAME | --into REF.SLOT) [DATA | - | --file PATH]",
	"make an object, store it in a root or a slot, print its ref",
	"Make an object of N reference slots (all empty) and N bytes of data,\n"
	"starting with DATA (the rest zero), store it in the root NAME or in slot\n"
	"SLOT of the object REF, and print its ref: 0x1f00000003. An object held\n"
	"only by heapctl would die when heapctl exits, hence --root or --into.\n"
	"\n"
	"      --refs=N         reference slots (default 0)\n"
	"      --bytes=N        data bytes (default: the data's length)\n"
	"      --root=NAME      set the root NAME to it (made, or replaced)\n"
	"      --into=REF.SLOT  store it in slot SLOT of REF (a ref or a root name)\n"
	"      --file=PATH      the data is PATH's contents; DATA '-': stdin's\n"
	"  -h, --help           print this help\n",
	new_run,
};

/* ------------------------------------------------------------ get */

enum get_format { GET_RAW, GET_HEX, GET_ESCAPED };

/* What get reads without --length: the object's data from off to its end,
 * into *len. 0; -1 when the call failed (h's error); 1 for an offset past
 * the end, reported. */
static int rest_of_object(heapd *h, const char *cmd, heapd_ref ref, uint32_t off, uint32_t *len)
{
	struct heapd_object_info info;
	if (heapd_object_info(h, ref, &info) < 0)
		return -1;
	if (off > info.nbytes) {
		fprintf(stderr, "heapctl: %s: --offset %" PRIu32 " is past the end of the object's %" PRIu32
			" data bytes\n", cmd, off, info.nbytes);
		return 1;
	}
	*len = info.nbytes - off;
	return 0;
}

static void put_bytes(enum get_format fmt, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fmt == GET_HEX)
			printf("%02x", p[i]);
		else if (p[i] == '\\')
			fputs("\\\\", stdout);
		else if (p[i] == '\n')
			fputs("\\n", stdout);
		else if (p[i] == '\t')
			fputs("\\t", stdout);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			printf("\\x%02x", p[i]);
		else
			putchar(p[i]);
	}
}

/* len bytes of obj from off to stdout, a piece per request. */
static int read_pieces(heapd *h, heapd_ref obj, uint32_t off, uint32_t len, enum get_format fmt)
{
	uint32_t piece = piece_size(h);
	unsigned char *buf = malloc(len < piece ? (len ? len : 1) : piece);
	if (!buf)
		return HEAPD_ENOBUFS;
	for (uint32_t done = 0; done < len;) {
		uint32_t n = len - done < piece ? len - done : piece;
		if ((uint64_t)off + done > UINT32_MAX || heapd_read(h, obj, off + done, buf, n) < 0) {
			free(buf);
			return -1;
		}
		if (fmt == GET_RAW)
			fwrite(buf, 1, n, stdout);
		else
			put_bytes(fmt, buf, n);
		done += n;
	}
	free(buf);
	if (fmt != GET_RAW)
		putchar('\n');
	return 0;
}

static int get_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"hex", no_argument, NULL, 'x'},
		{"escaped", no_argument, NULL, 'e'},
		{"offset", required_argument, NULL, 'o'},
		{"length", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	enum get_format fmt = GET_RAW;
	uint32_t off = 0, len = 0;
	int c, rc = CTL_OK, formats = 0, have_len = 0;
	while ((c = next_option(cmd, argc, argv, "h", opts, &rc)) > 0) {
		if ((c == 'o' && (rc = number_option(cmd, "--offset", optarg, &off)) >= 0) ||
		    (c == 'l' && (rc = number_option(cmd, "--length", optarg, &len)) >= 0))
			return rc;
		have_len |= c == 'l';
		if (c == 'x' || c == 'e') {
			fmt = c == 'x' ? GET_HEX : GET_ESCAPED;
			formats++;
		}
	}
	if (c == 0)
		return rc;
	if (formats > 1)
		return ctl_usage(cmd->name, "choose one of --hex and --escaped");
	if (argc - optind != 1)
		return ctl_usage(cmd->name, argc == optind ? "expected REF|ROOTNAME" : "unexpected argument '%s'",
				 argv[optind + 1]);
	struct ctl_target t;
	heapd *h = ctl_target_open(cmd->name, argv[optind], &t, &rc);
	if (!h)
		return rc;
	int err = have_len ? 0 : rest_of_object(h, cmd->name, t.ref, off, &len);
	if (err < 0)
		return ctl_fail(h, cmd->name);   /* h is closed: nothing more on it */
	if (err > 0) {
		ctl_target_release(h, &t);
		ctl_close(h);
		return CTL_ERROR;
	}
	err = read_pieces(h, t.ref, off, len, fmt);
	if (err == HEAPD_ENOBUFS) {
		fprintf(stderr, "heapctl: %s: out of memory\n", cmd->name);
		ctl_close(h);
		return CTL_ERROR;
	}
	if (err < 0)
		return ctl_fail(h, cmd->name);
	ctl_target_release(h, &t);
	ctl_close(h);
	return CTL_OK;
}

const struct ctl_cmd get_cmd = {
	"get", "REF|ROOTNAME [--hex | --escaped] [--offset N] [--length N]",
	"write an object's data to stdout",
	"Write the data of the object REF, or of the one the root ROOTNAME names,\n"
	"to stdout: the bytes as they are, or as text.\n"
	"\n"
	"      --hex       two lowercase hex digits a byte, then a newline\n"
	"      --escaped   printable ASCII as it is, \\\\, \\n, \\t and \\xNN for the\n"
	"                  rest, then a newline\n"
	"      --offset=N  start at byte N (default 0)\n"
	"      --length=N  N bytes (default: to the end of the data)\n"
	"  -h, --help      print this help\n"
	"\n"
	"REF|ROOTNAME is a ref when it starts with 0x or is all digits, else a\n"
	"root name; root:NAME always means the root NAME.\n",
	get_run,
};

/* ------------------------------------------------------------ put */

static int put_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"offset", required_argument, NULL, 'o'},
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint32_t off = 0;
	const char *file = NULL;
	int c, rc = CTL_OK;
	while ((c = next_option(cmd, argc, argv, "h", opts, &rc)) > 0) {
		if (c == 'o' && (rc = number_option(cmd, "--offset", optarg, &off)) >= 0)
			return rc;
		file = c == 'f' ? optarg : file;
	}
	if (c == 0)
		return rc;
	int nargs = argc - optind;
	if (nargs < 1 || nargs > 2 || (nargs == 1 && !file))
		return ctl_usage(cmd->name, nargs > 2 ? "unexpected argument '%s'" : "expected REF|ROOTNAME and DATA",
				 argv[argc - 1]);
	char *buf;
	size_t len;
	struct ctl_target t;
	if ((rc = ctl_target_parse(cmd->name, argv[optind], &t)) >= 0 ||
	    (rc = get_data(cmd, nargs == 2 ? argv[optind + 1] : NULL, file, &buf, &len)) >= 0)
		return rc;
	heapd *h = ctl_connect(cmd->name);
	rc = CTL_ERROR;
	if (h && (rc = ctl_target_resolve(h, cmd->name, &t)) < 0) {
		if (write_pieces(h, t.ref, off, buf, len) < 0) {
			rc = ctl_fail(h, cmd->name);
		} else {
			ctl_target_release(h, &t);
			ctl_close(h);
			rc = CTL_OK;
		}
	}
	free(buf);
	return rc;
}

const struct ctl_cmd put_cmd = {
	"put", "REF|ROOTNAME [--offset N] (DATA | - | --file PATH)", "write data into an object",
	"Write DATA (stdin's for '-', PATH's with --file) into the data of the\n"
	"object REF, or of the one the root ROOTNAME names, at --offset (default\n"
	"0). The object keeps its size: data past its end is an error.\n"
	"\n"
	"      --offset=N   the first byte to write\n"
	"      --file=PATH  the data is PATH's contents\n"
	"  -h, --help       print this help\n",
	put_run,
};

/* ------------------------------------------------- link and unlink */

static int link_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc = CTL_OK, is_link = strcmp(cmd->name, "link") == 0;
	while ((c = next_option(cmd, argc, argv, "h", opts, &rc)) > 0)
		;
	if (c == 0)
		return rc;
	if (argc - optind != 1 + is_link)
		return ctl_usage(cmd->name, "expected %s", cmd->args);
	struct ctl_target obj, to = {.ref = 0};
	uint32_t slot;
	if ((rc = ctl_slot_parse(cmd->name, argv[optind], &obj, &slot)) >= 0 ||
	    (is_link && (rc = ctl_target_parse(cmd->name, argv[optind + 1], &to)) >= 0))
		return rc;
	heapd *h = ctl_connect(cmd->name);
	if (!h)
		return CTL_ERROR;
	if ((rc = ctl_target_resolve(h, cmd->name, &obj)) >= 0 || (rc = ctl_target_resolve(h, cmd->name, &to)) >= 0)
		return rc;
	if (heapd_set_ref(h, obj.ref, slot, to.ref) < 0)
		return ctl_fail(h, cmd->name);
	ctl_target_release(h, &obj);
	ctl_target_release(h, &to);
	ctl_close(h);
	return CTL_OK;
}

const struct ctl_cmd link_cmd = {
	"link", "REF.SLOT TARGET", "store a ref in a slot of an object",
	"Store TARGET (a ref or a root name) in slot SLOT of the object REF (a ref\n"
	"or a root name): REF.SLOT = TARGET. Whatever the slot held may become\n"
	"garbage.\n"
	"\n"
	"  -h, --help  print this help\n",
	link_run,
};

/* ------------------------------------------------------------- seal */

static int seal_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc = CTL_OK;
	while ((c = next_option(cmd, argc, argv, "h", opts, &rc)) > 0)
		;
	if (c == 0)
		return rc;
	if (argc - optind != 1)
		return ctl_usage(cmd->name, "expected %s", cmd->args);
	struct ctl_target t;
	heapd *h = ctl_target_open(cmd->name, argv[optind], &t, &rc);
	if (!h)
		return rc;
	if (heapd_seal(h, t.ref) < 0)
		return ctl_fail(h, cmd->name);
	ctl_target_release(h, &t);
	ctl_close(h);
	return CTL_OK;
}

const struct ctl_cmd seal_cmd = {
	"seal", "REF|ROOTNAME", "make an object immutable, for zero-copy reads",
	"Seal the object REF, or the one the root ROOTNAME names: its data and\n"
	"slots can never change again (put, link, unlink and new --into it fail),\n"
	"and zero-copy clients may read it in place (heapd_view). Its slots'\n"
	"objects are not sealed. Sealing twice is no error.\n"
	"\n"
	"  -h, --help  print this help\n",
	seal_run,
};

const struct ctl_cmd unlink_cmd = {
	"unlink", "REF.SLOT", "empty a slot of an object",
	"Empty slot SLOT of the object REF (a ref or a root name). What it held\n"
	"may become garbage.\n"
	"\n"
	"  -h, --help  print this help\n",
	link_run,
};
