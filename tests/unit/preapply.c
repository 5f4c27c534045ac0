/*
 * Unit tests for wrapper/preapply.c: the pre-apply policy and the record of
 * the last applied commit.
 *
 * The policy is driven with real git repositories made in the scratch
 * directory with the git CLI (a work tree with a linear history and a side
 * branch, a bare "origin" and a shallow clone of it): mode off / auto / on /
 * strict, a dirty tree, a commit CI does not expect, a commit older than the
 * one applied last (in the clone, fetched from origin, or told by a GitHub
 * compare API stand-in), another line of history, and the --allow-* flags.
 * The record (<state key>.applied.tflock) is served and received by
 * tests/helpers/stub-http standing in for the store: what preapply_record()
 * PUTs is checked field by field and fed back to preapply_check(). The real
 * gateway is tests/integration/git-check.sh's.
 */
#include "preapply.h"
#include "fixture.h"
#include "lock.h"
#include "s3.h"
#include "tap/basic.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libgit2 before 1.6 leaks a pcre2 match-data block per regex match (see
 * tests/unit/gitinfo.c): suppressed by module, everything else is checked. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void)
{
	return "leak:libpcre2-8.so\n";
}

#define STATE_KEY "env/terraform.tfstate"
#define RECORD_PATH "/b/env/terraform.tfstate.applied.tflock"
#define UNKNOWN_SHA "0123456789abcdef0123456789abcdef01234567"

static char base[512];

/* Run a shell command in the scratch directory; bail if it fails. */
static void sh(const char *fmt, ...)
{
	char cmd[4096], full[4700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s; } >/dev/null 2>&1", base, cmd);
	if (system(full) != 0)
		bail("command failed: %s", cmd);
}

/* The commit a revision names in repository dir (under the scratch dir). */
static void rev(const char *dir, const char *name, char out[41])
{
	char cmd[1024];
	FILE *p;
	snprintf(cmd, sizeof(cmd), "git -C '%s/%s' rev-parse --verify '%s^{commit}'", base, dir,
	         name);
	p = popen(cmd, "r");
	if (!p || !fgets(out, 41, p) || strlen(out) != 40)
		bail("git rev-parse %s failed", name);
	pclose(p);
}

/* A directory under the scratch dir (one of 4 rotating buffers). */
static const char *at(const char *dir)
{
	static char bufs[4][600];
	static int i;
	char *p = bufs[i++ % 4];
	snprintf(p, 600, "%s/%s", base, dir);
	return p;
}

/* ------------------------------------------------------------------ store */

/* A store stand-in answering routes; s3 and lock set up against it. */
struct store {
	struct server srv;
	struct s3_client *s3;
	struct lock *l;
	struct preapply_store ps;
	int up;
};

static void store_start(struct store *st, const char *name, const char *routes)
{
	struct s3_config sc;
	struct lock_opts o;
	struct tf_error err;

	stub_start(&st->srv, name, routes);
	memset(&sc, 0, sizeof(sc));
	sc.endpoint = st->srv.url;
	sc.bucket = "b";
	sc.path_style = 1;
	err_clear(&err);
	if (s3_client_new(&sc, &st->s3, &err))
		bail("s3_client_new: %s", err.msg);
	memset(&o, 0, sizeof(o));
	o.lease_ms = 120000;
	o.lease_s = 120;
	o.time_scale = 1;
	o.timeout_ms = -1;
	o.operation = "apply";
	st->l = lock_new(st->s3, STATE_KEY, &o, &err);
	if (!st->l)
		bail("lock_new: %s", err.msg);
	st->ps.s3 = st->s3;
	st->ps.state_key = lock_state_key(st->l);
	st->ps.lock_id = lock_id(st->l);
	st->ps.who = lock_who(st->l);
	st->up = 1;
}

/* Stop the stand-in; its request log (malloc'd). */
static char *store_stop(struct store *st)
{
	char *log = server_stop(&st->srv, NULL);
	lock_free(st->l);
	s3_client_free(st->s3);
	st->up = 0;
	return log;
}

/* Routes answering the record GET with body file FILE (or STATUS - when FILE is NULL). */
static const char *record_routes(const char *status, const char *file)
{
	static char r[1024];
	snprintf(r, sizeof(r), "GET %s %s %s\nPUT %s 200 -\n  ETag: \"e1\"\n", RECORD_PATH, status,
	         file ? file : "-", RECORD_PATH);
	return r;
}

/* A record body naming commit (as preapply_record writes it). */
static const char *record_file(const char *name, const char *commit)
{
	char body[512];
	snprintf(body, sizeof(body),
	         "{\"commit\":\"%s\",\"branch\":\"main\",\"remote\":\"\",\"lock_id\":\"x\","
	         "\"who\":\"alice@ci\",\"at\":\"2026-12-01T10:00:00Z\"}",
	         commit);
	return wfile(name, body);
}

/* ------------------------------------------------------------------ check */

struct outcome {
	int ret, active;
	struct tf_error err;
	char *stderr_text; /* what the check logged (warnings), malloc'd */
};

static void outcome_free(struct outcome *oc)
{
	free(oc->stderr_text);
	oc->stderr_text = NULL;
}

/* preapply_check() with o against the store st, its stderr captured. */
static void check(struct store *st, const struct preapply_opts *o, struct outcome *oc)
{
	struct gitinfo gi;
	char *log = path_in("check.stderr");
	int saved;

	memset(&gi, 0, sizeof(gi));
	err_clear(&oc->err);
	oc->active = -1;
	saved = fd_to(2, log);
	oc->ret = preapply_check(&st->ps, o, &gi, &oc->active, &oc->err);
	fd_restore(2, saved);
	oc->stderr_text = slurp(log, NULL);
	gitinfo_free(&gi);
}

/* Options for an apply in repository dir, mode m. */
static struct preapply_opts opts(enum preapply_mode m, const char *dir)
{
	struct preapply_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = m;
	o.is_apply = 1;
	o.dir = dir ? at(dir) : NULL;
	o.fetch_budget_ms = 20000;
	return o;
}

static void clean_env(void)
{
	static const char *const vars[] = {
		"GITHUB_SHA",     "CI_COMMIT_SHA", "GITHUB_ACTIONS",    "GITLAB_CI",
		"GITHUB_API_URL", "GITHUB_TOKEN",  "GH_TOKEN",          "TFLOCK_GITHUB_TOKEN",
		"GITLAB_TOKEN",   "CI_API_V4_URL", "GITHUB_REPOSITORY", "CI_PROJECT_ID",
		"GIT_DIR",        "GIT_WORK_TREE", "GIT_INDEX_FILE",
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* ------------------------------------------------------------ the history */

static char c1[41], c2[41], c3[41], side[41];

/*
 * repo: main c1 -> c2 -> c3, side branched from c1 (one commit), HEAD main;
 * origin.git: a bare copy with a branch "old" at c1; shallow: a depth-1 clone
 * of origin at "old" (c1), so c3 is not in its history.
 */
static void make_repos(void)
{
	sh("mkdir repo plain && cd repo && git init -q -b main . && echo 1 >main.tf && "
	   "git add main.tf && git commit -q -m one");
	rev("repo", "HEAD", c1);
	sh("cd repo && git checkout -q -b side && echo s >side.tf && git add side.tf && "
	   "git commit -q -m side && git checkout -q main");
	rev("repo", "side", side);
	sh("cd repo && echo 2 >main.tf && git commit -q -am two");
	rev("repo", "HEAD", c2);
	sh("cd repo && echo 3 >main.tf && git commit -q -am three");
	rev("repo", "HEAD", c3);
	sh("git clone -q --bare repo origin.git && git -C origin.git branch old %s", c1);
	sh("git clone -q --depth 1 --branch old 'file://%s/origin.git' shallow", base);
}

/* -------------------------------------------------------------- the tests */

static void test_modes(void)
{
	struct store st;
	struct preapply_opts o;
	struct outcome oc;
	char *log;

	store_start(&st, "modes", record_routes("404", NULL));

	o = opts(GIT_CHECK_OFF, "plain");
	check(&st, &o, &oc);
	ok(oc.ret == 0 && oc.active == 0, "off: nothing checked, not even the repository");
	outcome_free(&oc);

	o = opts(GIT_CHECK_AUTO, "repo");
	o.is_apply = 0;
	check(&st, &o, &oc);
	ok(oc.ret == 0 && oc.active == 0, "auto, not an apply: not active");
	outcome_free(&oc);

	o = opts(GIT_CHECK_AUTO, "plain");
	check(&st, &o, &oc);
	ok(oc.ret == 0 && oc.active == 0, "auto, outside a repository: skipped");
	is_string("", oc.err.msg, "  and no error left behind");
	outcome_free(&oc);

	o = opts(GIT_CHECK_ON, "plain");
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "on, outside a repository: refused");
	contains(oc.err.msg, "--git-check on: ", "  naming --git-check on");
	contains(oc.err.msg, "is not in a git repository", "  and why");
	outcome_free(&oc);

	o.origin = "TFLOCK_GIT_CHECK=on";
	check(&st, &o, &oc);
	contains(oc.err.msg, "TFLOCK_GIT_CHECK=on: ", "  naming what asked for the check");
	outcome_free(&oc);

	o = opts(GIT_CHECK_STRICT, "plain");
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "strict, outside a repository: refused");
	outcome_free(&oc);

	o = opts(GIT_CHECK_ON, "repo");
	o.is_apply = 0;
	check(&st, &o, &oc);
	ok(oc.ret == 0 && oc.active == 1,
	   "on, not an apply: checked, and it passes (clean, no record)");
	outcome_free(&oc);

	o = opts(GIT_CHECK_AUTO, "repo");
	check(&st, &o, &oc);
	ok(oc.ret == 0 && oc.active == 1, "auto, an apply in a clean repository: checked, passes");
	outcome_free(&oc);

	log = store_stop(&st);
	is_int(2, count(log, "=== end"), "the store was asked twice (the two active checks)");
	is_int(2, count(log, "GET " RECORD_PATH), "  both for the record of the last apply");
	free(log);
}

static void test_dirty(void)
{
	struct store st;
	struct preapply_opts o;
	struct outcome oc;
	char *log;

	store_start(&st, "dirty", record_routes("404", NULL));
	sh("echo changed >repo/main.tf && echo new >repo/extra.tf");

	o = opts(GIT_CHECK_ON, "repo");
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "a dirty tree is refused");
	ok(oc.active == 1, "  the check was active");
	contains(oc.err.msg, "is dirty (2 paths: ", "  counting the paths");
	contains(oc.err.msg, "main.tf", "  naming a modified file");
	contains(oc.err.msg, "extra.tf", "  and an untracked one");
	contains(oc.err.msg, "--allow-dirty", "  and the override");
	outcome_free(&oc);

	o.allow_dirty = 1;
	check(&st, &o, &oc);
	is_int(0, oc.ret, "--allow-dirty: goes on");
	outcome_free(&oc);

	/* terraform's own files are not dirt, but are mentioned with real dirt */
	sh("git -C repo checkout -q -- main.tf && rm repo/extra.tf && mkdir -p repo/.terraform && "
	   "echo x >repo/.terraform/terraform.tfstate");
	o.allow_dirty = 0;
	check(&st, &o, &oc);
	is_int(0, oc.ret, "only terraform's own files changed: clean");
	outcome_free(&oc);
	sh("echo changed >repo/main.tf");
	check(&st, &o, &oc);
	contains(oc.err.msg, "terraform's own files are not counted",
	         "with real dirt: the message says terraform's files were not counted");
	contains(oc.err.msg, "(1 path: main.tf;", "  and counts one path");
	outcome_free(&oc);
	sh("git -C repo checkout -q -- main.tf && rm -rf repo/.terraform");

	log = store_stop(&st);
	is_int(2, count(log, "GET " RECORD_PATH),
	       "a refused tree never reads the record (read only by the two that went on)");
	free(log);
}

static void test_expected(void)
{
	struct store st;
	struct preapply_opts o;
	struct outcome oc;
	char short7[8];

	store_start(&st, "expected", record_routes("404", NULL));
	o = opts(GIT_CHECK_ON, "repo");

	o.expect_commit = c2;
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "HEAD is not the commit CI expects: refused");
	contains(oc.err.msg, "CI expects", "  saying so");
	outcome_free(&oc);

	o.expect_commit = c3;
	check(&st, &o, &oc);
	is_int(0, oc.ret, "HEAD is the expected commit: goes on");
	outcome_free(&oc);

	memcpy(short7, c3, 7);
	short7[7] = '\0';
	o.expect_commit = short7;
	check(&st, &o, &oc);
	is_int(0, oc.ret, "an abbreviated expected commit (7 digits) that HEAD starts with");
	outcome_free(&oc);

	short7[6] = '\0';
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "6 digits are too few to tell: refused");
	outcome_free(&oc);

	o.expect_commit = NULL;
	setenv("GITHUB_SHA", c2, 1);
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "no --expect-commit: GITHUB_SHA is expected");
	outcome_free(&oc);
	unsetenv("GITHUB_SHA");
	setenv("CI_COMMIT_SHA", c2, 1);
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "  or CI_COMMIT_SHA");
	outcome_free(&oc);
	setenv("GITHUB_SHA", c3, 1);
	check(&st, &o, &oc);
	is_int(0, oc.ret, "  GITHUB_SHA first");
	outcome_free(&oc);
	o.expect_commit = c2;
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "  and the option before both");
	outcome_free(&oc);
	clean_env();

	free(store_stop(&st));
}

/* the record says last; HEAD of repo checked out at head */
static void older_case(const char *name, const char *head, const char *last, int allow_older,
                       int want, const char *want_text, const char *desc)
{
	struct store st;
	struct preapply_opts o;
	struct outcome oc;
	char fname[64];

	snprintf(fname, sizeof(fname), "%s.json", name);
	store_start(&st, name, record_routes("200", record_file(fname, last)));
	sh("git -C repo checkout -q %s", head);
	o = opts(GIT_CHECK_ON, "repo");
	o.allow_older = allow_older;
	check(&st, &o, &oc);
	is_int(want, oc.ret, "%s", desc);
	if (want_text) {
		char says[160];
		snprintf(says, sizeof(says), "  %s: \"%s\"",
		         *oc.err.msg ? "the refusal" : "the warning", want_text);
		contains(*oc.err.msg ? oc.err.msg : oc.stderr_text, want_text, says);
	}
	outcome_free(&oc);
	free(store_stop(&st));
	sh("git -C repo checkout -q main");
}

static void test_older(void)
{
	older_case("same", c3, c3, 0, 0, NULL, "HEAD is the commit applied last: goes on");
	older_case("newer", c3, c1, 0, 0, NULL, "HEAD descends from the commit applied last");
	older_case("older", c1, c3, 0, PREAPPLY_REFUSED, "is older than",
	           "HEAD is an ancestor of the commit applied last: refused");
	older_case("older-who", c1, c3, 0, PREAPPLY_REFUSED, "(alice@ci at 2026-12-01T10:00:00Z)",
	           "the refusal names who applied the newer commit, and when");
	older_case("older-allowed", c1, c3, 1, 0, NULL, "--allow-older: goes on");
	older_case("diverged", side, c3, 0, 0, "on another line of history",
	           "another line of history: a warning, and it goes on");
}

static void test_record_answers(void)
{
	struct store st;
	struct preapply_opts o = opts(GIT_CHECK_ON, "repo");
	struct outcome oc;

	store_start(&st, "denied", record_routes("403", NULL));
	check(&st, &o, &oc);
	ok(oc.ret < 0, "the record cannot be read (403): an error, not a pass (%d)", oc.ret);
	ok(*oc.err.msg != '\0', "  with a message: %s", oc.err.msg);
	outcome_free(&oc);
	free(store_stop(&st));

	store_start(&st, "garbage", record_routes("200", wfile("garbage.json", "{\"commit\":")));
	sh("git -C repo checkout -q %s", c1);
	check(&st, &o, &oc);
	is_int(0, oc.ret, "a record that is not JSON names no commit: goes on");
	outcome_free(&oc);
	free(store_stop(&st));

	store_start(&st, "short", record_routes("200", record_file("short.json", "abc1234")));
	check(&st, &o, &oc);
	is_int(0, oc.ret, "a record whose commit is not 40 digits: ignored");
	outcome_free(&oc);
	free(store_stop(&st));
	sh("git -C repo checkout -q main");
}

static void test_unknown(void)
{
	struct store st;
	struct preapply_opts o;
	struct outcome oc;
	char *log;

	/* origin cannot give it either: unknown */
	store_start(&st, "unknown", record_routes("200", record_file("unknown.json", UNKNOWN_SHA)));
	o = opts(GIT_CHECK_ON, "shallow");
	check(&st, &o, &oc);
	is_int(0, oc.ret, "on: a commit no history knows is a warning, and it goes on");
	contains(oc.stderr_text, "cannot tell whether commit", "  the warning");
	contains(oc.stderr_text, "git fetch from origin failed", "  after fetching from origin");
	outcome_free(&oc);

	o = opts(GIT_CHECK_STRICT, "shallow");
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "strict: refused");
	contains(oc.err.msg, "--git-check strict refuses", "  saying strict refuses");
	outcome_free(&oc);

	o.allow_older = 1;
	check(&st, &o, &oc);
	is_int(0, oc.ret, "strict with --allow-older: goes on");
	outcome_free(&oc);
	log = store_stop(&st);
	is_int(3, count(log, "GET " RECORD_PATH), "the record was read each time");
	free(log);

	/* the shallow clone at c1 lacks c3: fetched from origin, then provably older */
	store_start(&st, "fetched", record_routes("200", record_file("fetched.json", c3)));
	o = opts(GIT_CHECK_ON, "shallow");
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "a shallow clone: the history is fetched, HEAD is older");
	contains(oc.err.msg, "(history fetched from origin)", "  saying how it knows");
	outcome_free(&oc);
	free(store_stop(&st));
}

/* GitHub's compare API (a stand-in on loopback) decides what the clone cannot */
static void test_api(void)
{
	struct store st;
	struct server api;
	struct preapply_opts o = opts(GIT_CHECK_ON, "plainclone");
	struct outcome oc;
	char routes[512], head[41], *log;

	/* a clone without an origin to fetch from */
	sh("git clone -q --depth 1 --branch old 'file://%s/origin.git' plainclone && "
	   "git -C plainclone remote remove origin",
	   base);
	rev("plainclone", "HEAD", head);
	snprintf(routes, sizeof(routes), "GET /repos/o/r/compare/%s...%s 200 %s\n", c3, head,
	         wfile("behind.json", "{\"status\":\"behind\"}"));
	stub_start(&api, "api", routes);
	setenv("GITHUB_ACTIONS", "true", 1);
	setenv("GITHUB_API_URL", api.url, 1);
	setenv("GITHUB_REPOSITORY", "o/r", 1);
	setenv("GITHUB_TOKEN", "t0ken", 1);

	store_start(&st, "api-store", record_routes("200", record_file("api.json", c3)));
	check(&st, &o, &oc);
	is_int(PREAPPLY_REFUSED, oc.ret, "GitHub's compare API says HEAD is behind: refused");
	contains(oc.err.msg, "(GitHub's compare API)", "  saying who told");
	outcome_free(&oc);
	free(store_stop(&st));
	log = server_stop(&api, NULL);
	is_int(1, count(log, "GET /repos/o/r/compare/"), "the API was asked once");
	free(log);
	clean_env();
}

static void test_hook(void)
{
	struct gitinfo gi;
	struct tf_error err;
	char *hook;

	err_clear(&err);
	if (gitinfo_read(at("repo"), &gi, &err))
		bail("gitinfo_read: %s", err.msg);
	ok(preapply_hook(&gi) == NULL, "no pre-apply hook: NULL");
	sh("printf '#!/bin/sh\\n' >repo/.git/hooks/pre-apply");
	ok(preapply_hook(&gi) == NULL, "a hook that is not executable: NULL");
	sh("chmod +x repo/.git/hooks/pre-apply");
	hook = preapply_hook(&gi);
	if (ok(hook != NULL, "an executable hook is found"))
		is_string(at("repo/.git/hooks/pre-apply"), hook, "  its path");
	free(hook);
	sh("rm repo/.git/hooks/pre-apply && mkdir repo/.git/hooks/pre-apply");
	ok(preapply_hook(&gi) == NULL, "a directory named pre-apply: NULL");
	sh("rmdir repo/.git/hooks/pre-apply");
	gitinfo_free(&gi);
}

static void test_record(void)
{
	struct store st;
	struct gitinfo gi;
	struct tf_error err;
	struct preapply_opts o;
	struct outcome oc;
	char *log, *body, routes[1024];
	cJSON *j;

	err_clear(&err);
	if (gitinfo_read(at("repo"), &gi, &err))
		bail("gitinfo_read: %s", err.msg);
	store_start(&st, "record", record_routes("404", NULL));
	is_int(0, preapply_record(&st.ps, &gi, &err), "the applied commit is recorded");
	log = store_stop(&st);
	ok(count(log, "=== 1 PUT " RECORD_PATH) == 1, "  one PUT of <state key>.applied.tflock");
	contains(log, "\nContent-Type: application/json", "  as JSON");
	body = strstr(log, "\r\n\r\n") ? strstr(log, "\r\n\r\n") + 4 : NULL;
	if (!body && (body = strstr(log, "\n\n")))
		body += 2;
	j = body ? cJSON_Parse(body) : NULL;
	if (!ok(j != NULL, "  a JSON body"))
		diag("log: %s", log);
	is_string(gi.head, cJSON_GetStringValue(cJSON_GetObjectItem(j, "commit")),
	          "  commit: HEAD");
	is_string("main", cJSON_GetStringValue(cJSON_GetObjectItem(j, "branch")), "  branch");
	ok(cJSON_IsString(cJSON_GetObjectItem(j, "lock_id")) &&
	           cJSON_IsString(cJSON_GetObjectItem(j, "who")),
	   "  the lock's ID and who");
	ok(cJSON_GetStringValue(cJSON_GetObjectItem(j, "at")) &&
	           strlen(cJSON_GetStringValue(cJSON_GetObjectItem(j, "at"))) == 20,
	   "  when, to the second (RFC 3339, UTC)");
	/* what was written reads back: HEAD at c1 after recording c3 is older */
	if (body && j) {
		char *end = strstr(body, "\n=== end");
		if (end)
			*end = '\0';
		snprintf(routes, sizeof(routes), "%s",
		         record_routes("200", wfile("rec.json", body)));
		store_start(&st, "readback", routes);
		sh("git -C repo checkout -q %s", c1);
		o = opts(GIT_CHECK_ON, "repo");
		check(&st, &o, &oc);
		is_int(PREAPPLY_REFUSED, oc.ret,
		       "the record written reads back: an older HEAD is refused");
		outcome_free(&oc);
		free(store_stop(&st));
		sh("git -C repo checkout -q main");
	}
	cJSON_Delete(j);
	free(log);

	store_start(&st, "record-denied", "PUT " RECORD_PATH " 403 -\n");
	err_clear(&err);
	ok(preapply_record(&st.ps, &gi, &err) < 0, "a refused PUT is an error: %s", err.msg);
	free(store_stop(&st));
	gitinfo_free(&gi);
}

int main(void)
{
	plan_lazy();
	fixture_init("preapply");
	snprintf(base, sizeof(base), "%s", fixture_dir());
	/* isolate from the user's git configuration */
	setenv("HOME", base, 1);
	setenv("XDG_CONFIG_HOME", base, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "T", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "T", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	clean_env();
	make_repos();

	test_modes();
	test_dirty();
	test_expected();
	test_older();
	test_record_answers();
	test_unknown();
	test_api();
	test_hook();
	test_record();

	fixture_done();
	return 0;
}
