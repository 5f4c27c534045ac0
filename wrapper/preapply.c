#include "preapply.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "ci.h"
#include "clock.h"
#include "gitapi.h"
#include "http.h"
#include "lockinfo.h"
#include "log.h"

static char *record_key(const struct preapply_store *st)
{
	return xasprintf("%s.applied.tflock", st->state_key);
}

static const char *expected(const struct preapply_opts *o)
{
	const char *e = o->expect_commit;
	return e && *e ? e : ci_commit_sha();
}

/*
 * Fetch the history that tells how HEAD and the last applied commit relate: a
 * CI clone is often shallow (depth 1). `git fetch` from origin, both commits
 * with 500 commits of history each in a shallow clone (whole history
 * otherwise), within budget_ms (the lock is held meanwhile). git's output is
 * not shown (a remote's text); its exit status is.
 */
static int fetch_history(const struct gitinfo *gi, const char *head, const char *last,
                         long budget_ms, char *why, size_t whylen)
{
	/* git must not wait for a password: nobody is there to type one */
	char *const quiet_env[] = { (char[]){ "GIT_TERMINAL_PROMPT=0" },
		                    (char[]){ "GIT_ASKPASS=true" },
		                    (char[]){ "GCM_INTERACTIVE=never" }, NULL };
	const char *argv[16];
	char *args[16], **env;
	struct child_capture res;
	struct tf_error err;
	int n = 0, rc;
	argv[n++] = "git";
	argv[n++] = "-C";
	argv[n++] = gi->workdir;
	argv[n++] = "fetch";
	argv[n++] = "--quiet";
	argv[n++] = "--no-tags";
	argv[n++] = "--no-write-fetch-head";
	argv[n++] = "--no-recurse-submodules";
	if (gi->shallow)
		argv[n++] = "--depth=500";
	argv[n++] = "origin";
	argv[n++] = last;
	argv[n++] = head;
	argv[n] = NULL;
	for (int i = 0; i < n; i++)
		args[i] = xstrdup(argv[i]); /* exec takes char *const[] */
	args[n] = NULL;
	env = child_env_build(quiet_env);
	err_clear(&err);
	/* git's text is a remote's: child_run_quiet() keeps it off the terminal */
	rc = child_run_quiet(args, env, NULL, budget_ms, &res, &err);
	child_env_free(env);
	for (int i = 0; i < n; i++)
		free(args[i]);
	if (rc && res.exec_errno)
		snprintf(why, whylen, "git is not installed");
	else if (rc)
		snprintf(why, whylen, "cannot start git: %.100s", err.msg);
	else if (res.end == CHILD_CAPTURE_TIMED_OUT)
		snprintf(why, whylen, "git fetch from origin took longer than %lds",
		         budget_ms / 1000);
	else if (res.end == CHILD_CAPTURE_EXITED && WIFEXITED(res.status) &&
	         WEXITSTATUS(res.status) == 0)
		return 0;
	else if (res.end == CHILD_CAPTURE_EXITED && WIFEXITED(res.status) &&
	         WEXITSTATUS(res.status) == 127)
		snprintf(why, whylen, "git is not installed");
	else
		snprintf(why, whylen, "git fetch from origin failed (exit %d)",
		         res.end == CHILD_CAPTURE_EXITED && WIFEXITED(res.status)
		                 ? WEXITSTATUS(res.status)
		                 : -1);
	return -1;
}

/*
 * HEAD must not be provably older than the commit applied last (an ancestor of
 * it): that apply would roll the infrastructure back. When the clone cannot
 * tell, fetch the history, then ask the CI's API; still unknown: refuse only
 * under --git-check strict, else warn and go on. Another line of history is
 * a warning with both commits and their dates.
 */
static int older_check(const struct preapply_opts *o, struct gitinfo *gi, const char *dir,
                       const char *last, const char *last_who, const char *last_at,
                       struct tf_error *err)
{
	enum git_rel rel = gitinfo_relation(dir, gi->head, last);
	char fetch_why[160] = "", api_why[256] = "", dh[32], dl[32];
	const char *by = "";
	if (rel == REL_UNKNOWN && gi->workdir) {
		long budget = o->fetch_budget_ms > 0 ? o->fetch_budget_ms : 30000;
		log_info("the commit applied last (%.12s) is not in this clone's history%s: "
		         "fetching it from origin",
		         last, gi->shallow ? " (a shallow clone)" : "");
		if (fetch_history(gi, gi->head, last, budget, fetch_why, sizeof(fetch_why)) == 0) {
			rel = gitinfo_relation(dir, gi->head, last);
			by = " (history fetched from origin)";
			if (rel == REL_UNKNOWN)
				snprintf(fetch_why, sizeof(fetch_why),
				         "fetched 500 commits of history and found no path between "
				         "them");
		}
	}
	if (rel == REL_UNKNOWN) {
		rel = gitapi_relation(gi->head, last, api_why, sizeof(api_why));
		if (rel != REL_UNKNOWN) {
			struct ci_api api;
			ci_api_get(&api); /* the API gitapi_relation() asked */
			by = api.kind == CI_GITHUB ? " (GitHub's compare API)" : " (GitLab's API)";
		}
	}
	gitinfo_commit_date(dir, gi->head, dh);
	gitinfo_commit_date(dir, last, dl);
	switch (rel) {
	case REL_ANCESTOR:
		err_set(err, ERR_NONE,
		        "commit %.12s%s%s%s is older than %.12s%s%s%s, applied last (%s%s%s)%s: "
		        "applying it would roll the infrastructure back; pass --allow-older to do "
		        "it anyway",
		        gi->head, *dh ? " (" : "", dh, *dh ? ")" : "", last, *dl ? " (" : "", dl,
		        *dl ? ")" : "", last_who, *last_at ? " at " : "", last_at, by);
		return PREAPPLY_REFUSED;
	case REL_DIVERGED:
		log_warn("commit %.12s%s%s%s is on another line of history than %.12s%s%s%s, "
		         "applied last by %s%s%s%s: make sure it includes what that apply "
		         "changed",
		         gi->head, *dh ? " (" : "", dh, *dh ? ")" : "", last, *dl ? " (" : "", dl,
		         *dl ? ")" : "", last_who, *last_at ? " at " : "", last_at, by);
		return 0;
	case REL_UNKNOWN:
		if (o->mode == GIT_CHECK_STRICT) {
			err_set(err, ERR_NONE,
			        "cannot tell whether commit %.12s is older than %.12s, applied "
			        "last "
			        "(%s%s%s): %s; %s; --git-check strict refuses: fetch the full "
			        "history (fetch-depth: 0 / GIT_DEPTH: 0), or pass --allow-older",
			        gi->head, last, last_who, *last_at ? " at " : "", last_at,
			        *fetch_why ? fetch_why : "not in this clone's history", api_why);
			return PREAPPLY_REFUSED;
		}
		log_warn("cannot tell whether commit %.12s is older than %.12s, applied last "
		         "(%s%s%s): %s; %s. Going on: an older commit would roll the "
		         "infrastructure back, so fetch the full history (fetch-depth: 0 / "
		         "GIT_DEPTH: 0) or give a token; --git-check strict refuses instead",
		         gi->head, last, last_who, *last_at ? " at " : "", last_at,
		         *fetch_why ? fetch_why : "not in this clone's history", api_why);
		return 0;
	default:
		if (*by)
			log_verbose("commit %.12s is not older than %.12s, applied last%s",
			            gi->head, last, by);
		return 0;
	}
}

int preapply_check(const struct preapply_store *st, const struct preapply_opts *o,
                   struct gitinfo *gi, int *active, struct tf_error *err)
{
	const char *dir = o->dir ? o->dir : ".";
	const char *want = expected(o);
	struct s3_reply r;
	char *key = NULL, last[64] = "", last_who[256] = "", last_at[64] = "";
	int ret;

	*active = 0;
	if (o->mode == GIT_CHECK_OFF || (o->mode == GIT_CHECK_AUTO && !o->is_apply))
		return 0;
	ret = gitinfo_read(dir, gi, err);
	if (ret == ERR_NOT_FOUND && o->mode == GIT_CHECK_AUTO) {
		log_verbose("git check skipped: %s", err->msg);
		err_clear(err);
		return 0;
	}
	if (ret == ERR_NOT_FOUND) {
		err_set(err, ERR_NONE, "%s: %s is not in a git repository",
		        o->origin ? o->origin : "--git-check on", dir);
		return PREAPPLY_REFUSED;
	}
	if (ret)
		return ret;
	*active = 1;
	if (gi->dirty && !o->allow_dirty) {
		err_set(err, ERR_NONE,
		        "the working tree %s is dirty (%d path%s: %s%s): commit or stash first, "
		        "or pass --allow-dirty",
		        gi->workdir ? gi->workdir : dir, gi->dirty, gi->dirty == 1 ? "" : "s",
		        gi->dirty_paths,
		        gi->tf_own ? "; terraform's own files are not counted" : "");
		return PREAPPLY_REFUSED;
	}
	if (want && (strlen(want) < 7 || strncmp(gi->head, want, strlen(want)))) {
		err_set(err, ERR_NONE,
		        "HEAD is %.12s but CI expects %.12s: refusing to apply another commit",
		        gi->head, want);
		return PREAPPLY_REFUSED;
	}

	key = record_key(st);
	s3_reply_init(&r);
	ret = s3_get(st->s3, key, NULL, &r, err);
	if (ret == 0) {
		cJSON *j = cJSON_ParseWithLength(r.body.data, r.body.len);
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "commit");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "who");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "at");
		if (cJSON_IsString(c) && strlen(c->valuestring) == 40)
			snprintf(last, sizeof(last), "%s", c->valuestring);
		if (cJSON_IsString(w))
			snprintf(last_who, sizeof(last_who), "%s", w->valuestring);
		if (cJSON_IsString(a))
			snprintf(last_at, sizeof(last_at), "%s", a->valuestring);
		cJSON_Delete(j);
	} else if (!(ret == ERR_HTTP && r.status == 404)) {
		s3_reply_free(&r);
		free(key);
		return ret;
	}
	err_clear(err);
	s3_reply_free(&r);
	free(key);
	if (*last && !o->allow_older)
		return older_check(o, gi, dir, last, last_who, last_at, err);
	return 0;
}

char *preapply_hook(const struct gitinfo *gi)
{
	struct stat st;
	char *hook = xasprintf("%s/pre-apply", gi->hooks_dir);
	if (stat(hook, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR))
		return hook;
	free(hook);
	return NULL;
}

int preapply_record(const struct preapply_store *st, const struct gitinfo *gi, struct tf_error *err)
{
	struct s3_request req;
	struct s3_reply r;
	struct http_header h = { "Content-Type", "application/json" };
	char at[48];
	struct timespec now;
	cJSON *j = cJSON_CreateObject();
	char *body, *key = record_key(st);
	int ret;

	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_nsec = 0;
	lockinfo_format_created(&now, at);
	cJSON_AddStringToObject(j, "commit", gi->head);
	cJSON_AddStringToObject(j, "branch", gi->branch ? gi->branch : "");
	cJSON_AddStringToObject(j, "remote", gi->remote ? gi->remote : "");
	cJSON_AddStringToObject(j, "lock_id", st->lock_id);
	cJSON_AddStringToObject(j, "who", st->who);
	cJSON_AddStringToObject(j, "at", at);
	body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.key = key;
	req.headers = &h;
	req.nheaders = 1;
	req.body = body;
	req.body_len = strlen(body);
	s3_reply_init(&r);
	ret = s3_request(st->s3, &req, &r, err);
	s3_reply_free(&r);
	cJSON_free(body);
	free(key);
	return ret;
}
