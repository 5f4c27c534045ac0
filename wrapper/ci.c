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
}

void ci_identity_free(struct ci_identity *id)
{
	if (!id)
		return;
	free(id->who);
	free(id->url);
	free(id->job);
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
	} else if (getenv_nonempty("GITLAB_CI")) {
		out->kind = CI_GITLAB;
		out->url = getenv_nonempty("CI_API_V4_URL");
		out->project = getenv_nonempty("CI_PROJECT_ID");
		out->token = getenv_nonempty("GITLAB_TOKEN");
	} else {
		out->kind = CI_NONE;
	}
}
