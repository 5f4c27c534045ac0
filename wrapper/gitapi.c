#include "gitapi.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ci.h"
#include "ciapi.h"
#include "sanitize.h"

static int is_sha(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return n == 40 && !s[n];
}

/* GET url with one auth header; the parsed JSON body of a 200, else NULL */
static cJSON *get_json(const char *url, const char *auth_name, const char *auth_value, char *why,
                       size_t whylen)
{
	return ciapi_get_json(url, auth_name, auth_value, 10000, NULL, why, whylen);
}

/* GitHub's compare API; ci's url, project and token (TFLOCK_GITHUB_TOKEN first:
 * the action's, kept from the command: child.c removes TFLOCK_* from its
 * environment) */
static enum git_rel github(const struct ci_api *ci, const char *head, const char *last, char *why,
                           size_t whylen)
{
	const char *api = ci->url, *repo = ci->project, *tok = ci->token;
	enum git_rel rel = REL_UNKNOWN;
	const cJSON *st;
	char *url, *auth;
	cJSON *j;
	if (!repo || !tok) {
		snprintf(why, whylen,
		         "no TFLOCK_GITHUB_TOKEN, GITHUB_TOKEN or GH_TOKEN in the environment to "
		         "ask GitHub");
		return REL_UNKNOWN;
	}
	if (!ci_url_may_get_token(api)) {
		snprintf(why, whylen, "GITHUB_API_URL is not https: the token is not sent there");
		return REL_UNKNOWN;
	}
	url = xasprintf("%.*s/repos/%s/compare/%s...%s", ci_url_len(api), api, repo, last, head);
	auth = xasprintf("Bearer %s", tok);
	j = get_json(url, "Authorization", auth, why, whylen);
	st = cJSON_GetObjectItemCaseSensitive(j, "status");
	if (cJSON_IsString(st)) {
		if (!strcmp(st->valuestring, "ahead"))
			rel = REL_DESCENDANT;
		else if (!strcmp(st->valuestring, "behind"))
			rel = REL_ANCESTOR;
		else if (!strcmp(st->valuestring, "identical"))
			rel = REL_SAME;
		else if (!strcmp(st->valuestring, "diverged"))
			rel = REL_DIVERGED;
		else
			snprintf(why, whylen, "GitHub's compare gave an unknown status");
	} else if (j) {
		snprintf(why, whylen, "GitHub's compare gave no status");
	}
	cJSON_Delete(j);
	secure_free_str(auth); /* holds the token */
	free(url);
	return rel;
}

/* GitLab's merge_base API; ci's url, project and token */
static enum git_rel gitlab(const struct ci_api *ci, const char *head, const char *last, char *why,
                           size_t whylen)
{
	const char *api = ci->url, *project = ci->project, *tok = ci->token;
	enum git_rel rel = REL_UNKNOWN;
	const cJSON *id;
	char *url;
	cJSON *j;
	if (!api || !project || !tok) {
		snprintf(why, whylen, "no GITLAB_TOKEN in the environment to ask GitLab");
		return REL_UNKNOWN;
	}
	if (!ci_url_may_get_token(api)) {
		snprintf(why, whylen, "CI_API_V4_URL is not https: the token is not sent there");
		return REL_UNKNOWN;
	}
	if (strspn(project, "0123456789") != strlen(project)) {
		snprintf(why, whylen, "CI_PROJECT_ID is not a number");
		return REL_UNKNOWN;
	}
	url = xasprintf("%.*s/projects/%s/repository/merge_base?refs%%5B%%5D=%s&refs%%5B%%5D=%s",
	                ci_url_len(api), api, project, last, head);
	j = get_json(url, "PRIVATE-TOKEN", tok, why, whylen);
	id = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (cJSON_IsString(id)) {
		if (!strcmp(id->valuestring, head) && !strcmp(id->valuestring, last))
			rel = REL_SAME;
		else if (!strcmp(id->valuestring, head))
			rel = REL_ANCESTOR;
		else if (!strcmp(id->valuestring, last))
			rel = REL_DESCENDANT;
		else
			rel = REL_DIVERGED;
	} else if (j) {
		snprintf(why, whylen, "GitLab's merge_base gave no commit id");
	}
	cJSON_Delete(j);
	free(url);
	return rel;
}

enum git_rel gitapi_relation(const char *head, const char *last, char *why, size_t whylen)
{
	struct ci_api ci;
	snprintf(why, whylen, "not on GitHub Actions or GitLab CI");
	if (!is_sha(head) || !is_sha(last)) {
		snprintf(why, whylen, "not two full commit ids");
		return REL_UNKNOWN;
	}
	ci_api_get(&ci);
	if (ci.kind == CI_GITHUB)
		return github(&ci, head, last, why, whylen);
	if (ci.kind == CI_GITLAB)
		return gitlab(&ci, head, last, why, whylen);
	return REL_UNKNOWN;
}
