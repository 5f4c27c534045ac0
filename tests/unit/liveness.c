/*
 * Unit tests for wrapper/liveness: the rule `tflock release` and re-entry use to
 * decide that a lock's holder is provably gone (PROTOCOL B8), as a table of
 * cases with a pinned pid probe, then the real probe and namespace reader.
 */
#include "liveness.h"
#include "buf.h"
#include "tap/basic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOOT "3f6e1c2a-9b8d-4e7f-a1b2-c3d4e5f60718"
#define BOOT2 "00000000-0000-0000-0000-000000000000"
#define NS "pid:[4026531836]"
#define NS2 "pid:[4026532174]"
/* GitHub matrix legs: same run, attempt and job, different runners (ci.h) */
#define LEG_A "9876/1/plan/runner-a@host-a"
#define LEG_B "9876/1/plan/runner-b@host-b"

struct probe {
	int result; /* what kill(pid, 0) "says": 0 or an errno value */
	int calls;
	long pid;
};

static int fake_probe(long pid, void *arg)
{
	struct probe *p = arg;
	p->calls++;
	p->pid = pid;
	return p->result;
}

static const struct {
	const char *name;
	/* the holder, as its lock body recorded it */
	const char *boot, *pidns, *job;
	long pid;
	/* us */
	const char *our_boot, *our_pidns, *our_job;
	int probe;  /* the probe's answer */
	int probed; /* the probe must have been asked */
	enum liveness want;
} cases[] = {
	{ "same boot and namespace, no such pid (ESRCH)", BOOT, NS, "", 4242, BOOT, NS, "", ESRCH,
	  1, LIVENESS_GONE_PID },
	{ "same boot and namespace, pid of another user (EPERM)", BOOT, NS, "", 4242, BOOT, NS, "",
	  EPERM, 1, LIVENESS_ALIVE_HERE },
	{ "same boot and namespace, pid alive", BOOT, NS, "", 4242, BOOT, NS, "", 0, 1,
	  LIVENESS_ALIVE_HERE },
	{ "same boot and namespace, probe fails otherwise (EINVAL)", BOOT, NS, "", 4242, BOOT, NS,
	  "", EINVAL, 1, LIVENESS_UNKNOWN },
	{ "another boot: pid means nothing", BOOT2, NS, "", 4242, BOOT, NS, "", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "another PID namespace on this boot", BOOT, NS2, "", 4242, BOOT, NS, "", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "older body without pidns", BOOT, "", "", 4242, BOOT, NS, "", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "our own pidns unreadable", BOOT, NS, "", 4242, BOOT, "", "", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "no boot ids at all", "", NS, "", 4242, "", NS, "", ESRCH, 0, LIVENESS_UNKNOWN },
	{ "no pid recorded", BOOT, NS, "", 0, BOOT, NS, "", ESRCH, 0, LIVENESS_UNKNOWN },
	{ "negative pid", BOOT, NS, "", -1, BOOT, NS, "", ESRCH, 0, LIVENESS_UNKNOWN },
	{ "same CI job, another machine", BOOT2, NS2, "77", 4242, BOOT, NS, "77", ESRCH, 0,
	  LIVENESS_GONE_SAME_JOB },
	{ "another CI job, another machine", BOOT2, NS2, "77", 4242, BOOT, NS, "78", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "no CI job on either side", BOOT2, NS2, "", 4242, BOOT, NS, "", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "holder has a job, we have none", BOOT2, NS2, "77", 4242, BOOT, NS, "", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "we have a job, holder has none", BOOT2, NS2, "", 4242, BOOT, NS, "77", ESRCH, 0,
	  LIVENESS_UNKNOWN },
	{ "same CI job, but holder alive here: alive wins", BOOT, NS, "77", 4242, BOOT, NS, "77", 0,
	  1, LIVENESS_ALIVE_HERE },
	{ "same CI job, holder alive here as another user", BOOT, NS, "77", 4242, BOOT, NS, "77",
	  EPERM, 1, LIVENESS_ALIVE_HERE },
	{ "same CI job, holder in another namespace here", BOOT, NS2, "77", 4242, BOOT, NS, "77", 0,
	  0, LIVENESS_GONE_SAME_JOB },
	{ "same CI job, older body without pidns", BOOT, "", "77", 4242, BOOT, NS, "77", 0, 0,
	  LIVENESS_GONE_SAME_JOB },
	{ "pid gone here, another CI job", BOOT, NS, "77", 4242, BOOT, NS, "78", ESRCH, 1,
	  LIVENESS_GONE_PID },
	{ "GitHub matrix: leg B cleans up, leg A holds (other machine)", BOOT2, NS2, LEG_A, 4242,
	  BOOT, NS, LEG_B, ESRCH, 0, LIVENESS_UNKNOWN },
	{ "GitHub matrix: leg B cleans up, leg A holds (same machine, other namespace)", BOOT, NS2,
	  LEG_A, 4242, BOOT, NS, LEG_B, ESRCH, 0, LIVENESS_UNKNOWN },
	{ "GitHub matrix: leg B cleans up, leg A alive in our namespace", BOOT, NS, LEG_A, 4242,
	  BOOT, NS, LEG_B, 0, 1, LIVENESS_ALIVE_HERE },
	{ "GitHub matrix: leg A cleans up its own lock", BOOT2, NS2, LEG_A, 4242, BOOT, NS, LEG_A,
	  ESRCH, 0, LIVENESS_GONE_SAME_JOB },
	{ "GitHub: an older tflock's run/attempt/job never matches", BOOT2, NS2, "9876/1/plan",
	  4242, BOOT, NS, LEG_A, ESRCH, 0, LIVENESS_UNKNOWN },
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lockinfo_tflock h;
		struct liveness_self self = { cases[i].our_boot, cases[i].our_pidns,
			                      cases[i].our_job };
		struct probe p = { cases[i].probe, 0, 0 };
		const char *why = NULL;
		enum liveness got;

		memset(&h, 0, sizeof(h));
		h.v = 1;
		h.pid = cases[i].pid;
		h.boot_id = xstrdup(cases[i].boot);
		h.pidns = xstrdup(cases[i].pidns);
		h.ci_job = xstrdup(cases[i].job);
		got = liveness_judge(&h, &self, fake_probe, &p, &why);
		free(h.boot_id);
		free(h.pidns);
		free(h.ci_job);
		is_string(liveness_name(cases[i].want), liveness_name(got), "%s", cases[i].name);
		is_int(cases[i].probed, p.calls, "%s: probe asked %d time(s)", cases[i].name,
		       cases[i].probed);
		if (cases[i].probed)
			is_int(cases[i].pid, p.pid, "%s: probe asked about the recorded pid",
			       cases[i].name);
		ok(why != NULL && (got == LIVENESS_UNKNOWN) == (*why != '\0'),
		   "%s: a reason exactly when unknown (%s)", cases[i].name, why ? why : "NULL");
	}
}

static void test_null_strings(void)
{
	struct lockinfo_tflock h;
	struct liveness_self self = { BOOT, NS, "" };
	struct probe p = { ESRCH, 0, 0 };

	/* a struct lockinfo_tflock straight from lockinfo_init has NULL strings */
	memset(&h, 0, sizeof(h));
	h.pid = 4242;
	is_int(LIVENESS_UNKNOWN, liveness_judge(&h, &self, fake_probe, &p, NULL),
	       "NULL strings in the holder: unknown, why may be NULL");
	is_int(0, p.calls, "NULL strings: probe not asked");
	self.boot_id = NULL;
	self.pidns = NULL;
	self.ci_job = NULL;
	is_int(LIVENESS_UNKNOWN, liveness_judge(&h, &self, fake_probe, &p, NULL),
	       "NULL strings on both sides: unknown (NULL never equals NULL)");
}

static void test_why(void)
{
	struct liveness_self self = { BOOT, NS, "" };
	struct probe p = { ESRCH, 0, 0 };
	const char *why;

	liveness_of_pid(BOOT, NS2, 42, &self, fake_probe, &p, &why);
	ok(strstr(why, "another PID namespace") != NULL, "why names the namespace: %s", why);
	liveness_of_pid(BOOT, "", 42, &self, fake_probe, &p, &why);
	ok(strstr(why, "older tflock") != NULL, "why names an older tflock: %s", why);
	liveness_of_pid(BOOT2, NS, 42, &self, fake_probe, &p, &why);
	ok(strstr(why, "another machine") != NULL, "why names another machine: %s", why);
	is_string("gone-pid", liveness_name(LIVENESS_GONE_PID), "name gone-pid");
	is_string("gone-same-job", liveness_name(LIVENESS_GONE_SAME_JOB), "name gone-same-job");
	is_string("alive-here", liveness_name(LIVENESS_ALIVE_HERE), "name alive-here");
	is_string("unknown", liveness_name(LIVENESS_UNKNOWN), "name unknown");
}

static void test_real(void)
{
	char *ns = liveness_read_pidns(), *boot = liveness_read_boot_id();
	char link[64];
	ssize_t n = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
	pid_t child;
	int st;

	if (n > 0) {
		link[n] = '\0';
		is_string(link, ns, "pidns is what /proc/self/ns/pid points to");
		ok(!strncmp(ns, "pid:[", 5), "pidns looks like pid:[inode]: %s", ns);
	} else {
		is_string("", ns, "no /proc/self/ns/pid: pidns is empty");
		skip("no /proc/self/ns/pid");
	}
	is_int(36, (long long)strlen(boot), "boot id read (%s)", boot);

	is_int(0, liveness_probe_kill((long)getpid(), NULL), "real probe: we are alive");
	is_int(EINVAL, liveness_probe_kill(0, NULL), "real probe: pid 0 refused");
	is_int(EINVAL, liveness_probe_kill(-5, NULL), "real probe: negative pid refused");
	child = fork();
	if (child < 0)
		bail("fork: %s", strerror(errno));
	if (child == 0)
		_exit(0);
	if (waitpid(child, &st, 0) != child)
		bail("waitpid: %s", strerror(errno));
	is_int(ESRCH, liveness_probe_kill((long)child, NULL),
	       "real probe: a reaped child is ESRCH");
	{
		struct lockinfo_tflock h;
		struct liveness_self self = { boot, ns, "" };
		memset(&h, 0, sizeof(h));
		h.boot_id = boot;
		h.pidns = ns;
		h.pid = (long)getpid();
		is_int(LIVENESS_ALIVE_HERE,
		       liveness_judge(&h, &self, liveness_probe_kill, NULL, NULL),
		       "real: our own pid, boot and namespace: alive here");
		h.pid = (long)child;
		is_int(LIVENESS_GONE_PID,
		       liveness_judge(&h, &self, liveness_probe_kill, NULL, NULL),
		       "real: the reaped child: gone");
	}
	free(ns);
	free(boot);
}

int main(void)
{
	plan_lazy();
	test_table();
	test_null_strings();
	test_why();
	test_real();
	return 0;
}
