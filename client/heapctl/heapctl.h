/*
 * heapctl.h - what heapctl's command files share: the command table's
 * entry, exit codes, the connection and the reporting of errors.
 *
 * Every error is reported where it is found, on stderr, as
 * "heapctl: COMMAND: message"; functions then return the exit code, which
 * the command returns to main.
 */
#ifndef HEAPD_HEAPCTL_H
#define HEAPD_HEAPCTL_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "heapd.h"

enum { CTL_OK = 0, CTL_ERROR = 1, CTL_USAGE = 2 };

/* -t's default: a few seconds, for a daemon that stopped answering. */
#define CTL_TIMEOUT_DEFAULT_MS 5000
#define CTL_TIMEOUT_MAX_MS 86400000

struct ctl_cmd {
	const char *name;
	const char *args;    /* after the name in the usage line */
	const char *summary; /* one line for `heapctl --help` */
	const char *help;    /* the rest of `heapctl NAME --help` */
	/* argv[0] is "heapctl: NAME", so getopt's messages name the command
	 * in heapctl's style ("heapctl: NAME: unrecognized option ..."). */
	int (*run)(const struct ctl_cmd *cmd, int argc, char **argv);
};

/* The socket -s named; NULL: the library's default. */
const char *ctl_socket_path(void);
/* Connects to the socket -s named, else the library's default ($HEAPD_SOCKET,
 * else HEAPD_DEFAULT_SOCKET). NULL: it failed and that was reported. */
heapd *ctl_connect(const char *cmd);
/* A connection of the command's own even in a session (bench: its objects
 * must go with it); heapd_close it. */
heapd *ctl_connect_own(const char *cmd);
/* A hold the command took on h (alloc, root_get, get_ref), and its
 * release: in a session, what a command leaves held (it failed halfway)
 * is released after it. */
void ctl_held(heapd *h, heapd_ref ref);
void ctl_release(heapd *h, heapd_ref ref);
/* Ends a command's use of h: closes it, unless it is the session's
 * connection (ctl_session_begin), which the next command uses. */
void ctl_close(heapd *h);
/* Closes h even if it is the session's connection (one the daemon is
 * about to close: client kill of itself); the next command connects
 * again. */
void ctl_disconnect(heapd *h);
/* Reports h's last error, ctl_close()s h and returns CTL_ERROR. A session's
 * connection that the error left unusable is closed, and the next command
 * connects again. */
int ctl_fail(heapd *h, const char *cmd);
/* A list reply's end: CTL_OK, or, truncated, "only FMT... fit in one
 * reply (max_frame_size)" reported and CTL_ERROR. */
int ctl_truncated(const char *cmd, int truncated, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* From now on ctl_connect gives every command one connection, kept open
 * between them (interactive mode, scripts on stdin); end closes it. */
void ctl_session_begin(void);
void ctl_session_end(void);
int ctl_in_session(void);   /* between begin and end */
/* -t/--timeout in milliseconds (0: forever). */
uint32_t ctl_timeout_ms(void);
/* Runs the command argv[0] with its arguments (argv[argc] NULL), as main
 * does after the global options; returns its exit code. */
int ctl_dispatch(int argc, char **argv);
/* The list of commands and global options. */
void ctl_print_usage(FILE *f);
/* An argument of the REF|ROOTNAME kind (parse.h, data.c): checked before
 * heapctl connects, resolved after. */
#define CTL_ROOT_NAME_MAX 255   /* bytes; heapd refuses longer names */
struct ctl_target {
	char text[5 + CTL_ROOT_NAME_MAX + 1];   /* the argument: "root:" and a name at most */
	const char *root;   /* the root's name (in text), or NULL for a ref */
	heapd_ref ref;      /* the ref; a root's once resolved */
};
/* -1 with *t filled, or CTL_USAGE, reported: text that is neither a ref
 * nor a root name, the null ref, a name too long. */
int ctl_target_parse(const char *cmd, const char *arg, struct ctl_target *t);
/* REF.SLOT: the same for REF, and the slot. */
int ctl_slot_parse(const char *cmd, const char *arg, struct ctl_target *t, uint32_t *slot);
/* A root's ref into t->ref, h holding it (root_get): -1, or ctl_fail's
 * CTL_ERROR with h closed. A ref: -1 at once. */
int ctl_target_resolve(heapd *h, const char *cmd, struct ctl_target *t);
/* ctl_target_parse of arg, ctl_connect, ctl_target_resolve: h, or NULL
 * with *rc the exit code (each step reports its own failure). */
heapd *ctl_target_open(const char *cmd, const char *arg, struct ctl_target *t, int *rc);
/* Releases the hold ctl_target_resolve took, if it took one. */
void ctl_target_release(heapd *h, const struct ctl_target *t);
/* Writes text from the daemon with control characters (C0, DEL, C1) and
 * the backslash as \xNN, so that no name or message can drive a
 * terminal. */
void ctl_put_text(FILE *f, const char *s);
/* Reports a usage error (fmt NULL: getopt already did) with a pointer to
 * the command's help, and returns CTL_USAGE. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the command's help on stdout and returns CTL_OK. */
int ctl_help(const struct ctl_cmd *cmd);
/* The next option of a command's argv, as getopt_long gives it, or -1
 * once there is none and no argument is left. --help, an option getopt
 * refused and an argument left over are answered here: it returns 0 and
 * *rc gets the exit code. */
int ctl_option(const struct ctl_cmd *cmd, int argc, char **argv, const char *shorts, const struct option *longs,
	       int *rc);
uint64_t ctl_now_ns(void);   /* CLOCK_MONOTONIC */
/* after - before for counters read twice; 0 if one went back. */
uint64_t ctl_delta(uint64_t after, uint64_t before);

extern const struct ctl_cmd top_cmd;   /* top.c */
extern const struct ctl_cmd bench_cmd; /* bench.c */
extern const struct ctl_cmd uids_cmd;  /* uids.c */
extern const struct ctl_cmd roots_cmd; /* roots.c */
extern const struct ctl_cmd root_cmd;  /* roots.c */
extern const struct ctl_cmd new_cmd;   /* data.c */
extern const struct ctl_cmd get_cmd;   /* data.c */
extern const struct ctl_cmd put_cmd;   /* data.c */
extern const struct ctl_cmd link_cmd;  /* data.c */
extern const struct ctl_cmd unlink_cmd; /* data.c */
extern const struct ctl_cmd seal_cmd;   /* data.c */
extern const struct ctl_cmd info_cmd;  /* inspect.c */
extern const struct ctl_cmd du_cmd;    /* inspect.c */
extern const struct ctl_cmd dump_cmd;  /* inspect.c */
extern const struct ctl_cmd clients_cmd; /* inspect.c */
extern const struct ctl_cmd client_cmd;  /* inspect.c */
/* roots.c: a user's (group 0) or group's name, as this host knows it,
 * else its number ("4294967295" at most); and "rw-r--r--" for 0644. */
#define CTL_ID_NAME_MAX 16
const char *ctl_id_name(uint32_t id, int group, char buf[CTL_ID_NAME_MAX]);
void ctl_mode_text(uint32_t mode, char out[10]);
/* roots.c: the roots this user may read that pattern matches (NULL:
 * all), by heapd_root_scan to the scan's end, sorted by name, each once:
 * *roots, *n of them, for ctl_free_roots. 0; -1 for h's error (h still
 * open); HEAPD_ENOBUFS. */
int ctl_scan_roots(heapd *h, const char *pattern, heapd_root_info **roots, size_t *n);
void ctl_free_roots(heapd_root_info *roots, size_t n);
/* inspect.c: root cas NAME EXPECTED NEW, args past "cas" (roots.c
 * checked their number). */
int ctl_root_cas(const struct ctl_cmd *cmd, char **args);

/* shell.c: commands from a terminal with line editing, else from stdin
 * line by line, on one connection; returns heapctl's exit code. */
int ctl_shell(void);

/* uids.c: rows heaviest first (heap bytes, then holds, then uid), and
 * the table's line for a row, or its header for NULL (76 columns). */
#define CTL_UIDS_LINE 128
void ctl_uids_sort(heapd_uid_stat *rows, size_t n);
const char *ctl_uids_line(char buf[CTL_UIDS_LINE], const heapd_uid_stat *r);

#endif
