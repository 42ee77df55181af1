/*
 * replay.c - a fuzz target's LLVMFuzzerTestOneInput without libFuzzer: a
 * make check test, with any compiler, that runs the target on every file
 * of its seed corpus (tests/fuzz/corpus/<target>) and of its crash
 * reproducers (tests/fuzz/regressions/<target>). So every crash the
 * fuzzer ever found is a test that runs everywhere.
 *
 * Output is TAP, one result per file; each file runs in a child process,
 * so a crash (an abort from a broken invariant, a sanitizer report, a
 * signal) fails that file and the others still run. The child ends with
 * exit(), not _exit(): LeakSanitizer checks for leaks at exit, so under
 * ASan a file whose run leaks fails too. With arguments, it
 * replays those files and directories instead (to reproduce a crash under
 * gcc or a debugger, run the target's replay program on the file).
 *
 * FUZZ_TARGET (the target's name) and FUZZ_DIR (tests/fuzz in the source
 * tree) come from the build.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct files {
	char **v;
	size_t n, cap;
};

static void add(struct files *f, const char *path)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->v = realloc(f->v, f->cap * sizeof *f->v);
		if (!f->v) {
			perror("replay");
			exit(99);
		}
	}
	f->v[f->n] = strdup(path);
	if (!f->v[f->n++]) {
		perror("replay");
		exit(99);
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of dir (not README.md), in name order; none if it is missing. */
static void add_dir(struct files *f, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t first = f->n;
	char path[4096];
	struct stat st;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.' && strcmp(e->d_name, "README.md") != 0 && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			add(f, path);
	}
	closedir(d);
	qsort(f->v + first, f->n - first, sizeof *f->v, by_name);
}

static int run_one(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		perror(path);
		return 1;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	for (size_t r; buf && (r = fread(buf + n, 1, cap - n, fp)) > 0;) {
		n += r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(fp);
	if (!buf) {
		perror(path);
		return 1;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	struct files f = {0};
	struct stat st;
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
				add_dir(&f, argv[i]);
			else
				add(&f, argv[i]);
		}
	} else {
		add_dir(&f, FUZZ_DIR "/corpus/" FUZZ_TARGET);
		add_dir(&f, FUZZ_DIR "/regressions/" FUZZ_TARGET);
	}
	if (!f.n) {
		printf("1..0 # SKIP no inputs for %s\n", FUZZ_TARGET);
		return 0;
	}
	printf("1..%zu\n", f.n);
	fflush(stdout);
	int failed = 0;
	for (size_t i = 0; i < f.n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 99;
		}
		if (pid == 0)
			exit(run_one(f.v[i]));
		int status;
		waitpid(pid, &status, 0);
		int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (ok)
			printf("ok %zu - %s %s\n", i + 1, FUZZ_TARGET, f.v[i]);
		else if (WIFSIGNALED(status))
			printf("not ok %zu - %s %s (signal %d)\n", i + 1, FUZZ_TARGET, f.v[i], WTERMSIG(status));
		else
			printf("not ok %zu - %s %s (exit %d)\n", i + 1, FUZZ_TARGET, f.v[i], WEXITSTATUS(status));
		fflush(stdout);
		failed |= !ok;
		free(f.v[i]);
	}
	free(f.v);
	return failed;
}
