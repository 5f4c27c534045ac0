/* cijob (and the B14.1 parts of ci and lockinfo): who the holder's CI job is,
 * what may be asked about it, the URL, and how an answer is judged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ci.h"
#include "cijob.h"
#include "lockinfo.h"
#include "tap/basic.h"

static const char *const vars[] = {
	"GITHUB_ACTIONS",        "GITHUB_SERVER_URL",
	"GITHUB_REPOSITORY",     "GITHUB_RUN_ID",
	"GITHUB_RUN_ATTEMPT",    "TFLOCK_GITHUB_JOB_ID",
	"RUNNER_ENVIRONMENT",    "GITHUB_JOB",
	"RUNNER_NAME",           "GITLAB_CI",
	"CI_SERVER_URL",         "CI_PROJECT_ID",
	"CI_PIPELINE_ID",        "CI_JOB_ID",
	"CI_RUNNER_DESCRIPTION", "CI",
	"GITHUB_API_URL",        "TFLOCK_GITHUB_TOKEN",
	"GITHUB_TOKEN",          "GH_TOKEN",
	"CI_API_V4_URL",         "TFLOCK_GITLAB_TOKEN",
	"GITLAB_TOKEN",
};

static void clear(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void test_validators(void)
{
	static const struct {
		const char *s;
		int id, repo, server;
	} c[] = {
		{ "1", 1, 0, 0 },
		{ "1234567890123456789", 1, 0, 0 },
		{ "12345678901234567890", 0, 0, 0 },
		{ "0", 0, 0, 0 },
		{ "012", 0, 0, 0 },
		{ "-1", 0, 0, 0 },
		{ "12a", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "o/r", 0, 1, 0 },
		{ "my-org/my.repo_2", 0, 1, 0 },
		{ "o/r/x", 0, 0, 0 },
		{ "../r", 0, 0, 0 },
		{ "o/..", 0, 0, 0 },
		{ "o/.", 0, 0, 0 },
		{ "o/r?x=1", 0, 0, 0 },
		{ "o/r%2f", 0, 0, 0 },
		{ "o /r", 0, 0, 0 },
		{ "/r", 0, 0, 0 },
		{ "https://github.com", 0, 0, 1 },
		{ "https://ghe.example.com/", 0, 0, 1 },
		{ "http://127.0.0.1:8080", 0, 0, 1 },
		{ "http://example.com", 0, 0, 0 },
		{ "https://u:p@github.com", 0, 0, 0 },
		{ "https://github.com/?x", 0, 0, 0 },
		{ "https://github.com/#x", 0, 0, 0 },
		{ "https://git hub.com", 0, 0, 0 },
		{ "https://github.com\x1b[31m", 0, 0, 0 },
		{ "https://", 0, 0, 0 },
		{ "ftp://github.com", 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		is_int(c[i].id, ci_valid_id(c[i].s), "ci_valid_id(\"%s\")", c[i].s);
		is_int(c[i].repo, ci_valid_github_repo(c[i].s), "ci_valid_github_repo(\"%s\")",
		       c[i].s);
		is_int(c[i].server, ci_valid_server_url(c[i].s), "ci_valid_server_url(\"%s\")",
		       c[i].s);
	}
	ok(!ci_valid_id(NULL) && !ci_valid_github_repo(NULL) && !ci_valid_server_url(NULL),
	   "NULL is valid as nothing");
	ok(ci_same_server("https://github.com/", "https://github.com"), "trailing / aside");
	ok(!ci_same_server("https://github.com", "https://github.co"), "another server");
	ok(!ci_same_server("https://github.com", "https://github.com.evil"), "a longer name");
	ok(!ci_same_server(NULL, "https://github.com") && !ci_same_server("", ""), "none");
}

static void test_detect(void)
{
	struct ci_identity id;
	clear();
	setenv("GITHUB_ACTIONS", "true", 1);
	setenv("GITHUB_REPOSITORY", "acme/infra", 1);
	setenv("GITHUB_RUN_ID", "4711", 1);
	setenv("GITHUB_RUN_ATTEMPT", "2", 1);
	setenv("TFLOCK_GITHUB_JOB_ID", "987654321", 1);
	setenv("RUNNER_ENVIRONMENT", "github-hosted", 1);
	ci_detect(&id);
	is_string("github", id.cj.cip, "github: cip");
	is_string("https://github.com", id.cj.srv, "github: the default server");
	is_string("acme/infra", id.cj.proj, "github: proj");
	is_string("4711", id.cj.run, "github: run");
	is_string("2", id.cj.att, "github: attempt");
	is_string("987654321", id.cj.jid, "github: job id from TFLOCK_GITHUB_JOB_ID");
	is_int(1, id.cj.eph, "github-hosted is ephemeral");
	ci_identity_free(&id);
	setenv("RUNNER_ENVIRONMENT", "self-hosted", 1);
	setenv("TFLOCK_GITHUB_JOB_ID", "12; rm -rf /", 1);
	setenv("GITHUB_REPOSITORY", "acme/../x", 1);
	ci_detect(&id);
	is_int(0, id.cj.eph, "self-hosted is not");
	is_string("", id.cj.jid, "an invalid job id is not written");
	is_string("", id.cj.proj, "an invalid repository is not written");
	ci_identity_free(&id);

	clear();
	setenv("GITLAB_CI", "true", 1);
	setenv("CI_SERVER_URL", "https://gitlab.com", 1);
	setenv("CI_PROJECT_ID", "42", 1);
	setenv("CI_PIPELINE_ID", "1001", 1);
	setenv("CI_JOB_ID", "2002", 1);
	setenv("CI_RUNNER_DESCRIPTION",
	       "3-blue.saas-linux-small-amd64.runners-manager.gitlab.com/default", 1);
	ci_detect(&id);
	is_string("gitlab", id.cj.cip, "gitlab: cip");
	is_string("https://gitlab.com", id.cj.srv, "gitlab: srv");
	is_string("42", id.cj.proj, "gitlab: project id");
	is_string("1001", id.cj.run, "gitlab: pipeline");
	is_string("2002", id.cj.jid, "gitlab: job");
	is_string("", id.cj.att, "gitlab: no attempt");
	is_int(1, id.cj.eph, "gitlab.com hosted runner is ephemeral");
	ci_identity_free(&id);
	setenv("CI_SERVER_URL", "https://gitlab.example.com", 1);
	ci_detect(&id);
	is_int(0, id.cj.eph, "the same description on another server is not");
	ci_identity_free(&id);
	setenv("CI_SERVER_URL", "https://gitlab.com", 1);
	setenv("CI_RUNNER_DESCRIPTION", "my-runner", 1);
	ci_detect(&id);
	is_int(0, id.cj.eph, "a project's own runner on gitlab.com is not");
	ci_identity_free(&id);

	clear();
	ci_detect(&id);
	is_string("", id.cj.cip, "no CI: nothing");
	ci_identity_free(&id);
}

/* The body carries cj both ways; an old body has none; odd types are absent. */
static void test_body(void)
{
	struct lockinfo li, back;
	struct buf b = BUF_INIT;
	struct tf_error err;
	static const char old[] =
	        "{\"ID\":\"a\",\"Operation\":\"\",\"Info\":\"\",\"Who\":\"\",\"Version\":\"\","
	        "\"Created\":\"2026-01-01T00:00:00Z\",\"Path\":\"\",\"Tflock\":{\"v\":1,"
	        "\"lease\":120,\"seq\":1,\"pid\":1,\"cip\":7,\"srv\":null,\"jid\":[\"1\"],"
	        "\"eph\":\"1\",\"proj\":\"o/r\"}}";
	lockinfo_init(&li);
	lockinfo_init(&back);
	li.id = strdup("id-1");
	li.created = strdup("2026-01-01T00:00:00Z");
	li.has_tflock = 1;
	li.tf.v = 1;
	li.tf.lease = 120;
	li.tf.cj.cip = strdup("github");
	li.tf.cj.srv = strdup("https://github.com");
	li.tf.cj.proj = strdup("o/r");
	li.tf.cj.run = strdup("5");
	li.tf.cj.att = strdup("");
	li.tf.cj.jid = strdup("6");
	li.tf.cj.eph = 1;
	is_int(0, lockinfo_to_json(&li, &b), "written");
	ok(strstr(b.data, ",\"cip\":\"github\",\"srv\":\"https://github.com\",\"proj\":\"o/r\","
	                  "\"run\":\"5\",\"jid\":\"6\",\"eph\":1}}") != NULL,
	   "the CI keys close the Tflock part, att left out: %s", b.data);
	is_int(LOCKINFO_TFLOCK, lockinfo_parse(b.data, b.len, &back, &err), "read back");
	is_string("github", back.tf.cj.cip, "cip read");
	is_string("6", back.tf.cj.jid, "jid read");
	is_string("", back.tf.cj.att, "absent att is \"\"");
	is_int(1, back.tf.cj.eph, "eph read");
	is_int(LOCKINFO_TFLOCK, lockinfo_parse(old, sizeof(old) - 1, &back, &err),
	       "odd types in the CI keys keep a tflock body: %s", err.msg);
	is_string("", back.tf.cj.cip, "a number as cip is absent");
	is_string("", back.tf.cj.jid, "an array as jid is absent");
	is_int(0, back.tf.cj.eph, "a string as eph is not 1");
	is_string("o/r", back.tf.cj.proj, "proj read");
	lockinfo_free(&li);
	li.id = strdup("id-2");
	li.created = strdup("2026-01-01T00:00:00Z");
	li.has_tflock = 1;
	li.tf.v = 1;
	li.tf.lease = 120;
	is_int(0, lockinfo_to_json(&li, &b), "written without CI");
	ok(strstr(b.data, "cip") == NULL && strstr(b.data, "eph") == NULL,
	   "no CI keys without a CI: %s", b.data);
	lockinfo_free(&li);
	lockinfo_free(&back);
	buf_free(&b);
}

/* field = a copy of v (cj's strings are owned: lockinfo_cijob_free) */
static void set(char **field, const char *v)
{
	free(*field);
	*field = strdup(v);
}

static struct lockinfo_cijob gh(const char *jid)
{
	struct lockinfo_cijob cj = { 0 };
	set(&cj.cip, "github");
	set(&cj.srv, "https://github.com");
	set(&cj.proj, "acme/infra");
	set(&cj.run, "4711");
	set(&cj.att, "2");
	set(&cj.jid, jid);
	cj.eph = 1;
	return cj;
}

static struct lockinfo_cijob gl(void)
{
	struct lockinfo_cijob cj = { 0 };
	set(&cj.cip, "gitlab");
	set(&cj.srv, "https://gitlab.example.com");
	set(&cj.proj, "42");
	set(&cj.run, "1001");
	set(&cj.att, "");
	set(&cj.jid, "2002");
	return cj;
}

static void test_url(void)
{
	struct lockinfo_cijob c = gh("99");
	char *u;
	u = cijob_url(&c, CIJOB_JOB, "https://api.github.com/");
	is_string("https://api.github.com/repos/acme/infra/actions/jobs/99", u, "github job");
	free(u);
	u = cijob_url(&c, CIJOB_RUN, "https://api.github.com");
	is_string("https://api.github.com/repos/acme/infra/actions/runs/4711", u,
	          "github run: its latest attempt");
	free(u);
	set(&c.att, "");
	u = cijob_url(&c, CIJOB_RUN, "https://api.github.com");
	is_string("https://api.github.com/repos/acme/infra/actions/runs/4711", u,
	          "github run without attempt");
	free(u);
	lockinfo_cijob_free(&c);
	c = gl();
	u = cijob_url(&c, CIJOB_JOB, "https://gitlab.example.com/api/v4");
	is_string("https://gitlab.example.com/api/v4/projects/42/jobs/2002", u, "gitlab job");
	free(u);
	u = cijob_url(&c, CIJOB_RUN, "https://gitlab.example.com/api/v4");
	is_string("https://gitlab.example.com/api/v4/projects/42/pipelines/1001", u,
	          "gitlab pipeline");
	free(u);
	lockinfo_cijob_free(&c);
	c = gh("99");
	set(&c.proj, "acme/../../admin");
	ok(cijob_url(&c, CIJOB_JOB, "https://api.github.com") == NULL, "a hostile proj: no URL");
	lockinfo_cijob_free(&c);
	c = gh("99?x=");
	ok(cijob_url(&c, CIJOB_JOB, "https://api.github.com") == NULL, "a hostile jid: no URL");
	lockinfo_cijob_free(&c);
	c = gh("");
	ok(cijob_url(&c, CIJOB_JOB, "https://api.github.com") == NULL, "no jid: no job URL");
	lockinfo_cijob_free(&c);
	c = gl();
	set(&c.proj, "group/project");
	ok(cijob_url(&c, CIJOB_JOB, "https://x") == NULL, "gitlab: proj must be a number");
	lockinfo_cijob_free(&c);
}

static void test_askable(void)
{
	struct lockinfo_cijob c = gh("99");
	struct ci_api self = { CI_GITHUB, "https://api.github.com", "acme/infra", "s3cr3t-zz",
		               "https://github.com" };
	char why[320];
	ok(cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)), "askable");
	self.server = "https://ghe.example.com";
	ok(!cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)) && strstr(why, "server"),
	   "another server: %s", why);
	self.server = "https://github.com/";
	ok(cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)), "the same server with a /");
	self.token = NULL;
	ok(!cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)) && strstr(why, "GITHUB_TOKEN"),
	   "no token: %s", why);
	self.token = "s3cr3t-zz";
	self.url = "http://api.example.com";
	ok(!cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)) && strstr(why, "https"),
	   "no token over plain http: %s", why);
	ok(strstr(why, "s3cr3t") == NULL, "the token is never in why");
	self.url = "https://api.github.com";
	self.kind = CI_GITLAB;
	ok(!cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)), "a GitLab waiter: %s", why);
	self.kind = CI_GITHUB;
	set(&c.cip, "");
	ok(!cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)), "no CI in the body: %s", why);
	lockinfo_cijob_free(&c);
	c = gh("");
	ok(!cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)), "no job id: %s", why);
	ok(cijob_askable(&c, CIJOB_RUN, &self, why, sizeof(why)), "but its run may be asked");
	lockinfo_cijob_free(&c);
	c = gh("99");
	set(&c.srv, "https://github.com?x");
	self.server = "https://github.com?x";
	ok(!cijob_askable(&c, CIJOB_JOB, &self, why, sizeof(why)), "an invalid srv, even equal");
	lockinfo_cijob_free(&c);
}

static enum cijob_verdict judge(const struct lockinfo_cijob *c, enum cijob_subject s,
                                const char *json, struct cijob_answer *a)
{
	cJSON *j = cJSON_Parse(json);
	memset(a, 0, sizeof(*a));
	cijob_judge(j, c, s, 1767225640 /* 2026-01-01T00:00:40Z */, a);
	cJSON_Delete(j);
	return a->verdict;
}

static void test_judge(void)
{
	struct lockinfo_cijob h = gh("99"), l = gl();
	struct cijob_answer a;
	static const struct {
		const char *status;
		enum cijob_verdict v;
	} ghs[] = { { "completed", CIJOB_FINISHED }, { "in_progress", CIJOB_ALIVE },
		    { "queued", CIJOB_ALIVE },       { "waiting", CIJOB_ALIVE },
		    { "pending", CIJOB_ALIVE },      { "requested", CIJOB_ALIVE },
		    { "Completed", CIJOB_ALIVE },    { "cancelled", CIJOB_ALIVE } },
	  gls[] = { { "success", CIJOB_FINISHED },  { "failed", CIJOB_FINISHED },
		    { "canceled", CIJOB_FINISHED }, { "skipped", CIJOB_FINISHED },
		    { "canceling", CIJOB_ALIVE },   { "cancelled", CIJOB_ALIVE },
		    { "manual", CIJOB_ALIVE },      { "scheduled", CIJOB_ALIVE },
		    { "running", CIJOB_ALIVE },     { "waiting_for_resource", CIJOB_ALIVE },
		    { "preparing", CIJOB_ALIVE },   { "created", CIJOB_ALIVE },
		    { "pending", CIJOB_ALIVE } };
	char json[512];
	for (size_t i = 0; i < sizeof(ghs) / sizeof(ghs[0]); i++) {
		snprintf(
		        json, sizeof(json),
		        "{\"id\":99,\"run_id\":4711,\"status\":\"%s\",\"conclusion\":\"cancelled\","
		        "\"completed_at\":\"2026-01-01T00:00:00Z\"}",
		        ghs[i].status);
		is_int(ghs[i].v, judge(&h, CIJOB_JOB, json, &a), "github job %s", ghs[i].status);
	}
	judge(&h, CIJOB_JOB,
	      "{\"id\":99,\"run_id\":4711,\"status\":\"completed\",\"conclusion\":\"cancelled\","
	      "\"completed_at\":\"2026-01-01T00:00:00Z\"}",
	      &a);
	is_string("completed/cancelled", a.state, "the state shown");
	is_int(40, a.ended_ago_s, "ended 40 s before now");
	for (size_t i = 0; i < sizeof(gls) / sizeof(gls[0]); i++) {
		snprintf(json, sizeof(json),
		         "{\"id\":2002,\"status\":\"%s\",\"pipeline\":{\"id\":1001},"
		         "\"finished_at\":\"2026-01-01T00:00:30.123Z\"}",
		         gls[i].status);
		is_int(gls[i].v, judge(&l, CIJOB_JOB, json, &a), "gitlab job %s", gls[i].status);
	}
	is_int(CIJOB_FINISHED, judge(&l, CIJOB_RUN, "{\"id\":1001,\"status\":\"canceled\"}", &a),
	       "gitlab pipeline canceled");
	is_int(-1, a.ended_ago_s, "no finished_at: no age");
	is_int(CIJOB_ALIVE, judge(&l, CIJOB_RUN, "{\"id\":1001,\"status\":\"manual\"}", &a),
	       "gitlab pipeline waiting for a manual job is alive");
	is_int(CIJOB_FINISHED,
	       judge(&h, CIJOB_RUN, "{\"id\":4711,\"status\":\"completed\",\"run_attempt\":2}", &a),
	       "github run completed, the parking's attempt");
	is_int(CIJOB_FINISHED,
	       judge(&h, CIJOB_RUN, "{\"id\":4711,\"status\":\"completed\",\"run_attempt\":3}", &a),
	       "github run completed, a later attempt");
	is_int(CIJOB_UNKNOWN,
	       judge(&h, CIJOB_RUN, "{\"id\":4711,\"status\":\"completed\",\"run_attempt\":1}", &a),
	       "github run: an attempt before the parking's is not it");
	is_int(CIJOB_UNKNOWN, judge(&h, CIJOB_RUN, "{\"id\":4711,\"status\":\"completed\"}", &a),
	       "github run without run_attempt, the body naming one");
	/* identity and shape: each unknown */
	is_int(CIJOB_UNKNOWN,
	       judge(&h, CIJOB_JOB, "{\"id\":98,\"run_id\":4711,\"status\":\"completed\"}", &a),
	       "another job id");
	is_int(CIJOB_UNKNOWN,
	       judge(&h, CIJOB_JOB, "{\"id\":99,\"run_id\":4712,\"status\":\"completed\"}", &a),
	       "another run");
	is_int(CIJOB_UNKNOWN,
	       judge(&h, CIJOB_JOB, "{\"id\":\"99\",\"run_id\":4711,\"status\":\"completed\"}", &a),
	       "id as a string");
	is_int(CIJOB_UNKNOWN,
	       judge(&h, CIJOB_JOB, "{\"id\":99.5,\"run_id\":4711,\"status\":\"completed\"}", &a),
	       "a fractional id");
	is_int(CIJOB_UNKNOWN, judge(&h, CIJOB_JOB, "{\"id\":99,\"run_id\":4711}", &a), "no status");
	is_int(CIJOB_UNKNOWN, judge(&h, CIJOB_JOB, "{\"id\":99,\"run_id\":4711,\"status\":7}", &a),
	       "status a number");
	is_int(CIJOB_UNKNOWN, judge(&h, CIJOB_JOB, "[1]", &a), "an array");
	is_int(CIJOB_UNKNOWN, judge(&h, CIJOB_JOB, "nonsense", &a), "not JSON");
	is_int(CIJOB_UNKNOWN, judge(&l, CIJOB_JOB, "{\"id\":2002,\"status\":\"failed\"}", &a),
	       "gitlab job without its pipeline");
	is_int(CIJOB_UNKNOWN,
	       judge(&l, CIJOB_JOB, "{\"id\":2002,\"status\":\"failed\",\"pipeline\":{\"id\":1}}",
	             &a),
	       "gitlab job of another pipeline");
	/* hostile text from the API is escaped in what is shown */
	judge(&h, CIJOB_JOB,
	      "{\"id\":99,\"run_id\":4711,\"status\":\"completed\",\"conclusion\":\"\\u001b[2Jx\"}",
	      &a);
	ok(strchr(a.state, 0x1b) == NULL, "no raw escape in the state: %s", a.state);
	lockinfo_cijob_free(&h);
	lockinfo_cijob_free(&l);
}

int main(void)
{
	plan_lazy();
	test_validators();
	test_detect();
	test_body();
	test_url();
	test_askable();
	test_judge();
	clear();
	return 0;
}
