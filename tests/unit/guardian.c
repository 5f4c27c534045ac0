#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "guardian.h"
#include "plan.h"
#include "clock.h"
#include "tap/basic.h"

#define MS 1000000LL

extern char **environ;

/* Reap the guardian; until then fold its reports into g. Returns its status. */
static int finish(struct guardian *g)
{
	int ws = -1;
	for (int i = 0; i < 1000; i++) {
		struct pollfd p = { g->st_fd, POLLIN, 0 };
		if (g->st_fd >= 0)
			poll(&p, 1, 10);
		guardian_read(g);
		if (waitpid(g->pid, &ws, WNOHANG) == g->pid) {
			g->pid = 0;
			guardian_read(g);
			break;
		}
		if (g->st_fd < 0)
			usleep(10000);
	}
	guardian_close(g);
	return ws;
}

static pid_t read_pid(const char *path)
{
	for (int i = 0; i < 500; i++) {
		FILE *fp = fopen(path, "r");
		long v = 0;
		if (fp) {
			int n = fscanf(fp, "%ld", &v);
			fclose(fp);
			if (n == 1 && v > 0)
				return (pid_t)v;
		}
		usleep(10000);
	}
	return 0;
}

static int alive(pid_t pid)
{
	char path[64];
	FILE *fp;
	char buf[512], *p, st = 'X';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	p = fgets(buf, sizeof(buf), fp) ? strrchr(buf, ')') : NULL;
	fclose(fp);
	if (p && sscanf(p + 1, " %c", &st) == 1)
		return st != 'Z' && st != 'X';
	return 0;
}

struct pcase {
	const char *name;
	struct guardian_state s;
	int64_t now;
	enum guardian_action want;
	enum guardian_why why;
	int64_t next;
};

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/tflock-guardian-XXXXXX", path[4096], script[8192];
	char *dir;
	sigset_t none;
	struct guardian g;
	struct guardian_opts o;
	struct tf_error err;

	if (argc > 0 && !strcmp(argv[0], GUARDIAN_ARGV0))
		return guardian_main(argc, argv);
	plan_lazy();
	sigemptyset(&none);
	dir = mkdtemp(tmpl);
	if (!dir)
		bail("mkdtemp: %s", strerror(errno));
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	/* guardian_plan: L = 1000 ms, m = 200 ms, last send at 10 s */
	{
		const int64_t L = 1000 * MS, m = 200 * MS, S = 10000 * MS;
		const struct pcase cases[] = {
			{ "fresh renewal: wait for L/2",
			  { L, m, S, 0, 0, 0, 0, 0, 0 },
			  S,
			  GA_NONE,
			  GW_NONE,
			  S + L / 2 },
			{ "at L/2: SIGINT",
			  { L, m, S, 0, 0, 0, 0, 0, 0 },
			  S + L / 2,
			  GA_INTERRUPT,
			  GW_LEASE,
			  S + L - m },
			{ "SIGINT sent: wait for L - m",
			  { L, m, S, 0, 0, 0, 1, 0, 0 },
			  S + L / 2,
			  GA_NONE,
			  GW_NONE,
			  S + L - m },
			{ "at L - m: kill",
			  { L, m, S, 0, 0, 0, 1, 0, 0 },
			  S + L - m,
			  GA_KILL,
			  GW_LEASE,
			  INT64_MAX },
			{ "past L - m without SIGINT: kill first",
			  { L, m, S, 0, 0, 0, 0, 0, 0 },
			  S + L,
			  GA_KILL,
			  GW_LEASE,
			  INT64_MAX },
			{ "command reaped: no SIGINT, still the kill deadline",
			  { L, m, S, 0, 0, 0, 0, 0, 1 },
			  S + L / 2,
			  GA_NONE,
			  GW_NONE,
			  S + L - m },
			{ "command reaped: leftovers killed at L - m",
			  { L, m, S, 0, 0, 0, 0, 0, 1 },
			  S + L - m,
			  GA_KILL,
			  GW_LEASE,
			  INT64_MAX },
			{ "EOF: kill at once",
			  { L, m, S, 0, 0, 1, 0, 0, 0 },
			  S,
			  GA_KILL,
			  GW_EOF,
			  INT64_MAX },
			{ "asked to kill",
			  { L, m, S, 0, 1, 0, 0, 0, 0 },
			  S,
			  GA_KILL,
			  GW_ASKED,
			  INT64_MAX },
			{ "asked to interrupt",
			  { L, m, S, 1, 0, 0, 0, 0, 0 },
			  S,
			  GA_INTERRUPT,
			  GW_ASKED,
			  S + L / 2 },
			{ "asked to interrupt after the lease SIGINT: once only",
			  { L, m, S, 1, 0, 0, 1, 0, 0 },
			  S + L / 2,
			  GA_NONE,
			  GW_NONE,
			  S + L - m },
			{ "no lease (nested, --unsafe-keep-running): no deadline",
			  { 0, 0, S, 0, 0, 0, 0, 0, 0 },
			  S + 100 * L,
			  GA_NONE,
			  GW_NONE,
			  INT64_MAX },
			{ "no lease: EOF still kills",
			  { 0, 0, S, 0, 0, 1, 0, 0, 0 },
			  S,
			  GA_KILL,
			  GW_EOF,
			  INT64_MAX },
			{ "killing: nothing more to decide",
			  { L, m, S, 1, 1, 1, 0, 1, 0 },
			  S + L,
			  GA_NONE,
			  GW_NONE,
			  INT64_MAX },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			int64_t next;
			enum guardian_why why;
			enum guardian_action a =
			        guardian_plan(&cases[i].s, cases[i].now, &next, &why);
			ok(a == cases[i].want && why == cases[i].why && next == cases[i].next,
			   "plan: %s (action %d why %d next %lld)", cases[i].name, (int)a, (int)why,
			   (long long)(next == INT64_MAX ? -1 : next - cases[i].s.renew_send_ns));
		}
	}

	/* the guardian and tflock's loop count the same lease deadlines (plan.h) */
	{
		static const int64_t lm[][2] = {
			{ 1000, 200 }, { 1001, 100 }, { 120000, 12000 }, { 20, 7 }
		};
		int same = 1;
		for (size_t i = 0; i < sizeof(lm) / sizeof(lm[0]); i++) {
			const int64_t S = 5000 * MS, L = lm[i][0] * MS, m = lm[i][1] * MS;
			struct plan_lease d = plan_lease(S, L, m);
			struct guardian_state gs = { L, m, S, 0, 0, 0, 0, 0, 0 };
			int64_t next;
			enum guardian_why why;
			same &= guardian_plan(&gs, S, &next, &why) == GA_NONE && next == d.int_at;
			same &= guardian_plan(&gs, d.int_at - 1, &next, &why) == GA_NONE;
			same &= guardian_plan(&gs, d.int_at, &next, &why) == GA_INTERRUPT;
			gs.int_sent = 1;
			same &= guardian_plan(&gs, d.int_at, &next, &why) == GA_NONE &&
			        next == d.kill_at;
			same &= guardian_plan(&gs, d.kill_at - 1, &next, &why) == GA_NONE;
			same &= guardian_plan(&gs, d.kill_at, &next, &why) == GA_KILL;
		}
		ok(same, "the guardian's SIGINT and kill fall on plan_lease()'s deadlines");
	}

	memset(&o, 0, sizeof(o));
	o.own_group = 1;
	o.orig_mask = &none;

	/* exit status passes through; no descendants: gone at once */
	{
		char *a[] = { (char[]){ "/bin/sh" }, (char[]){ "-c" }, (char[]){ "exit 7" }, NULL };
		err_clear(&err);
		is_int(0, guardian_spawn(&g, a, environ, &o, &err), "spawn sh exit 7");
		ok(g.pid > 0 && g.cmd_pid > 0 && g.cmd_pid != g.pid, "guardian and command pids");
		is_int(g.cmd_pid, g.cmd_pgid, "the command leads its own group");
		finish(&g);
		ok(g.exited, "exit reported");
		is_int(7, child_exit_code(g.status), "status 7");
		ok(g.gone, "gone reported");
	}

	/* missing command */
	{
		char *a[] = { (char[]){ "tflock-no-such-command-xyz" }, NULL };
		err_clear(&err);
		is_int(ERR_NOT_FOUND, guardian_spawn(&g, a, environ, &o, &err),
		       "missing command: ERR_NOT_FOUND");
		ok(strstr(err.msg, "tflock-no-such-command-xyz") != NULL, "message: %s", err.msg);
		is_int(0, g.pid, "the guardian was reaped");
		is_int(-1, g.ctl_fd, "its pipes closed");
	}

	/* EOF (tflock died): the whole tree goes, setsid and double-fork included */
	{
		char *a[] = { (char[]){ "/bin/sh" }, (char[]){ "-c" }, script, NULL };
		pid_t p1, p2, p3;
		snprintf(script, sizeof(script),
		         "sleep 600 & echo $! >%s/p1; setsid sleep 600 & echo $! >%s/p2; "
		         "(setsid sh -c 'sleep 600 & echo $! >%s/p3' &); exec sleep 600",
		         dir, dir, dir);
		err_clear(&err);
		is_int(0, guardian_spawn(&g, a, environ, &o, &err), "spawn a tree");
		snprintf(path, sizeof(path), "%s/p1", dir);
		p1 = read_pid(path);
		snprintf(path, sizeof(path), "%s/p2", dir);
		p2 = read_pid(path);
		snprintf(path, sizeof(path), "%s/p3", dir);
		p3 = read_pid(path);
		ok(p1 && p2 && p3 && alive(p1) && alive(p2) && alive(p3), "tree up (%d %d %d)",
		   (int)p1, (int)p2, (int)p3);
		close(g.ctl_fd); /* as if tflock died */
		g.ctl_fd = -1;
		finish(&g);
		ok(g.gone, "EOF: the guardian reported the tree gone");
		ok(!alive(p1) && !alive(p2) && !alive(p3), "grandchild, setsid and daemon gone");
		is_int(128 + SIGKILL, child_exit_code(g.status), "the command was killed");
	}

	/* signals are forwarded to the group; kill ends the tree */
	{
		char *a[] = { (char[]){ "/bin/sh" }, (char[]){ "-c" }, script, NULL };
		pid_t p1;
		snprintf(script, sizeof(script),
		         "trap 'echo int >%s/int' INT; setsid sleep 600 & echo $! >%s/q1; "
		         "while :; do sleep 0.01; done",
		         dir, dir);
		err_clear(&err);
		is_int(0, guardian_spawn(&g, a, environ, &o, &err), "spawn a trapping shell");
		snprintf(path, sizeof(path), "%s/q1", dir);
		p1 = read_pid(path);
		guardian_signal(&g, SIGINT);
		snprintf(path, sizeof(path), "%s/int", dir);
		for (int i = 0; i < 500 && access(path, F_OK); i++)
			usleep(10000);
		ok(access(path, F_OK) == 0, "SIGINT forwarded to the command");
		guardian_kill(&g);
		finish(&g);
		ok(g.gone && p1 && !alive(p1), "kill: the setsid child is gone too");
	}

	/* the lease: no renewal, SIGINT at L/2 then kill at L - m, on its own */
	{
		char *a[] = { (char[]){ "/bin/sh" }, (char[]){ "-c" }, script, NULL };
		snprintf(script, sizeof(script), "trap '' INT; setsid sleep 600 & exec sleep 600");
		o.lease_ms = 300;
		o.margin_ms = 100;
		o.renew_send_ns = clock_boot_ns();
		err_clear(&err);
		is_int(0, guardian_spawn(&g, a, environ, &o, &err), "spawn under a 300 ms lease");
		finish(&g);
		ok(g.lease_int, "the guardian interrupted for the lease");
		ok(g.lease_kill, "then killed for the lease");
		ok(g.gone, "and the tree is gone");
		o.lease_ms = 0;
	}

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		diag("cannot remove %s", dir);
	return 0;
}
