#include "liveness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "buf.h"

#define PROC_FILE_MAX 65536 /* a /proc file this reads is a line, a few hundred bytes */

static int empty(const char *s)
{
	return !s || !*s;
}

static int same(const char *a, const char *b)
{
	return !empty(a) && !empty(b) && !strcmp(a, b);
}

enum liveness liveness_of_pid(const char *boot_id, const char *pidns, long pid,
                              const struct liveness_self *self, liveness_probe_fn probe, void *arg,
                              const char **why)
{
	const char *dummy;
	int e;

	if (!why)
		why = &dummy;
	*why = "";
	if (!same(boot_id, self->boot_id)) {
		*why = empty(boot_id) ? "it recorded no boot id"
		                      : "it runs on another machine or an earlier boot";
		return LIVENESS_UNKNOWN;
	}
	if (empty(pidns)) {
		*why = "it recorded no PID namespace (written by an older tflock)";
		return LIVENESS_UNKNOWN;
	}
	if (!same(pidns, self->pidns)) {
		*why = "it runs in another PID namespace (container) on this machine";
		return LIVENESS_UNKNOWN;
	}
	if (pid <= 0) {
		*why = "it recorded no pid";
		return LIVENESS_UNKNOWN;
	}
	e = probe(pid, arg);
	if (e == 0 || e == EPERM)
		return LIVENESS_ALIVE_HERE; /* EPERM: it exists, as another user */
	if (e == ESRCH)
		return LIVENESS_GONE_PID;
	*why = "its pid could not be checked";
	return LIVENESS_UNKNOWN;
}

enum liveness liveness_judge(const struct lockinfo_tflock *holder, const struct liveness_self *self,
                             liveness_probe_fn probe, void *arg, const char **why)
{
	const char *pid_why = "";
	enum liveness l;

	l = liveness_of_pid(holder->boot_id, holder->pidns, holder->pid, self, probe, arg,
	                    &pid_why);
	if (why)
		*why = pid_why;
	if (l != LIVENESS_UNKNOWN)
		return l; /* gone by pid, or alive here: a live process is never ours to release */
	if (same(holder->ci_job, self->ci_job)) {
		if (why)
			*why = "";
		return LIVENESS_GONE_SAME_JOB;
	}
	return LIVENESS_UNKNOWN;
}

const char *liveness_name(enum liveness l)
{
	switch (l) {
	case LIVENESS_ALIVE_HERE:
		return "alive-here";
	case LIVENESS_GONE_PID:
		return "gone-pid";
	case LIVENESS_GONE_SAME_JOB:
		return "gone-same-job";
	case LIVENESS_UNKNOWN:
		break;
	}
	return "unknown";
}

/* Is pid a zombie (exited, not yet reaped: it holds and renews nothing)? Only
 * when /proc is our PID namespace's (its "self" is our pid), else 0. */
static int zombie(pid_t pid)
{
	char path[64], self[32], *p;
	struct buf stat = BUF_INIT;
	ssize_t n;
	int z;
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n <= 0)
		return 0;
	self[n] = '\0';
	if (strtol(self, NULL, 10) != (long)getpid())
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (buf_read_file(&stat, path, PROC_FILE_MAX, NULL))
		return 0;
	p = strrchr(stat.data, ')'); /* "PID (COMM) STATE ...", COMM may hold ')' */
	z = p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	buf_free(&stat);
	return z;
}

int liveness_probe_kill(long pid, void *arg)
{
	(void)arg;
	if (pid <= 0 || pid != (long)(pid_t)pid)
		return EINVAL;
	if (kill((pid_t)pid, 0) != 0)
		return errno;
	/* a zombie is gone: whether it is the holder (killed, its parent gone too
	 * and init slow to reap) or the pid's next owner (then the holder died) */
	return zombie((pid_t)pid) ? ESRCH : 0;
}

/* "pid:[4026531836]", the link /proc/self/ns/pid points to: the namespace's
 * inode, unique among the namespaces that exist on this boot. */
char *liveness_read_pidns(void)
{
	char b[64];
	ssize_t n = readlink("/proc/self/ns/pid", b, sizeof(b) - 1);
	if (n <= 0)
		return xstrdup("");
	b[n] = '\0';
	if (strncmp(b, "pid:[", 5) || b[n - 1] != ']')
		return xstrdup("");
	return xstrdup(b);
}

char *liveness_read_boot_id(void)
{
	struct buf b = BUF_INIT;
	char *id;
	if (buf_read_file(&b, "/proc/sys/kernel/random/boot_id", PROC_FILE_MAX, NULL))
		return xstrdup("");
	id = xstrndup(b.data, strcspn(b.data, "\n"));
	buf_free(&b);
	return id;
}
