#include "preapply.h"

#include <cjson/cJSON.h>
#include <errno.h>
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
#include "log.h"

static char *record_key(const struct lock *l)
{
	return xasprintf("%s.applied.tflock", l->state_key);
}

static const char *expected(const struct preapply_opts *o)
{
	const char *e = o->expect_commit;
	if (!e || !*e)
		e = getenv("GITHUB_SHA");
	if (!e || !*e)
		e = getenv("CI_COMMIT_SHA");
	return e && *e ? e : NULL;
}

int preapply_check(struct lock *l, const struct preapply_opts *o, struct gitinfo *gi, int *active,
                   struct tf_error *err)
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

	key = record_key(l);
	s3_reply_init(&r);
	ret = s3_get(l->s3, key, NULL, &r, err);
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
	if (*last && !o->allow_older) {
		enum git_rel rel = gitinfo_relation(dir, gi->head, last);
		if (rel == REL_ANCESTOR) {
			err_set(err, ERR_NONE,
			        "commit %.12s is older than %.12s, applied last (%s%s%s): applying "
			        "it would roll the infrastructure back; pass --allow-older to do "
			        "it anyway",
			        gi->head, last, last_who, *last_at ? " at " : "", last_at);
			return PREAPPLY_REFUSED;
		}
		if (rel == REL_UNKNOWN) {
			err_set(err, ERR_NONE,
			        "the commit applied last (%.12s) is not in this clone's history, "
			        "so tflock cannot tell whether %.12s is older: fetch the full "
			        "history (fetch-depth: 0), or pass --allow-older",
			        last, gi->head);
			return PREAPPLY_REFUSED;
		}
		if (rel == REL_DIVERGED)
			log_warn("commit %.12s is on another line of history than %.12s, applied "
			         "last",
			         gi->head, last);
	}
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

int preapply_record(struct lock *l, const struct gitinfo *gi, struct tf_error *err)
{
	struct s3_request req;
	struct s3_reply r;
	struct http_header h = { "Content-Type", "application/json" };
	char at[48];
	struct timespec now;
	cJSON *j = cJSON_CreateObject();
	char *body, *key = record_key(l);
	int ret;

	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_nsec = 0;
	lockinfo_format_created(&now, at);
	cJSON_AddStringToObject(j, "commit", gi->head);
	cJSON_AddStringToObject(j, "branch", gi->branch ? gi->branch : "");
	cJSON_AddStringToObject(j, "remote", gi->remote ? gi->remote : "");
	cJSON_AddStringToObject(j, "lock_id", l->mine.id);
	cJSON_AddStringToObject(j, "who", l->mine.who);
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
	ret = s3_request(l->s3, &req, &r, err);
	s3_reply_free(&r);
	cJSON_free(body);
	free(key);
	return ret;
}
