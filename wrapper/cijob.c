#include "cijob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ciapi.h"
#include "rfc3339.h"
#include "sanitize.h"

static int is_github(const struct lockinfo_cijob *cj)
{
	return cj->cip && !strcmp(cj->cip, "github");
}

static int is_gitlab(const struct lockinfo_cijob *cj)
{
	return cj->cip && !strcmp(cj->cip, "gitlab");
}

static int has(const char *s)
{
	return s && *s;
}

/* the ids a request about cj needs, each valid */
static int ids_valid(const struct lockinfo_cijob *cj, enum cijob_subject subj)
{
	int proj = is_github(cj) ? ci_valid_github_repo(cj->proj) : ci_valid_id(cj->proj);
	if (!proj || !ci_valid_id(cj->run))
		return 0;
	if (subj == CIJOB_JOB)
		return ci_valid_id(cj->jid);
	return !has(cj->att) || ci_valid_id(cj->att);
}

int cijob_askable(const struct lockinfo_cijob *cj, enum cijob_subject subj,
                  const struct ci_api *self, char *why, size_t whylen)
{
	const char *which;
	if (!is_github(cj) && !is_gitlab(cj)) {
		snprintf(why, whylen, "the lock names no GitHub or GitLab job");
		return 0;
	}
	which = is_github(cj) ? "GitHub" : "GitLab";
	if ((is_github(cj) && self->kind != CI_GITHUB) ||
	    (is_gitlab(cj) && self->kind != CI_GITLAB)) {
		snprintf(why, whylen, "its holder runs on %s, this run does not", which);
		return 0;
	}
	if (!ci_valid_server_url(cj->srv) || !ci_same_server(cj->srv, self->server)) {
		snprintf(why, whylen, "its holder's %s server is not this run's", which);
		return 0;
	}
	if (!ids_valid(cj, subj)) {
		snprintf(why, whylen, "the lock does not name its holder's %s %s by number", which,
		         subj == CIJOB_JOB ? "job" : "run");
		return 0;
	}
	if (!self->project || strcmp(cj->proj, self->project)) {
		snprintf(why, whylen, "its holder's %s is not this run's",
		         is_github(cj) ? "repository" : "project");
		return 0;
	}
	if (!self->url || !ci_url_may_get_token(self->url)) {
		snprintf(why, whylen, "%s is not an https URL: no token is sent there",
		         is_github(cj) ? "GITHUB_API_URL" : "CI_API_V4_URL");
		return 0;
	}
	if (!self->token) {
		snprintf(why, whylen, "%s",
		         is_github(cj) ? "no TFLOCK_GITHUB_TOKEN, GITHUB_TOKEN or GH_TOKEN to ask "
		                         "GitHub (actions: read)"
		                       : "no TFLOCK_GITLAB_TOKEN or GITLAB_TOKEN (read_api) to ask "
		                         "GitLab");
		return 0;
	}
	return 1;
}

char *cijob_url(const struct lockinfo_cijob *cj, enum cijob_subject subj, const char *api)
{
	int n;
	if ((!is_github(cj) && !is_gitlab(cj)) || !ids_valid(cj, subj) || !api)
		return NULL;
	n = ci_url_len(api);
	if (is_github(cj)) {
		if (subj == CIJOB_JOB)
			return xasprintf("%.*s/repos/%s/actions/jobs/%s", n, api, cj->proj,
			                 cj->jid);
		/* the run's latest attempt: a re-run's new one keeps a parking alive */
		return xasprintf("%.*s/repos/%s/actions/runs/%s", n, api, cj->proj, cj->run);
	}
	if (subj == CIJOB_JOB)
		return xasprintf("%.*s/projects/%s/jobs/%s", n, api, cj->proj, cj->jid);
	return xasprintf("%.*s/projects/%s/pipelines/%s", n, api, cj->proj, cj->run);
}

/* a JSON number that is exactly the whole number written in s */
static int same_id(const cJSON *n, const char *s)
{
	char tmp[32];
	/* a whole number below 2^53, where a double is exact */
	if (!cJSON_IsNumber(n) || !ci_valid_id(s) || n->valuedouble < 1 ||
	    n->valuedouble > 9007199254740992.0 ||
	    (double)(long long)n->valuedouble != n->valuedouble)
		return 0;
	snprintf(tmp, sizeof(tmp), "%.0f", n->valuedouble);
	return !strcmp(tmp, s);
}

/* a whole number n >= the whole number written in s (a run's attempt) */
static int attempt_at_least(const cJSON *n, const char *s)
{
	return cJSON_IsNumber(n) && ci_valid_id(s) && n->valuedouble >= 1 && n->valuedouble < 1e9 &&
	       (double)(long long)n->valuedouble == n->valuedouble &&
	       (long long)n->valuedouble >= atoll(s);
}

static const char *str_of(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int gitlab_finished(const char *status)
{
	static const char *const done[] = { "success", "failed", "canceled", "skipped" };
	for (size_t i = 0; i < sizeof(done) / sizeof(done[0]); i++)
		if (!strcmp(status, done[i]))
			return 1;
	return 0;
}

static void unknown(struct cijob_answer *out, const char *why)
{
	out->verdict = CIJOB_UNKNOWN;
	snprintf(out->why, sizeof(out->why), "%s", why);
}

void cijob_judge(const cJSON *j, const struct lockinfo_cijob *cj, enum cijob_subject subj,
                 time_t now, struct cijob_answer *out)
{
	const char *status, *concl = NULL, *ended;
	const cJSON *ok_id, *ok_run = NULL;
	struct timespec t;
	int gh = is_github(cj);
	out->ended_ago_s = -1;
	if (!cJSON_IsObject(j)) {
		unknown(out, "the answer is not a JSON object");
		return;
	}
	status = str_of(j, "status");
	ok_id = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (subj == CIJOB_JOB)
		ok_run = gh ? cJSON_GetObjectItemCaseSensitive(j, "run_id")
		            : cJSON_GetObjectItemCaseSensitive(
		                      cJSON_GetObjectItemCaseSensitive(j, "pipeline"), "id");
	if (!status) {
		unknown(out, "the answer has no status");
		return;
	}
	if (!same_id(ok_id, subj == CIJOB_JOB ? cj->jid : cj->run) ||
	    (subj == CIJOB_JOB && !same_id(ok_run, cj->run)) ||
	    (subj == CIJOB_RUN && gh && has(cj->att) &&
	     !attempt_at_least(cJSON_GetObjectItemCaseSensitive(j, "run_attempt"), cj->att))) {
		unknown(out, subj == CIJOB_JOB ? "the answer is about another job or run"
		                               : "the answer is about another run");
		return;
	}
	if (gh) {
		concl = str_of(j, "conclusion");
		ended = str_of(j, subj == CIJOB_JOB ? "completed_at" : "updated_at");
		out->verdict = !strcmp(status, "completed") ? CIJOB_FINISHED : CIJOB_ALIVE;
		out->shared_runner = 1;
	} else {
		const char *rt =
		        str_of(cJSON_GetObjectItemCaseSensitive(j, "runner"), "runner_type");
		ended = str_of(j, "finished_at");
		out->verdict = gitlab_finished(status) ? CIJOB_FINISHED : CIJOB_ALIVE;
		out->shared_runner = rt && !strcmp(rt, "instance_type");
	}
	{
		struct buf b;
		buf_init(&b);
		sanitize_text(&b, status, 40);
		if (concl && out->verdict == CIJOB_FINISHED) {
			buf_addc(&b, '/');
			sanitize_text(&b, concl, 40);
		}
		snprintf(out->state, sizeof(out->state), "%s", b.data ? b.data : "");
		buf_free(&b);
	}
	if (out->verdict == CIJOB_FINISHED && ended && !rfc3339_parse(ended, RFC3339_AWS, &t) &&
	    now > t.tv_sec)
		out->ended_ago_s = (long long)(now - t.tv_sec);
}

/* GitLab: a pipeline whose manual job (allow_failure: true) is still to be
 * played reads "success": alive while GET …/jobs?scope[]=manual lists one */
static void gitlab_manual_pending(const struct lockinfo_cijob *cj, const struct ci_api *self,
                                  long timeout_ms, struct cijob_answer *out)
{
	struct ciapi_reply reply;
	char why[300];
	char *url = xasprintf("%.*s/projects/%s/pipelines/%s/jobs?scope%%5B%%5D=manual&per_page=1",
	                      ci_url_len(self->url), self->url, cj->proj, cj->run);
	cJSON *j = ciapi_get_json(url, "PRIVATE-TOKEN", self->token, timeout_ms, &reply, why,
	                          sizeof(why));
	free(url);
	if (!cJSON_IsArray(j)) {
		unknown(out, j ? "the pipeline's manual jobs are not a JSON array" : why);
	} else if (cJSON_GetArraySize(j) > 0) {
		out->verdict = CIJOB_ALIVE;
		snprintf(out->state, sizeof(out->state), "a manual job to play");
	}
	cJSON_Delete(j);
}

void cijob_ask(const struct lockinfo_cijob *cj, enum cijob_subject subj, const struct ci_api *self,
               long timeout_ms, struct cijob_answer *out)
{
	struct ciapi_reply reply;
	char *url, *auth = NULL, why[300];
	cJSON *j;
	memset(out, 0, sizeof(*out));
	out->ended_ago_s = -1;
	out->retry_s = -1;
	if (!cijob_askable(cj, subj, self, why, sizeof(why))) {
		unknown(out, why);
		return;
	}
	if (subj == CIJOB_JOB)
		snprintf(out->what, sizeof(out->what), "job %s", cj->jid);
	else if (is_github(cj))
		snprintf(out->what, sizeof(out->what), "run %s%s%s", cj->run,
		         has(cj->att) ? " attempt " : "", has(cj->att) ? cj->att : "");
	else
		snprintf(out->what, sizeof(out->what), "pipeline %s", cj->run);
	url = cijob_url(cj, subj, self->url);
	if (is_github(cj))
		auth = xasprintf("Bearer %s", self->token);
	j = ciapi_get_json(url, is_github(cj) ? "Authorization" : "PRIVATE-TOKEN",
	                   auth ? auth : self->token, timeout_ms, &reply, why, sizeof(why));
	secure_free_str(auth); /* holds the token */
	free(url);
	out->t_recv = reply.t_recv;
	out->rate_limited = reply.rate_limited;
	out->retry_s = reply.retry_s;
	if (!j) {
		unknown(out, why);
		return;
	}
	cijob_judge(j, cj, subj, time(NULL), out);
	cJSON_Delete(j);
	if (out->verdict == CIJOB_FINISHED && subj == CIJOB_RUN && is_gitlab(cj))
		gitlab_manual_pending(cj, self, timeout_ms, out);
}
