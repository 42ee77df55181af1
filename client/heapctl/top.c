/*
 * top.c - heapctl top: a live view of heapd, one frame per interval.
 *
 * A frame is one GetStats and its differences from the previous one,
 * then one uid_stats: a line per uid, heaviest first (uids.c).
 * Rates are divided by the daemon's own clock (the uptime_ns delta), so
 * the time heapctl spends drawing, or waiting for its turn, does not skew
 * them. Pauses since the last frame: the num_pause delta says how many are
 * new and the ring holds the latest 256 of them. When more than 256 came,
 * the max shown is that of the latest 256, unless max_pause_ns grew: then
 * the record was among them.
 *
 * Terminal. When stdout is a terminal, frames redraw in place on the
 * alternate screen, as top(1) does, so the shell's screen comes back on
 * exit; with -n they redraw on the shell's screen instead, so the last
 * frame stays. A frame fits 80 columns and the terminal's rows (24 at
 * least): the uids take the rows the rest leaves, and a last line says how
 * many more there are. When stdout is not a terminal, each frame is plain
 * text with every uid, and frames are separated by a blank line, for logs
 * and tests.
 * When stdin is a terminal and heapctl is in the foreground (a background
 * job may not change the terminal), stdin goes into a raw mode, no echo
 * and no line editing, so 'q' arrives as a byte. Ctrl-C stays a signal:
 * it must work while heapctl waits on a daemon that does not answer. Ctrl-Z
 * is turned off, as a stopped heapctl could not restore the terminal.
 * The terminal is restored on every way out: the end of the loop, an
 * error, and the signals that would kill heapctl, whose handler restores
 * it (tcsetattr and write are async-signal-safe) and then exits: with 0 for
 * SIGINT, the user's way to quit, else by dying of the signal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>   /* isfinite, a macro: no -lm */
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "heapctl.h"

#define TOP_HISTORY 60      /* graph columns: a minute at the default interval */
#define TOP_GRAPH_ROWS 3    /* rows per graph: 24 levels */
#define TOP_BAR 50          /* bar columns */
#define TOP_COLUMNS 79      /* widest line; the 80th column would wrap on some terminals */
#define TOP_MIN_INTERVAL 0.1
#define TOP_MIN_ROWS 24

#define SCREEN_HOME "\033[H"
#define SCREEN_EOL "\033[K\n"                 /* clear what the last frame left on the line */
#define SCREEN_EOS "\033[J"                   /* ... and below the frame */

struct top {
	heapd *h;
	uint64_t interval_ns;
	unsigned long count;     /* frames to draw; 0: until told to stop */
	int keys;                /* reading keys from stdin */
	heapd_stats cur, prev;
	int have_prev;
	heapd_uid_stat *uids;    /* this frame's rows, heaviest first */
	size_t nuids;
	int uids_truncated;
	uint64_t inuse[TOP_HISTORY], rss[TOP_HISTORY];   /* ring; the latest at next - 1 */
	unsigned nhist, next;
};

/* What must be undone on the way out, readable from a signal handler. */
enum { SCREEN_NONE, SCREEN_ALT, SCREEN_MAIN };
static volatile sig_atomic_t top_screen, top_raw;
static struct termios top_saved;
static unsigned top_rows;   /* lines of the frame drawn so far */

/* Per screen mode: the alternate screen or a cleared one, cursor hidden. */
static const char *const screen_enter[] = {"", "\033[?1049h\033[?25l", "\033[H\033[2J\033[?25l"};
static const char *const screen_leave[] = {"", "\033[?25h\033[?1049l", "\033[?25h"};

/* SIGPIPE is ignored (heapctl.c): a closed stdout ends the loop. */
static const int top_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* ------------------------------------------------------------ terminal */

static void top_restore(void)
{
	if (top_screen) {
		const char *leave = screen_leave[top_screen];
		ssize_t n = write(STDOUT_FILENO, leave, strlen(leave));
		(void)n;   /* nothing better to do on the way out */
		top_screen = SCREEN_NONE;
	}
	if (top_raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &top_saved);
		top_raw = 0;
	}
}

static void top_on_signal(int sig)
{
	int saved_errno = errno;
	top_restore();
	if (sig == SIGINT)
		_exit(CTL_OK);
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved_errno;
}

static void top_setup_terminal(struct top *t)
{
	int screen = isatty(STDOUT_FILENO);
	int raw = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp() &&
		  tcgetattr(STDIN_FILENO, &top_saved) == 0;
	if (!screen && !raw)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = top_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof top_signals / sizeof top_signals[0]; i++)
		sigaction(top_signals[i], &sa, NULL);
	if (raw) {
		struct termios tio = top_saved;
		tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
		tio.c_cc[VSUSP] = _POSIX_VDISABLE;
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		top_raw = 1;   /* before the change: a signal in between restores what is unchanged */
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == 0)
			t->keys = 1;
		else
			top_raw = 0;
	}
	if (screen) {
		top_screen = t->count ? SCREEN_MAIN : SCREEN_ALT;
		fputs(screen_enter[top_screen], stdout);
	}
}

/* Waits until deadline (ctl_now_ns() time) or a key asking to quit.
 * Returns 1 for quit. */
static int top_wait(struct top *t, uint64_t deadline)
{
	for (;;) {
		uint64_t now = ctl_now_ns();
		if (now >= deadline)
			return 0;
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int ms = (int)((deadline - now + 999999) / 1000000);
		if (poll(&pfd, t->keys ? 1 : 0, ms) <= 0)
			continue;   /* the deadline, or EINTR from a signal we do not handle */
		char buf[64];
		ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
		if (n <= 0) {
			t->keys = 0;   /* end of input: nothing more to read */
			continue;
		}
		if (memchr(buf, 'q', (size_t)n) || memchr(buf, 'Q', (size_t)n))
			return 1;
	}
}

/* ------------------------------------------------------------- drawing */

static void top_eol(void)
{
	fputs(top_screen ? SCREEN_EOL : "\n", stdout);
	top_rows++;
}

/* One line of ASCII text, cut to TOP_COLUMNS. */
__attribute__((format(printf, 1, 2))) static void top_line(const char *fmt, ...)
{
	char line[TOP_COLUMNS + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fputs(line, stdout);
	top_eol();
}

/* A title on the left and a figure on the right, ending at column width. */
static void top_title(const char *title, unsigned width, const char *right)
{
	size_t len = strlen(title);
	top_line("%s%*s", title, len < width ? (int)(width - len) : 0, right);
}

/* A horizontal bar of v out of scale, to an eighth of a column. */
static void top_bar(const char *label, uint64_t v, uint64_t scale)
{
	static const char *const eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
	char human[FMT_HUMAN_MAX];
	unsigned cells = scale ? (unsigned)((double)v / (double)scale * TOP_BAR * 8 + 0.5) : 0;
	printf("  %-12s[", label);
	for (unsigned i = 0; i < TOP_BAR; i++) {
		if (cells >= 8 * (i + 1))
			fputs("█", stdout);
		else if (cells > 8 * i)
			fputs(eighths[cells - 8 * i], stdout);
		else
			putchar(' ');
	}
	printf("] %9s", fmt_bytes_human(human, v));
	top_eol();
}

/* TOP_GRAPH_ROWS rows of block characters: the history of one figure,
 * oldest left, newest right, 0 at the bottom and scale at the top. A figure
 * above 0 shows at least a bottom eighth. */
static void top_graph(const struct top *t, const char *label, const uint64_t *hist, uint64_t scale)
{
	static const char *const blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	unsigned level[TOP_HISTORY];
	for (unsigned c = 0; c < TOP_HISTORY; c++) {
		unsigned age = TOP_HISTORY - 1 - c;   /* samples before the latest */
		uint64_t v = age < t->nhist ? hist[(t->next + TOP_HISTORY - 1 - age) % TOP_HISTORY] : 0;
		level[c] = v && scale ? (unsigned)((double)v / (double)scale * TOP_GRAPH_ROWS * 8 + 0.5) : 0;
		if (v && !level[c])
			level[c] = 1;
	}
	for (unsigned r = 0; r < TOP_GRAPH_ROWS; r++) {
		unsigned base = (TOP_GRAPH_ROWS - 1 - r) * 8;
		printf("  %-8s", r == 0 ? label : "");
		for (unsigned c = 0; c < TOP_HISTORY; c++) {
			if (level[c] >= base + 8)
				fputs(blocks[7], stdout);
			else if (level[c] > base)
				fputs(blocks[level[c] - base - 1], stdout);
			else
				putchar(' ');
		}
		if (r == TOP_GRAPH_ROWS - 1) {
			char human[FMT_HUMAN_MAX];
			printf(" %8s", fmt_bytes_human(human, hist[(t->next + TOP_HISTORY - 1) % TOP_HISTORY]));
		}
		top_eol();
	}
}

/* n per second, as "12.3k/s". */
static const char *top_rate(char buf[FMT_HUMAN_MAX], uint64_t n, double secs)
{
	static const char units[] = " kMGT";
	double r = (double)n / secs;
	unsigned u = 0;
	while (r >= 1000 && u + 1 < sizeof units - 1) {
		r /= 1000;
		u++;
	}
	if (u)
		snprintf(buf, FMT_HUMAN_MAX, "%.1f%c/s", r, units[u]);
	else
		snprintf(buf, FMT_HUMAN_MAX, "%.1f/s", r);
	return buf;
}

static const char *top_bytes_rate(char buf[FMT_HUMAN_MAX], uint64_t n, double secs)
{
	fmt_bytes_human(buf, (uint64_t)((double)n / secs));
	strcat(buf, "/s");
	return buf;
}

/* The pauses since the last frame: how many, the longest, their sum. */
static void top_pauses(const struct top *t, uint64_t *n, uint64_t *max, uint64_t *sum)
{
	const heapd_stats *s = &t->cur, *p = &t->prev;
	*n = ctl_delta(s->num_pause, p->num_pause);
	*sum = ctl_delta(s->pause_total_ns, p->pause_total_ns);
	*max = 0;
	uint64_t seen = fmt_npauses(s), in_ring = *n < seen ? *n : seen;
	for (uint64_t i = seen - in_ring; i < seen; i++)
		if (fmt_pause(s, i) > *max)
			*max = fmt_pause(s, i);
	if (s->max_pause_ns > p->max_pause_ns)
		*max = s->max_pause_ns;
}

/* The rows the terminal has for the frame; 0 when it is no terminal. */
static unsigned top_screen_rows(void)
{
	struct winsize ws;
	if (!top_screen)
		return 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row < TOP_MIN_ROWS)
		return TOP_MIN_ROWS;
	return ws.ws_row;
}

/* The uids, as many as the screen has rows for below what is drawn, the
 * two lines of "q: quit" and the last newline (at 24 rows: one); all when
 * it is no terminal. */
static void top_uids(const struct top *t)
{
	char line[CTL_UIDS_LINE];
	unsigned screen = top_screen_rows(), below = 1 + (top_screen && t->keys ? 2 : 0);
	size_t room = t->nuids;
	if (screen && top_rows + below + 1 < screen)
		room = screen - top_rows - below - 1;
	else if (screen)
		room = 1;
	top_line("%s", ctl_uids_line(line, NULL));
	size_t shown = t->nuids <= room ? t->nuids : room - 1;
	for (size_t i = 0; i < shown; i++)
		top_line("%s", ctl_uids_line(line, &t->uids[i]));
	if (shown < t->nuids)
		top_line("%10s %zu more uids%s", "...", t->nuids - shown,
			 t->uids_truncated ? ", and more than one reply holds" : "");
	else if (t->uids_truncated)
		top_line("%10s more uids than one reply holds", "...");
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* The snapshot (docs/persistence.md): saves, the last one, what changed
 * since, and whether one runs. */
static void top_saves(const heapd_stats *s)
{
	char a[FMT_HUMAN_MAX], b[FMT_HUMAN_MAX];
	uint64_t now = (uint64_t)time(NULL) * 1000000000u;
	if (!s->last_save_unix_ns) {
		top_line("saves     none yet   %" PRIu64 " change%s%s", s->changes_since_save,
			 plural(s->changes_since_save), s->save_in_progress ? "   saving now" : "");
		return;
	}
	top_line("saves     %" PRIu64 " (%" PRIu64 " failed)   last %" PRIu64 " objects, %s, %s ago   %" PRIu64
		 " change%s since%s",
		 s->saves_total, s->save_failures_total, s->last_save_objects, fmt_bytes_human(a, s->last_save_size_bytes),
		 fmt_ns_human(b, now > s->last_save_unix_ns ? now - s->last_save_unix_ns : 0), s->changes_since_save,
		 plural(s->changes_since_save), s->save_in_progress ? "   saving now" : "");
}

static void top_draw(const struct top *t)
{
	const heapd_stats *s = &t->cur, *p = &t->prev;
	char a[FMT_HUMAN_MAX], b[FMT_HUMAN_MAX], c[FMT_HUMAN_MAX], d[FMT_HUMAN_MAX];
	char clock[16] = "";
	time_t now = time(NULL);
	struct tm tm;
	if (localtime_r(&now, &tm))
		strftime(clock, sizeof clock, "%H:%M:%S", &tm);
	double secs = t->have_prev ? (double)ctl_delta(s->uptime_ns, p->uptime_ns) / 1e9 : 0;

	top_line("heapd %s  up %s  %" PRIu64 " session%s  %" PRIu64 " named root%s  %" PRIu64 " hold%s  %s",
		 heapd_server_version(t->h), fmt_ns_human(a, s->uptime_ns), s->sessions, plural(s->sessions),
		 s->named_roots, plural(s->named_roots), s->holds, plural(s->holds), clock);
	top_eol();

	/* One scale for the three bars: released pages are part of heap_sys
	 * and not of RSS, so one of the two is the largest figure. */
	uint64_t scale = s->rss_bytes > s->heap_sys ? s->rss_bytes : s->heap_sys;
	snprintf(b, sizeof b, "scale %s", fmt_bytes_human(a, scale));
	top_title("memory", TOP_BAR + 26, b);
	top_bar("heap in use", s->heap_inuse, scale);
	top_bar("released", s->heap_released, scale);
	top_bar("RSS", s->rss_bytes, scale);
	top_line("  heap_alloc %s  heap_idle %s  gc_sys %s  next_gc %s", fmt_bytes_human(a, s->heap_alloc),
		 fmt_bytes_human(b, s->heap_idle), fmt_bytes_human(c, s->gc_sys),
		 s->next_gc == UINT64_MAX ? "off" : fmt_bytes_human(d, s->next_gc));
	top_eol();

	if (secs > 0) {
		top_line("objects   %" PRIu64 "   allocated %s (%s)   freed %s", s->heap_objects,
			 top_rate(a, ctl_delta(s->mallocs, p->mallocs), secs),
			 top_bytes_rate(b, ctl_delta(s->total_alloc, p->total_alloc), secs),
			 top_rate(c, ctl_delta(s->frees, p->frees), secs));
		top_line("GC        cycles %" PRIu64 " (%" PRIu64 " forced)   %s   CPU %.2f%% now, %.2f%% overall",
			 s->num_gc, s->num_forced_gc, top_rate(a, ctl_delta(s->num_gc, p->num_gc), secs),
			 (double)(ctl_delta(s->pause_total_ns, p->pause_total_ns) +
				  ctl_delta(s->mark_worker_ns, p->mark_worker_ns)) / 1e7 / secs,
			 s->gc_cpu_fraction * 100);
		uint64_t n, max, sum;
		top_pauses(t, &n, &max, &sum);
		top_line("pauses    %" PRIu64 " new: max %s, total %s   longest ever %s", n, fmt_ns_human(a, max),
			 fmt_ns_human(b, sum), fmt_ns_human(c, s->max_pause_ns));
		top_saves(s);
	} else {
		/* The first frame, or the daemon's clock did not move: no rates. */
		top_line("objects   %" PRIu64, s->heap_objects);
		top_line("GC        cycles %" PRIu64 " (%" PRIu64 " forced)   CPU %.2f%% overall", s->num_gc,
			 s->num_forced_gc, s->gc_cpu_fraction * 100);
		top_line("pauses    %" PRIu64 " in all, last %s   longest ever %s", s->num_pause,
			 fmt_ns_human(a, fmt_npauses(s) ? fmt_pause(s, fmt_npauses(s) - 1) : 0),
			 fmt_ns_human(b, s->max_pause_ns));
		top_saves(s);
	}
	top_eol();

	/* Both graphs on one scale, so RSS stands above the heap in use. */
	uint64_t gscale = 0;
	for (unsigned i = 0; i < t->nhist; i++) {
		if (t->inuse[i] > gscale)
			gscale = t->inuse[i];
		if (t->rss[i] > gscale)
			gscale = t->rss[i];
	}
	char title[TOP_COLUMNS + 1];
	snprintf(title, sizeof title, "history   one sample every %gs, newest right",
		 (double)t->interval_ns / 1e9);
	snprintf(b, sizeof b, "scale %s", fmt_bytes_human(a, gscale));
	top_title(title, 10 + TOP_HISTORY + 9, b);
	top_graph(t, "in use", t->inuse, gscale);
	top_graph(t, "RSS", t->rss, gscale);
	top_uids(t);
	if (top_screen && t->keys) {
		top_eol();
		top_line("q: quit");
	}
}

/* ----------------------------------------------------------------- run */

static int top_parse(const struct ctl_cmd *cmd, struct top *t, int argc, char **argv)
{
	static const struct option opts[] = {
		{"interval", required_argument, NULL, 'i'},
		{"count", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc;
	while ((c = ctl_option(cmd, argc, argv, "i:n:h", opts, &rc)) > 0) {
		char *end;
		switch (c) {
		case 'i': {
			double secs = strtod(optarg, &end);
			if (end == optarg || *end || !isfinite(secs) || secs < TOP_MIN_INTERVAL || secs > 86400)
				return ctl_usage(cmd->name, "interval '%s': seconds from %g to 86400", optarg,
						 TOP_MIN_INTERVAL);
			t->interval_ns = (uint64_t)(secs * 1e9 + 0.5);
			break;
		}
		case 'n':
			errno = 0;
			t->count = strtoul(optarg, &end, 10);
			if (!(optarg[0] >= '0' && optarg[0] <= '9') || *end || errno || !t->count)
				return ctl_usage(cmd->name, "count '%s': a whole number above 0", optarg);
			break;
		}
	}
	return c == 0 ? rc : -1;
}

static int top_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct top t = {.interval_ns = 1000000000};
	int rc = top_parse(cmd, &t, argc, argv);
	if (rc >= 0)
		return rc;
	t.h = ctl_connect(cmd->name);
	if (!t.h)
		return CTL_ERROR;
	top_setup_terminal(&t);
	uint64_t deadline = ctl_now_ns();
	for (unsigned long frame = 0;; frame++) {
		heapd_free_uid_stats(t.uids);
		t.uids = NULL;
		if (heapd_get_stats(t.h, &t.cur, sizeof t.cur) < 0 ||
		    heapd_uid_stats(t.h, &t.uids, sizeof *t.uids, &t.nuids, &t.uids_truncated) < 0) {
			top_restore();
			return ctl_fail(t.h, cmd->name);
		}
		ctl_uids_sort(t.uids, t.nuids);
		t.inuse[t.next] = t.cur.heap_inuse;
		t.rss[t.next] = t.cur.rss_bytes;
		t.next = (t.next + 1) % TOP_HISTORY;
		if (t.nhist < TOP_HISTORY)
			t.nhist++;
		fputs(top_screen ? SCREEN_HOME : frame ? "\n" : "", stdout);
		top_rows = 0;
		top_draw(&t);
		if (top_screen)
			fputs(SCREEN_EOS, stdout);
		/* A failed write ends the loop; main reports it. */
		if (fflush(stdout) != 0 || (t.count && frame + 1 >= t.count))
			break;
		t.prev = t.cur;
		t.have_prev = 1;
		/* Keep the cadence; after a stall, start again from now. */
		uint64_t now = ctl_now_ns();
		deadline += t.interval_ns;
		if (deadline < now)
			deadline = now;
		if (top_wait(&t, deadline))
			break;
	}
	top_restore();
	heapd_free_uid_stats(t.uids);
	ctl_close(t.h);
	return CTL_OK;
}

const struct ctl_cmd top_cmd = {
	"top", "[-i SECONDS] [-n COUNT]", "a live view of memory, collections and clients",
	"A live view of heapd, refreshed every interval: heap in use, released and\n"
	"RSS, objects and allocation rates, collections per second and the pauses\n"
	"since the last frame, clients, a graph of the last 60 samples of the heap\n"
	"in use and RSS, and a line per uid, heaviest first (as `heapctl uids`). On\n"
	"a terminal (80 columns, 24 rows or more) frames redraw in place, showing\n"
	"the uids that fit, and q or Ctrl-C quits; otherwise frames are printed one\n"
	"after the other, separated by a blank line, with every uid.\n"
	"\n"
	"  -i, --interval=SECONDS  time between frames (default 1, at least 0.1)\n"
	"  -n, --count=COUNT       stop after COUNT frames\n"
	"  -h, --help              print this help\n",
	top_run,
};
