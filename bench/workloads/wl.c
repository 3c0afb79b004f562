/*
 * wl — the Lighthouse benchmark workload driver.
 *
 * One subcommand per workload. Each one does its work through ordinary system calls on the
 * path it is given (a native directory or a mountpoint), times only the work itself with
 * CLOCK_MONOTONIC, and prints ONE result line on stdout:
 *
 *     elapsed=<seconds> ops=<count> bytes=<count> [lines=<count>]
 *
 * Errors go to stderr (with the failing call, path and errno) and the exit status is 1.
 * Being C, the driver adds the same tiny per-call overhead on every target; bench/run
 * compiles it with gcc into bench/.cache/ at bench time.
 *
 *   wl seqwrite  FILE BYTES BLOCK      create/truncate FILE, write BYTES in BLOCK-sized write()s,
 *                                      fsync, close (fsync and close are inside the timing)
 *   wl seqread   FILE BLOCK            read FILE front to back in BLOCK-sized read()s
 *   wl randread  FILE COUNT BLOCK SEED COUNT pread()s of BLOCK bytes at BLOCK-aligned offsets
 *                                      drawn from a fixed-seed xorshift generator
 *   wl create    DIR N                 open(O_CREAT|O_EXCL|O_WRONLY)+close DIR/f00000..N-1
 *   wl stat      DIR N                 stat() DIR/f00000..N-1
 *   wl unlink    DIR N                 unlink() DIR/f00000..N-1
 *   wl statloop  FILE N                stat() FILE N times (after one untimed warm-up stat)
 *   wl mktree    DIR NDIRS PERDIR      mkdir DIR/dNNN, create PERDIR empty files in each
 *   wl stattree  DIR                   walk DIR (nftw, no symlink following), lstat every entry
 *   wl mixed     DIR NOPS NPROCS SEED  fsstress-like mixed work: NPROCS processes, each NOPS operations
 *                                      drawn by a fixed-seed xorshift in its own subtree DIR/pN: create and
 *                                      write, overwrite, append, truncate, rename, unlink, mkdir, rmdir,
 *                                      chmod, hard link, symlink, fsync, read, stat (source-sized files,
 *                                      up to 32 KiB); ops that fail (ENOTEMPTY, ...) count, errors are fatal
 *                                      only for the setup
 *   wl run [--lines|--log] -- CMD ARG...
 *                                      fork/exec CMD and wait; with --lines its stdout goes to a
 *                                      pipe whose newlines are counted (a built-in `| wc -l`), with
 *                                      --log to wl's stderr (bench/run's log: what a build or an
 *                                      installer prints, its errors included), otherwise to
 *                                      /dev/null. Fails if CMD exits non-zero (grep's "no match"
 *                                      status 1 counts as success).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *call, const char *path)
{
	fprintf(stderr, "wl: %s(%s): %s (errno %d)\n", call, path ? path : "", strerror(errno), errno);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: wl seqwrite FILE BYTES BLOCK | seqread FILE BLOCK | "
			"randread FILE COUNT BLOCK SEED | create|stat|unlink DIR N | statloop FILE N | "
			"mktree DIR NDIRS PERDIR | stattree DIR | mixed DIR NOPS NPROCS SEED | run [--lines|--log] -- CMD ARG...\n");
	exit(2);
}

static long long num(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "wl: not a non-negative number: %s\n", s);
		exit(2);
	}
	return v;
}

static void report(double elapsed, long long ops, long long bytes)
{
	printf("elapsed=%.6f ops=%lld bytes=%lld\n", elapsed, ops, bytes);
}

static char *alloc_block(size_t size)
{
	char *buf;
	if (posix_memalign((void **)&buf, 4096, size) != 0) {
		fprintf(stderr, "wl: out of memory\n");
		exit(1);
	}
	/* Non-zero, non-repeating-per-page content, so nothing can treat it as a hole. */
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(i * 131 + (i >> 12) * 7 + 1);
	return buf;
}

static int cmd_seqwrite(const char *file, long long bytes, long long block)
{
	char *buf = alloc_block((size_t)block);
	double t0 = now();
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open", file);
	long long done = 0, ops = 0;
	while (done < bytes) {
		size_t want = (size_t)(bytes - done < block ? bytes - done : block);
		ssize_t n = write(fd, buf, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write", file);
		}
		done += n;
		ops++;
	}
	if (fsync(fd) != 0)
		die("fsync", file);
	if (close(fd) != 0)
		die("close", file);
	report(now() - t0, ops, done);
	return 0;
}

static int cmd_seqread(const char *file, long long block)
{
	char *buf = alloc_block((size_t)block);
	double t0 = now();
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		die("open", file);
	long long done = 0, ops = 0;
	for (;;) {
		ssize_t n = read(fd, buf, (size_t)block);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read", file);
		}
		if (n == 0)
			break;
		done += n;
		ops++;
	}
	close(fd);
	double el = now() - t0;
	struct stat st;
	if (stat(file, &st) != 0)
		die("stat", file);
	if (done != st.st_size) {
		fprintf(stderr, "wl: read %lld bytes but %s has %lld\n", done, file, (long long)st.st_size);
		return 1;
	}
	report(el, ops, done);
	return 0;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int cmd_randread(const char *file, long long count, long long block, long long seed)
{
	char *buf = alloc_block((size_t)block);
	struct stat st;
	if (stat(file, &st) != 0)
		die("stat", file);
	long long nblocks = st.st_size / block;
	if (nblocks < 1) {
		fprintf(stderr, "wl: %s is smaller than one block\n", file);
		return 1;
	}
	uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ull + 1;
	double t0 = now();
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		die("open", file);
	long long done = 0;
	for (long long i = 0; i < count; i++) {
		off_t off = (off_t)(xorshift64(&s) % (uint64_t)nblocks) * block;
		ssize_t n = pread(fd, buf, (size_t)block, off);
		if (n < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			die("pread", file);
		}
		if (n != block) {
			fprintf(stderr, "wl: short pread at %lld: %zd\n", (long long)off, n);
			return 1;
		}
		done += n;
	}
	close(fd);
	report(now() - t0, count, done);
	return 0;
}

static void name_in(char *out, size_t size, const char *dir, long long i)
{
	snprintf(out, size, "%s/f%05lld", dir, i);
}

static int cmd_files(const char *what, const char *dir, long long n)
{
	char path[4096];
	struct stat st;
	double t0 = now();
	for (long long i = 0; i < n; i++) {
		name_in(path, sizeof path, dir, i);
		if (!strcmp(what, "create")) {
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0)
				die("open(O_CREAT|O_EXCL)", path);
			if (close(fd) != 0)
				die("close", path);
		} else if (!strcmp(what, "stat")) {
			if (stat(path, &st) != 0)
				die("stat", path);
			if (!S_ISREG(st.st_mode) || st.st_size != 0) {
				fprintf(stderr, "wl: %s: unexpected mode %o size %lld\n", path,
					st.st_mode, (long long)st.st_size);
				return 1;
			}
		} else {
			if (unlink(path) != 0)
				die("unlink", path);
		}
	}
	report(now() - t0, n, 0);
	return 0;
}

static int cmd_statloop(const char *file, long long n)
{
	struct stat st;
	if (stat(file, &st) != 0)
		die("stat", file);
	double t0 = now();
	for (long long i = 0; i < n; i++)
		if (stat(file, &st) != 0)
			die("stat", file);
	report(now() - t0, n, 0);
	return 0;
}

static int cmd_mktree(const char *dir, long long ndirs, long long perdir)
{
	char path[4096];
	double t0 = now();
	long long ops = 0;
	for (long long d = 0; d < ndirs; d++) {
		snprintf(path, sizeof path, "%s/d%03lld", dir, d);
		if (mkdir(path, 0755) != 0)
			die("mkdir", path);
		ops++;
		size_t len = strlen(path);
		for (long long i = 0; i < perdir; i++) {
			snprintf(path + len, sizeof path - len, "/f%05lld", i);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0)
				die("open(O_CREAT|O_EXCL)", path);
			close(fd);
			ops++;
		}
	}
	report(now() - t0, ops, 0);
	return 0;
}

static long long walked;

static int walk_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_NS || flag == FTW_DNR) {
		fprintf(stderr, "wl: cannot stat/read %s\n", path);
		return 1;
	}
	walked++;
	return 0;
}

static int cmd_stattree(const char *dir)
{
	double t0 = now();
	int r = nftw(dir, walk_one, 64, FTW_PHYS);
	if (r < 0)
		die("nftw", dir);
	if (r > 0)
		return 1;
	report(now() - t0, walked, 0);
	return 0;
}

/* One process of `wl mixed`: its files and directories by name, chosen at random. */
struct mixed {
	char base[4096];
	char **files, **dirs;
	long long nfiles, ndirs, cap_files, cap_dirs, serial;
	uint64_t rng;
	char *buf;
};

static char *mixed_name(struct mixed *m, const char *prefix)
{
	const char *dir = m->dirs[xorshift64(&m->rng) % (uint64_t)m->ndirs];
	char *p = malloc(strlen(dir) + 32);
	sprintf(p, "%s/%s%lld", dir, prefix, m->serial++);
	return p;
}

static void mixed_add(char ***list, long long *n, long long *cap, char *name)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*list = realloc(*list, (size_t)*cap * sizeof **list);
	}
	(*list)[(*n)++] = name;
}

static void mixed_write(const char *path, int flags, off_t off, size_t len, char *buf)
{
	int fd = open(path, flags, 0644);
	if (fd < 0)
		return;
	if (pwrite(fd, buf, len, off) < 0 && errno != EBADF)
		(void)0;
	close(fd);
}

static void mixed_run(struct mixed *m, long long nops)
{
	struct stat st;
	for (long long i = 0; i < nops; i++) {
		unsigned op = (unsigned)(xorshift64(&m->rng) % 16);
		uint64_t r = xorshift64(&m->rng);
		char *f = m->nfiles ? m->files[r % (uint64_t)m->nfiles] : NULL;
		size_t len = (size_t)(xorshift64(&m->rng) % 32768);
		if (!f && op != 6)
			op = 0;
		switch (op) {
		case 0: case 1: { /* create and write */
			char *name = mixed_name(m, "f");
			mixed_write(name, O_WRONLY | O_CREAT | O_EXCL, 0, len, m->buf);
			mixed_add(&m->files, &m->nfiles, &m->cap_files, name);
			break;
		}
		case 2: /* overwrite in place */
			mixed_write(f, O_WRONLY, (off_t)(r % 16384), len / 4, m->buf);
			break;
		case 3: /* append */
			mixed_write(f, O_WRONLY | O_APPEND, 0, len / 8, m->buf);
			break;
		case 4: /* truncate */
			(void)truncate(f, (off_t)(r % 16384));
			break;
		case 5: { /* rename, maybe to another directory */
			char *name = mixed_name(m, "f");
			if (rename(f, name) == 0) {
				m->files[r % (uint64_t)m->nfiles] = name;
				free(f);
			} else
				free(name);
			break;
		}
		case 6: /* mkdir */
			if (m->ndirs < 64) {
				char *name = mixed_name(m, "d");
				if (mkdir(name, 0755) == 0)
					mixed_add(&m->dirs, &m->ndirs, &m->cap_dirs, name);
				else
					free(name);
			}
			break;
		case 7: /* unlink */
			if (unlink(f) == 0) {
				long long k = (long long)(r % (uint64_t)m->nfiles);
				m->nfiles--;
				m->files[k] = m->files[m->nfiles];
				free(f);
			}
			break;
		case 8: /* rmdir of a directory that may not be empty */
			if (m->ndirs > 1) {
				long long k = 1 + (long long)(r % (uint64_t)(m->ndirs - 1));
				if (rmdir(m->dirs[k]) == 0) {
					free(m->dirs[k]);
					m->ndirs--;
					m->dirs[k] = m->dirs[m->ndirs];
				}
			}
			break;
		case 9: /* chmod */
			(void)chmod(f, (r & 1) ? 0600 : 0644);
			break;
		case 10: { /* hard link */
			char *name = mixed_name(m, "l");
			if (link(f, name) == 0)
				mixed_add(&m->files, &m->nfiles, &m->cap_files, name);
			else
				free(name);
			break;
		}
		case 11: { /* symlink */
			char *name = mixed_name(m, "s");
			(void)symlink(f, name);
			free(name);
			break;
		}
		case 12: { /* write and fsync */
			int fd = open(f, O_WRONLY);
			if (fd >= 0) {
				if (pwrite(fd, m->buf, len / 4, (off_t)(r % 8192)) >= 0)
					(void)fsync(fd);
				close(fd);
			}
			break;
		}
		case 13: { /* read it whole */
			int fd = open(f, O_RDONLY);
			if (fd >= 0) {
				while (read(fd, m->buf, 65536) > 0)
					;
				close(fd);
			}
			break;
		}
		default: /* stat */
			(void)stat(f, &st);
			break;
		}
	}
}

static int cmd_mixed(const char *dir, long long nops, long long nprocs, long long seed)
{
	double t0 = now();
	for (long long p = 0; p < nprocs; p++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork", NULL);
		if (pid == 0) {
			struct mixed m = {0};
			snprintf(m.base, sizeof m.base, "%s/p%lld", dir, p);
			if (mkdir(m.base, 0755) != 0)
				die("mkdir", m.base);
			mixed_add(&m.dirs, &m.ndirs, &m.cap_dirs, strdup(m.base));
			m.rng = (uint64_t)(seed + p) * 0x9E3779B97F4A7C15ull + 1;
			m.buf = alloc_block(65536);
			mixed_run(&m, nops);
			_exit(0);
		}
	}
	int status, failed = 0;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	if (failed) {
		fprintf(stderr, "wl: a mixed-work process failed\n");
		return 1;
	}
	report(now() - t0, nops * nprocs, 0);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	int count_lines = 0, log_output = 0, i = 0;
	if (i < argc && !strcmp(argv[i], "--lines")) {
		count_lines = 1;
		i++;
	} else if (i < argc && !strcmp(argv[i], "--log")) {
		log_output = 1;
		i++;
	}
	if (i >= argc || strcmp(argv[i], "--"))
		usage();
	i++;
	if (i >= argc)
		usage();
	char **cmd = argv + i;

	int pfd[2] = {-1, -1};
	if (count_lines && pipe2(pfd, O_CLOEXEC) != 0)
		die("pipe2", NULL);
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		int out = count_lines ? pfd[1] : log_output ? 2 : open("/dev/null", O_WRONLY);
		if (out < 0 || dup2(out, 1) < 0)
			_exit(126);
		execvp(cmd[0], cmd);
		fprintf(stderr, "wl: exec %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	long long lines = 0;
	if (count_lines) {
		close(pfd[1]);
		char buf[65536];
		for (;;) {
			ssize_t n = read(pfd[0], buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			for (ssize_t k = 0; k < n; k++)
				lines += buf[k] == '\n';
		}
		close(pfd[0]);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid", NULL);
	double el = now() - t0;
	int is_grep = strstr(cmd[0], "grep") != NULL;
	if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && !(is_grep && WEXITSTATUS(status) == 1))) {
		fprintf(stderr, "wl: %s exited with %s %d\n", cmd[0],
			WIFEXITED(status) ? "status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return 1;
	}
	printf("elapsed=%.6f ops=1 bytes=0 lines=%lld\n", el, lines);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *c = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(c, "seqwrite") && argc == 5)
		return cmd_seqwrite(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(c, "seqread") && argc == 4)
		return cmd_seqread(argv[2], num(argv[3]));
	if (!strcmp(c, "randread") && argc == 6)
		return cmd_randread(argv[2], num(argv[3]), num(argv[4]), num(argv[5]));
	if ((!strcmp(c, "create") || !strcmp(c, "stat") || !strcmp(c, "unlink")) && argc == 4)
		return cmd_files(c, argv[2], num(argv[3]));
	if (!strcmp(c, "statloop") && argc == 4)
		return cmd_statloop(argv[2], num(argv[3]));
	if (!strcmp(c, "mktree") && argc == 5)
		return cmd_mktree(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(c, "stattree") && argc == 3)
		return cmd_stattree(argv[2]);
	if (!strcmp(c, "mixed") && argc == 6)
		return cmd_mixed(argv[2], num(argv[3]), num(argv[4]), num(argv[5]));
	if (!strcmp(c, "run"))
		return cmd_run(argc - 2, argv + 2);
	usage();
	return 2;
}
