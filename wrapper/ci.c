#include "ci.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "sanitize.h"

/* The value of name, or dflt when it is unset or empty. */
static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv_nonempty(name);
	return v ? v : dflt;
}

static int env_true(const char *name)
{
	const char *v = getenv_nonempty(name);
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static char *local_user(void)
{
	const char *u = getenv_nonempty("USER");
	if (!u) {
		struct passwd *pw = getpwuid(getuid());
		u = pw ? pw->pw_name : "unknown";
	}
	return xstrdup(u);
}

int ci_valid_id(const char *s)
{
	size_t n = s ? strspn(s, "0123456789") : 0;
	return n >= 1 && n <= 19 && !s[n] && s[0] != '0';
}

static int repo_part(const char *s, size_t n)
{
	static const char ok[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
	if (n < 1 || n > 100 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr(ok, s[i]))
			return 0;
	return 1;
}

int ci_valid_github_repo(const char *s)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	return slash && repo_part(s, (size_t)(slash - s)) &&
	       repo_part(slash + 1, strlen(slash + 1));
}

int ci_url_may_get_token(const char *url)
{
	/* loopback as a literal address, never a name that could resolve elsewhere */
	return !strncmp(url, "https://", 8) || !strncmp(url, "http://127.0.0.1:", 17) ||
	       !strncmp(url, "http://[::1]:", 13);
}

int ci_url_len(const char *url)
{
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	return (int)n;
}

int ci_valid_server_url(const char *s)
{
	const char *host;
	if (!s || !ci_url_may_get_token(s))
		return 0;
	host = strchr(s, ':') + 3; /* past "https://" or "http://" */
	if (!*host || *host == '/')
		return 0;
	for (const unsigned char *p = (const unsigned char *)host; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '?' || *p == '#' || *p == '@' || *p == '\\')
			return 0;
	return 1;
}

int ci_same_server(const char *a, const char *b)
{
	int n;
	if (!a || !b)
		return 0;
	n = ci_url_len(a);
	return n && n == ci_url_len(b) && !strncmp(a, b, (size_t)n);
}

/* v when check(v), else "" (B14.1: what fails its check is not written) */
static char *checked(const char *v, int (*check)(const char *))
{
	return xstrdup(v && check(v) ? v : "");
}

static void cijob_detect(struct lockinfo_cijob *cj, enum ci_kind kind)
{
	const char *srv, *desc;
	memset(cj, 0, sizeof(*cj));
	if (kind == CI_GITHUB) {
		srv = env_or("GITHUB_SERVER_URL", "https://github.com");
		cj->cip = xstrdup("github");
		cj->srv = checked(srv, ci_valid_server_url);
		cj->proj = checked(getenv_nonempty("GITHUB_REPOSITORY"), ci_valid_github_repo);
		cj->run = checked(getenv_nonempty("GITHUB_RUN_ID"), ci_valid_id);
		cj->att = checked(getenv_nonempty("GITHUB_RUN_ATTEMPT"), ci_valid_id);
		cj->jid = checked(getenv_nonempty("TFLOCK_GITHUB_JOB_ID"), ci_valid_id);
		desc = getenv_nonempty("RUNNER_ENVIRONMENT");
		cj->eph = desc && !strcmp(desc, "github-hosted");
	} else if (kind == CI_GITLAB) {
		srv = getenv_nonempty("CI_SERVER_URL");
		cj->cip = xstrdup("gitlab");
		cj->srv = checked(srv, ci_valid_server_url);
		cj->proj = checked(getenv_nonempty("CI_PROJECT_ID"), ci_valid_id);
		cj->run = checked(getenv_nonempty("CI_PIPELINE_ID"), ci_valid_id);
		cj->att = xstrdup("");
		cj->jid = checked(getenv_nonempty("CI_JOB_ID"), ci_valid_id);
		desc = getenv_nonempty("CI_RUNNER_DESCRIPTION");
		cj->eph = ci_same_server(cj->srv, "https://gitlab.com") && desc &&
		          strstr(desc, ".runners-manager.gitlab.com");
	} else {
		cj->cip = xstrdup("");
		cj->srv = xstrdup("");
		cj->proj = xstrdup("");
		cj->run = xstrdup("");
		cj->att = xstrdup("");
		cj->jid = xstrdup("");
	}
}

void ci_detect(struct ci_identity *id)
{
	char host[256] = "";
	memset(id, 0, sizeof(*id));
	gethostname(host, sizeof(host) - 1);
	if (ci_on_github()) {
		const char *server = env_or("GITHUB_SERVER_URL", "https://github.com");
		const char *repo = env_or("GITHUB_REPOSITORY", "unknown");
		const char *run = env_or("GITHUB_RUN_ID", "0");
		const char *attempt = getenv_nonempty("GITHUB_RUN_ATTEMPT");
		const char *actor = env_or("GITHUB_ACTOR", "github");
		id->kind = CI_GITHUB;
		if (attempt)
			id->url = xasprintf("%s/%s/actions/runs/%s/attempts/%s", server, repo, run,
			                    attempt);
		else
			id->url = xasprintf("%s/%s/actions/runs/%s", server, repo, run);
		/* unique among jobs running at the same time: see ci.h */
		if (getenv_nonempty("GITHUB_RUN_ID") && getenv_nonempty("GITHUB_JOB") &&
		    getenv_nonempty("RUNNER_NAME") && *host)
			id->job = xasprintf("%s/%s/%s/%s@%s", run, attempt ? attempt : "1",
			                    getenv_nonempty("GITHUB_JOB"),
			                    getenv_nonempty("RUNNER_NAME"), host);
		else
			id->job = xstrdup("");
		id->who = xasprintf("%s@%s", actor, id->url);
	} else if (env_true("GITLAB_CI")) {
		const char *actor = env_or("GITLAB_USER_LOGIN", "gitlab");
		id->kind = CI_GITLAB;
		id->url = xstrdup(env_or("CI_JOB_URL", ""));
		id->job = xstrdup(env_or("CI_JOB_ID", ""));
		id->who = xasprintf("%s@%s", actor, *id->url ? id->url : host);
	} else {
		char *u = local_user();
		id->kind = env_true("CI") ? CI_OTHER : CI_NONE;
		id->url = xstrdup("");
		id->job = xstrdup("");
		id->who = xasprintf("%s@%s", u, host);
		free(u);
	}
	/* these go into the lock body, which other people's terraform shows raw, and
	 * `tflock release` matches job against the body: the same stripped text both
	 * ways (sanitize.h) */
	sanitize_strip_all(id->who, id->url, id->job, (char *)NULL);
	cijob_detect(&id->cj, id->kind);
}

void ci_identity_free(struct ci_identity *id)
{
	if (!id)
		return;
	free(id->who);
	free(id->url);
	free(id->job);
	lockinfo_cijob_free(&id->cj);
	memset(id, 0, sizeof(*id));
}

int ci_on_github(void)
{
	return env_true("GITHUB_ACTIONS");
}

const char *ci_github_step_summary(void)
{
	return getenv_nonempty("GITHUB_STEP_SUMMARY");
}

const char *ci_github_output(void)
{
	return getenv_nonempty("GITHUB_OUTPUT");
}

int ci_gitlab_sections(void)
{
	const char *v = getenv_nonempty("GITLAB_CI");
	return v && !strcmp(v, "true");
}

const char *ci_job_name(void)
{
	return env_or("GITHUB_JOB", env_or("CI_JOB_NAME", ""));
}

const char *ci_commit_sha(void)
{
	return env_or("GITHUB_SHA", getenv_nonempty("CI_COMMIT_SHA"));
}

void ci_api_get(struct ci_api *out)
{
	memset(out, 0, sizeof(*out));
	if (getenv_nonempty("GITHUB_ACTIONS")) {
		out->kind = CI_GITHUB;
		out->url = env_or("GITHUB_API_URL", "https://api.github.com");
		out->project = getenv_nonempty("GITHUB_REPOSITORY");
		out->token = env_or("TFLOCK_GITHUB_TOKEN",
		                    env_or("GITHUB_TOKEN", getenv_nonempty("GH_TOKEN")));
		out->server = env_or("GITHUB_SERVER_URL", "https://github.com");
	} else if (getenv_nonempty("GITLAB_CI")) {
		out->kind = CI_GITLAB;
		out->url = getenv_nonempty("CI_API_V4_URL");
		out->project = getenv_nonempty("CI_PROJECT_ID");
		out->token = env_or("TFLOCK_GITLAB_TOKEN", getenv_nonempty("GITLAB_TOKEN"));
		out->server = getenv_nonempty("CI_SERVER_URL");
	} else {
		out->kind = CI_NONE;
	}
}
