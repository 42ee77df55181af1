/*
 * shell.c - heapctl without a command: commands one per line, run in one
 * session (one connection for all of them, ctl_session_begin), as
 * redis-cli does.
 *
 * On a terminal (stdin is one) heapctl prompts with libedit's readline,
 * which gives line editing and a history: kept in $HEAPCTL_HISTFILE, else
 * ~/.heapctl_history (an empty $HEAPCTL_HISTFILE keeps none), its last
 * SHELL_HISTORY lines. Otherwise it reads stdin line by line, so that a
 * script can pipe commands in; stdin then holds the commands, so no
 * command may read data from it ('-' is refused, data.c).
 *
 * A line is split into words as sh(1) splits it (parse.c); an empty line
 * or a # comment does nothing; "quit" or "exit" ends, as does the end of
 * input; "help" prints the commands, "help CMD" a command's help. One
 * command's failure does not end the session: it is reported and the next
 * line runs. heapctl's status is that of the last line that failed, else 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "heapctl.h"
#include "parse.h"

#define SHELL_HISTORY 1000
#define SHELL_PROMPT "heapctl> "

/* One line: 0 to go on with its status in *rc, 1 to end the session. */
static int shell_line(const char *line, int *rc)
{
	char **words;
	const char *err;
	int n = ctl_split_words(line, &words, &err);
	*rc = CTL_OK;
	if (n < 0) {
		fprintf(stderr, "heapctl: %s\n", err);
		*rc = CTL_USAGE;
		return 0;
	}
	int end = n > 0 && (strcmp(words[0], "quit") == 0 || strcmp(words[0], "exit") == 0);
	if (n == 1 && strcmp(words[0], "help") == 0) {
		ctl_print_usage(stdout);
	} else if (n == 2 && strcmp(words[0], "help") == 0) {
		char *argv[] = {words[1], "--help", NULL};
		*rc = ctl_dispatch(2, argv);
	} else if (n > 0 && !end) {
		*rc = ctl_dispatch(n, words);
	}
	free(words);
	fflush(stdout);
	return end;
}

/* The history file's path, or NULL for none. */
static const char *history_path(char *buf, size_t size)
{
	const char *env = getenv("HEAPCTL_HISTFILE"), *home = getenv("HOME");
	if (env)
		return *env ? env : NULL;
	if (!home || !*home || (size_t)snprintf(buf, size, "%s/.heapctl_history", home) >= size)
		return NULL;
	return buf;
}

static int shell_terminal(void)
{
	char path[4096];
	const char *hist = history_path(path, sizeof path);
	int status = CTL_OK, rc;
	using_history();
	stifle_history(SHELL_HISTORY);
	if (hist)
		read_history(hist);
	for (char *line; (line = readline(SHELL_PROMPT)) != NULL;) {
		if (*line)
			add_history(line);
		int end = shell_line(line, &rc);
		free(line);
		status = rc ? rc : status;
		if (end)
			break;
	}
	if (hist)
		write_history(hist);
	return status;
}

static int shell_stdin(void)
{
	char *line = NULL;
	size_t cap = 0;
	int status = CTL_OK, rc;
	while (getline(&line, &cap, stdin) >= 0) {
		int end = shell_line(line, &rc);
		status = rc ? rc : status;
		if (end)
			break;
	}
	free(line);
	return status;
}

int ctl_shell(void)
{
	ctl_session_begin();
	int rc = isatty(STDIN_FILENO) ? shell_terminal() : shell_stdin();
	ctl_session_end();
	return rc;
}
