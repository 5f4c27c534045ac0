#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "liveness.h"
#include "reentry.h"
#include "tap/basic.h"

#define IDENT "https://s3.example|bucket|env/tf.tfstate"

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		bail("fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static int check_with(const char *dir, const char *token, const char *ident, char *why, size_t n,
                      struct reentry *out)
{
	int ret;
	if (dir)
		setenv("TFLOCK_HELD_DIR", dir, 1);
	else
		unsetenv("TFLOCK_HELD_DIR");
	if (token)
		setenv("TFLOCK_HELD_TOKEN", token, 1);
	else
		unsetenv("TFLOCK_HELD_TOKEN");
	reentry_init(out);
	why[0] = '\0';
	ret = reentry_check(out, ident, why, n);
	return ret;
}

static int reentry_free_null(void *unused)
{
	reentry_free(NULL);
	return 0;
}

int main(void)
{
	char tmpl[] = "/tmp/tflock-reentry-XXXXXX";
	char *base, stale[4096], path[4200], why[256], wrong[65];
	struct reentry outer, nested;
	struct tf_error err;
	char *env[4] = { NULL, NULL, NULL, NULL };
	int n;

	plan_lazy();
	base = mkdtemp(tmpl);
	if (!base)
		bail("mkdtemp: %s", strerror(errno));
	unsetenv("XDG_RUNTIME_DIR");
	setenv("TMPDIR", base, 1);

	/* a stale run directory of a dead tflock is swept on create */
	snprintf(stale, sizeof(stale), "%s/tflock-run.stale1", base);
	mkdir(stale, 0700);
	snprintf(path, sizeof(path), "%s/identity", stale);
	write_text(path, "pid 0\nstart 1\nboot none\nid x\nlock y\n");
	snprintf(path, sizeof(path), "%s/token", stale);
	write_text(path, "abc");

	/* on this boot a run directory is swept only when its tflock is provably
	 * gone: dead pid in our PID namespace; another namespace's, or one with no
	 * namespace (an older tflock's), is kept */
	{
		char *bid = liveness_read_boot_id(), *ns = liveness_read_pidns(), text[512];
		const char *dirs[] = { "tflock-run.deadhere", "tflock-run.otherns",
			               "tflock-run.oldformat" };
		pid_t dead = fork();
		int st;
		if (dead < 0)
			bail("fork: %s", strerror(errno));
		if (dead == 0)
			_exit(0);
		waitpid(dead, &st, 0);
		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/%s", base, dirs[i]);
			mkdir(path, 0700);
			snprintf(path, sizeof(path), "%s/%s/identity", base, dirs[i]);
			if (i == 2)
				snprintf(text, sizeof(text),
				         "pid %d\nstart 1\nboot %s\nid x\nlock y\n", (int)dead,
				         bid);
			else
				snprintf(text, sizeof(text),
				         "pid %d\nstart 1\nboot %s\npidns %s\nid x\nlock y\n",
				         (int)dead, bid, i == 0 ? ns : "pid:[1]");
			write_text(path, text);
		}
		free(bid);
		free(ns);
	}

	reentry_init(&outer);
	err_clear(&err);
	if (!is_int(0, reentry_create(&outer, IDENT, "lock-id-1", &err), "create run directory"))
		bail("reentry_create: %s", err.msg);
	ok(access(stale, F_OK) != 0, "stale run directory swept");
	snprintf(path, sizeof(path), "%s/tflock-run.deadhere", base);
	ok(access(path, F_OK) != 0, "run directory of a dead pid in our namespace swept");
	snprintf(path, sizeof(path), "%s/tflock-run.otherns", base);
	ok(access(path, F_OK) == 0, "run directory from another PID namespace kept");
	snprintf(path, sizeof(path), "%s/tflock-run.oldformat", base);
	ok(access(path, F_OK) == 0, "run directory without a PID namespace kept");
	{
		char idt[2048] = "", *ns = liveness_read_pidns(), want[128];
		FILE *f;
		snprintf(path, sizeof(path), "%s/identity", outer.dir);
		f = fopen(path, "r");
		if (f) {
			size_t got = fread(idt, 1, sizeof(idt) - 1, f);
			idt[got] = '\0';
			fclose(f);
		}
		snprintf(want, sizeof(want), "\npidns %s\n", ns);
		ok(*ns && strstr(idt, want) != NULL, "identity records our PID namespace (%s)", ns);
		free(ns);
	}
	ok(!strncmp(outer.dir, base, strlen(base)), "directory under TMPDIR: %s", outer.dir);
	{
		struct stat st;
		ok(stat(outer.dir, &st) == 0 && (st.st_mode & 0777) == 0700, "directory is 0700");
	}
	is_int(64, (long long)strlen(outer.token), "64 hex digit token");
	ok(strspn(outer.token, "0123456789abcdef") == 64, "token is hex");
	is_int(1, outer.owner, "creator owns it");
	is_string(IDENT, outer.ident, "ident kept");
	is_string("held", reentry_outer_state(&outer), "initial state held");

	n = reentry_env(&outer, env, 3);
	is_int(2, n, "two environment entries");
	{
		char want[4200];
		snprintf(want, sizeof(want), "TFLOCK_HELD_DIR=%s", outer.dir);
		is_string(want, env[0], "TFLOCK_HELD_DIR entry");
		snprintf(want, sizeof(want), "TFLOCK_HELD_TOKEN=%s", outer.token);
		is_string(want, env[1], "TFLOCK_HELD_TOKEN entry");
	}
	free(env[0]);
	free(env[1]);
	is_int(0, reentry_env(&outer, env, 1), "no room: nothing written");

	/* valid */
	is_int(1, check_with(outer.dir, outer.token, IDENT, why, sizeof(why), &nested),
	       "genuine variables accepted");
	is_string(outer.dir, nested.dir, "nested dir");
	is_string(IDENT, nested.ident, "nested ident");
	is_string(outer.token, nested.token, "nested token");
	is_int(0, nested.owner, "nested does not own it");
	is_string("held", reentry_outer_state(&nested), "nested sees held");
	is_int(0, reentry_lock_siblings(&nested, 0, NULL), "sibling lock taken");
	reentry_set_state(&nested, "lost");
	is_string("held", reentry_outer_state(&nested), "a non-owner cannot set the state");
	reentry_set_state(&outer, "lost");
	is_string("lost", reentry_outer_state(&nested), "nested follows lost");
	ok(reentry_outer_stamp(&nested) > 0, "state is stamped");
	reentry_set_state(&outer, "held");
	is_string("held", reentry_outer_state(&nested), "nested follows held again");
	reentry_free(&nested);
	ok(access(outer.dir, F_OK) == 0, "freeing the nested record keeps the directory");

	is_int(1, check_with(outer.dir, outer.token, NULL, why, sizeof(why), &nested),
	       "NULL ident re-enters any lock");
	is_string(IDENT, nested.ident, "and tells which");
	reentry_free(&nested);

	/* rejections */
	is_int(0, check_with(NULL, NULL, IDENT, why, sizeof(why), &nested), "no variables");
	ok(strstr(why, "TFLOCK_HELD_DIR") != NULL, "why: %s", why);
	is_int(0, check_with(outer.dir, "", IDENT, why, sizeof(why), &nested), "empty token");
	memcpy(wrong, outer.token, sizeof(wrong));
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	is_int(0, check_with(outer.dir, wrong, IDENT, why, sizeof(why), &nested), "wrong token");
	ok(strstr(why, "token") != NULL, "why: %s", why);
	ok(nested.dir == NULL, "nothing filled on rejection");
	is_int(0, check_with(outer.dir, "abc", IDENT, why, sizeof(why), &nested), "short token");
	ok(strstr(why, "token") != NULL, "why: %s", why);
	is_int(0, check_with(outer.dir, outer.token, "other|bucket|key", why, sizeof(why), &nested),
	       "wrong ident");
	ok(strstr(why, "another lock") != NULL, "why: %s", why);
	snprintf(path, sizeof(path), "%s/nope", base);
	is_int(0, check_with(path, outer.token, IDENT, why, sizeof(why), &nested), "missing dir");
	ok(strstr(why, "does not exist") != NULL, "why: %s", why);
	chmod(outer.dir, 0755);
	is_int(0, check_with(outer.dir, outer.token, IDENT, why, sizeof(why), &nested),
	       "non-private directory");
	ok(strstr(why, "not private") != NULL, "why: %s", why);
	chmod(outer.dir, 0700);
	is_int(1, check_with(outer.dir, outer.token, IDENT, why, sizeof(why), &nested),
	       "accepted again once private");
	reentry_free(&nested);

	/* a forged identity naming a dead pid */
	{
		char fdir[4096], buf[512];
		snprintf(fdir, sizeof(fdir), "%s/forged", base);
		mkdir(fdir, 0700);
		snprintf(path, sizeof(path), "%s/token", fdir);
		write_text(path, "tok");
		snprintf(path, sizeof(path), "%s/identity", fdir);
		snprintf(buf, sizeof(buf), "pid 0\nstart 1\nboot x\nid y\nlock %s\n", IDENT);
		write_text(path, buf);
		is_int(0, check_with(fdir, "tok", IDENT, why, sizeof(why), &nested), "dead outer");
		ok(strstr(why, "gone") != NULL, "why: %s", why);
		/* our own pid on another boot */
		snprintf(buf, sizeof(buf), "pid %d\nstart 1\nboot x\nid y\nlock %s\n",
		         (int)getpid(), IDENT);
		write_text(path, buf);
		is_int(0, check_with(fdir, "tok", IDENT, why, sizeof(why), &nested), "other boot");
		ok(strstr(why, "boot") != NULL, "why: %s", why);
		{
			/* right boot, our live pid, but another start time: pid reuse */
			char bid[64] = "";
			FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
			if (f) {
				if (!fgets(bid, sizeof(bid), f))
					bid[0] = '\0';
				fclose(f);
			}
			bid[strcspn(bid, "\n")] = '\0';
			char *ns = liveness_read_pidns();
			snprintf(buf, sizeof(buf),
			         "pid %d\nstart 1\nboot %s\npidns %s\nid y\nlock %s\n",
			         (int)getpid(), bid, ns, IDENT);
			write_text(path, buf);
			is_int(0, check_with(fdir, "tok", IDENT, why, sizeof(why), &nested),
			       "pid reuse");
			ok(strstr(why, "no longer") != NULL, "why: %s", why);
			/* our live pid and boot, but no namespace (an older outer tflock) or
			 * another one: that pid may be any process, so not trusted */
			snprintf(buf, sizeof(buf), "pid %d\nstart 1\nboot %s\nid y\nlock %s\n",
			         (int)getpid(), bid, IDENT);
			write_text(path, buf);
			is_int(0, check_with(fdir, "tok", IDENT, why, sizeof(why), &nested),
			       "identity without a PID namespace");
			ok(strstr(why, "no PID namespace") != NULL, "why: %s", why);
			snprintf(buf, sizeof(buf),
			         "pid %d\nstart 1\nboot %s\npidns pid:[1]\nid y\nlock %s\n",
			         (int)getpid(), bid, IDENT);
			write_text(path, buf);
			is_int(0, check_with(fdir, "tok", IDENT, why, sizeof(why), &nested),
			       "outer in another PID namespace");
			ok(strstr(why, "another PID namespace") != NULL, "why: %s", why);
			free(ns);
		}
		unlink(path);
		is_int(0, check_with(fdir, "tok", IDENT, why, sizeof(why), &nested), "no identity");
		ok(strstr(why, "identity") != NULL, "why: %s", why);
		snprintf(path, sizeof(path), "%s/token", fdir);
		unlink(path);
		rmdir(fdir);
	}

	/* free removes the directory */
	{
		char *dir = strdup(outer.dir);
		struct reentry gone;
		reentry_free(&outer);
		ok(access(dir, F_OK) != 0, "owner's free removes the directory");
		ok(outer.dir == NULL && outer.flock_fd == -1, "record reset");
		gone.dir = dir;
		is_string("gone", reentry_outer_state(&gone), "state of a removed directory: gone");
		free(dir);
	}
	ok_returns(reentry_free_null, NULL, "reentry_free(NULL) returns");

	for (int i = 0; i < 2; i++) {
		const char *kept = i == 0 ? "tflock-run.otherns" : "tflock-run.oldformat";
		snprintf(path, sizeof(path), "%s/%s/identity", base, kept);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", base, kept);
		rmdir(path);
	}
	unsetenv("TFLOCK_HELD_DIR");
	unsetenv("TFLOCK_HELD_TOKEN");
	is_int(0, rmdir(base), "temp dir empty and removed");
	return 0;
}
