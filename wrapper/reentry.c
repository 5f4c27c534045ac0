#include "reentry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "liveness.h"

void reentry_init(struct reentry *r)
{
	memset(r, 0, sizeof(*r));
	r->flock_fd = -1;
}

/* The first size - 1 bytes of path (never through a symbolic link) into out,
 * NUL-terminated: 0, or -1 when it cannot be read. */
static int read_file(const char *path, char *out, size_t size)
{
	struct buf b = BUF_INIT;
	int rc = buf_read_file_opt(&b, path, size - 1, BUF_READ_NOFOLLOW | BUF_READ_HEAD, NULL);
	if (!rc)
		memcpy(out, b.data, b.len + 1);
	buf_wipe(&b); /* the token file's bytes too */
	return rc ? -1 : 0;
}

static int write_file_atomic(const char *dir, const char *name, const char *data)
{
	char tmp[4096], dst[4096];
	int fd;
	size_t len = strlen(data);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return rename(tmp, dst);
}

/* Field 22 of /proc/PID/stat: the process start time, to detect pid reuse. */
static unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')'); /* the command name may contain spaces */
	if (!p)
		return 0;
	p++;
	for (int n = 3; n < 22 && p; n++) /* to field 22, starttime */
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st;
}

static const char *field(const char *text, const char *name, char *out, size_t size);

/* The outer tflock named in an identity file, seen from this process (PROTOCOL
 * B8's pid rule: same boot, same PID namespace, then kill(pid, 0)). */
static enum liveness outer_liveness(const char *idt, pid_t *pid, const char **why)
{
	char v[128], boot[128], ns[128];
	char *bid = liveness_read_boot_id(), *pidns = liveness_read_pidns();
	struct liveness_self self = { bid, pidns, "" };
	enum liveness l;
	*pid = (pid_t)atoi(field(idt, "pid", v, sizeof(v)) ? v : "0");
	field(idt, "boot", boot, sizeof(boot));
	field(idt, "pidns", ns, sizeof(ns));
	l = liveness_of_pid(boot, ns, *pid > 1 ? (long)*pid : 0, &self, liveness_probe_kill, NULL,
	                    why);
	free(bid);
	free(pidns);
	return l;
}

static void remove_run_dir(const char *dir)
{
	static const char *const names[] = { "token",      "identity",   "state",
		                             "siblings",   ".state.tmp", ".identity.tmp",
		                             ".token.tmp", NULL };
	char path[4200];
	for (int i = 0; names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Remove run directories of ours whose tflock is gone (SIGKILLed, or another
 * boot): they hold a token nothing will use again. */
static void sweep(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;
	char *bid = liveness_read_boot_id();
	if (!d) {
		free(bid);
		return;
	}
	while ((de = readdir(d))) {
		char dir[4096], path[4200], idt[2048], v[128];
		struct stat st;
		const char *why;
		pid_t pid;
		if (strncmp(de->d_name, "tflock-run.", 11))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
		if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		snprintf(path, sizeof(path), "%s/identity", dir);
		if (read_file(path, idt, sizeof(idt)))
			continue; /* being created right now, or not ours to judge */
		/* remove only what is provably dead: left on an earlier boot, or
		 * its pid gone or reused in our PID namespace on this boot */
		if (field(idt, "boot", v, sizeof(v)) && *bid && !strcmp(v, bid)) {
			enum liveness l = outer_liveness(idt, &pid, &why);
			if (l == LIVENESS_UNKNOWN && pid > 1)
				continue; /* another namespace, or an older tflock's */
			if (l == LIVENESS_ALIVE_HERE && field(idt, "start", v, sizeof(v)) &&
			    strtoull(v, NULL, 10) == proc_start_time(pid))
				continue; /* its tflock is alive */
		}
		remove_run_dir(dir);
	}
	closedir(d);
	free(bid);
}

int reentry_create(struct reentry *r, const char *ident, const char *lock_id, struct tf_error *err)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	char *tmpl, *bid, *pidns;
	struct buf b = BUF_INIT;
	unsigned char rnd[32];
	struct stat st;

	if (!base || !*base || stat(base, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	sweep(base);
	tmpl = xasprintf("%s/tflock-run.XXXXXX", base);
	if (!mkdtemp(tmpl)) { /* mkdtemp makes it 0700 */
		int e = errno;
		free(tmpl);
		return err_set(err, ERR_SYSTEM, "cannot create a run directory in %s: %s", base,
		               strerror(e));
	}
	r->dir = tmpl;
	r->owner = 1;
	r->ident = xstrdup(ident);
	{
		/* token: 32 fresh random bytes in hex */
		FILE *f = fopen("/dev/urandom", "re");
		if (!f || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
			if (f)
				fclose(f);
			return err_set(err, ERR_SYSTEM, "cannot read /dev/urandom");
		}
		fclose(f);
	}
	for (int i = 0; i < 32; i++)
		snprintf(r->token + 2 * i, 3, "%02x", rnd[i]);
	secure_zero(rnd, sizeof(rnd));
	bid = liveness_read_boot_id();
	pidns = liveness_read_pidns();
	buf_addf(&b, "pid %d\nstart %llu\nboot %s\npidns %s\nid %s\nlock %s\n", (int)getpid(),
	         proc_start_time(getpid()), bid, pidns, lock_id, ident);
	free(bid);
	free(pidns);
	if (write_file_atomic(r->dir, "token", r->token) ||
	    write_file_atomic(r->dir, "identity", b.data) ||
	    write_file_atomic(r->dir, "state", "held 0\n")) {
		buf_free(&b);
		return err_set(err, ERR_SYSTEM, "cannot write the run directory %s: %s", r->dir,
		               strerror(errno));
	}
	buf_free(&b);
	return 0;
}

void reentry_set_state(struct reentry *r, const char *state)
{
	char line[96];
	if (!r || !r->dir || !r->owner)
		return;
	snprintf(line, sizeof(line), "%s %lld\n", state, (long long)clock_boot_ns());
	write_file_atomic(r->dir, "state", line);
}

int reentry_env(const struct reentry *r, char **out, int max)
{
	int n = 0;
	if (!r->dir || max < 2)
		return 0;
	out[n++] = xasprintf("TFLOCK_HELD_DIR=%s", r->dir);
	out[n++] = xasprintf("TFLOCK_HELD_TOKEN=%s", r->token);
	return n;
}

static const char *field(const char *text, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, name, nl) && p[nl] == ' ') {
			size_t len = strcspn(p + nl + 1, "\n");
			if (len >= size)
				len = size - 1;
			memcpy(out, p + nl + 1, len);
			out[len] = '\0';
			return out;
		}
	}
	out[0] = '\0';
	return NULL;
}

int reentry_check(struct reentry *r, const char *ident, char *why, size_t why_size)
{
	const char *dir = getenv("TFLOCK_HELD_DIR"), *token = getenv("TFLOCK_HELD_TOKEN");
	char path[4096], tok[128], idt[2048], v[1024];
	const char *lwhy = "";
	enum liveness l;
	struct stat st;
	pid_t pid;

	if (!dir || !*dir || !token || !*token) {
		snprintf(why, why_size, "no TFLOCK_HELD_DIR/TFLOCK_HELD_TOKEN");
		return 0;
	}
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(why, why_size, "run directory %s does not exist", dir);
		return 0;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		snprintf(why, why_size, "run directory %s is not private to this user", dir);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	if (read_file(path, tok, sizeof(tok)) || strlen(tok) != strlen(token) ||
	    CRYPTO_memcmp(tok, token, strlen(tok))) {
		snprintf(why, why_size, "the token does not match");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/identity", dir);
	if (read_file(path, idt, sizeof(idt))) {
		snprintf(why, why_size, "no identity in %s", dir);
		return 0;
	}
	/* trust only an outer tflock seen alive: same boot, same PID namespace,
	 * its pid present (PROTOCOL B8's rule, the other way round) */
	l = outer_liveness(idt, &pid, &lwhy);
	if (pid <= 1 || l == LIVENESS_GONE_PID) {
		snprintf(why, why_size, "the outer tflock (pid %d) is gone", (int)pid);
		return 0;
	}
	if (l != LIVENESS_ALIVE_HERE) {
		snprintf(why, why_size, "the outer tflock (pid %d) cannot be checked: %s", (int)pid,
		         lwhy);
		return 0;
	}
	if (!field(idt, "start", v, sizeof(v)) || strtoull(v, NULL, 10) != proc_start_time(pid)) {
		snprintf(why, why_size, "pid %d is no longer the outer tflock", (int)pid);
		return 0;
	}
	if (!field(idt, "lock", v, sizeof(v)) || (ident && strcmp(v, ident))) {
		snprintf(why, why_size, "the outer tflock holds another lock (%s)", v);
		return 0;
	}
	r->dir = xstrdup(dir);
	r->ident = xstrdup(v);
	snprintf(r->token, sizeof(r->token), "%s", token);
	r->owner = 0;
	return 1;
}

int reentry_lock_siblings(struct reentry *r, long long timeout_ms, const volatile int *cancel)
{
	char path[4096];
	int64_t start;
	snprintf(path, sizeof(path), "%s/siblings", r->dir);
	r->flock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->flock_fd < 0)
		return -1;
	start = clock_boot_ns();
	for (;;) {
		if (flock(r->flock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (cancel && *cancel)
			return 1;
		if (timeout_ms >= 0 && (clock_boot_ns() - start) / NS_PER_MS >= timeout_ms)
			return 1;
		if (strcmp(reentry_outer_state(r), "held"))
			return 2;
		clock_sleep_ms(20);
	}
}

const char *reentry_outer_state(struct reentry *r)
{
	static char st[96];
	char path[4096];
	snprintf(path, sizeof(path), "%s/state", r->dir);
	if (read_file(path, st, sizeof(st)))
		return "gone";
	st[strcspn(st, " \n")] = '\0';
	return st;
}

long long reentry_outer_stamp(struct reentry *r)
{
	char st[96], path[4096], *sp;
	snprintf(path, sizeof(path), "%s/state", r->dir);
	if (read_file(path, st, sizeof(st)))
		return 0;
	sp = strchr(st, ' ');
	return sp ? strtoll(sp + 1, NULL, 10) : 0;
}

void reentry_free(struct reentry *r)
{
	if (!r)
		return;
	if (r->flock_fd >= 0)
		close(r->flock_fd);
	if (r->owner && r->dir)
		remove_run_dir(r->dir);
	free(r->dir);
	free(r->ident);
	secure_zero(r->token, sizeof(r->token));
	reentry_init(r);
}
