#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../wrapper/config.h"
#include "tap/basic.h"

static const char *const cleared[] = {
	"TFLOCK_BUCKET",
	"TFLOCK_KEY",
	"TFLOCK_REGION",
	"TFLOCK_ENDPOINT",
	"TFLOCK_PATH_STYLE",
	"TFLOCK_WORKSPACE",
	"TFLOCK_PROFILE",
	"TFLOCK_LEASE",
	"TFLOCK_TIMEOUT",
	"TFLOCK_NO_WAIT",
	"TFLOCK_QUIET",
	"TFLOCK_VERBOSE",
	"TFLOCK_ON_LOST",
	"TFLOCK_GIT_CHECK",
	"TFLOCK_TIME_SCALE",
	"TFLOCK_CONFLICT_EXIT_CODE",
	"TFLOCK_WORKSPACE_KEY_PREFIX",
	"TFLOCK_LOCK_TAGS",
	"AWS_REGION",
	"AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL_S3",
	"AWS_ENDPOINT_URL",
	"AWS_PROFILE",
	"TF_WORKSPACE",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(cleared) / sizeof(cleared[0]); i++)
		unsetenv(cleared[i]);
}

static int parse(struct config *c, unsigned cmd, int *optind_out, struct tf_error *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	const char *a;
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = (char *)(uintptr_t)a; /* getopt permutes nothing here: "+" */
	va_end(ap);
	argv[argc] = NULL;
	return config_from_args(c, cmd, argc, argv, optind_out, err);
}

static int config_free_null(void *unused)
{
	config_free(NULL);
	return 0;
}

int main(void)
{
	struct config c;
	struct tf_error err;
	int oi;

	plan_lazy();
	clear_env();

	/* defaults */
	config_init(&c);
	is_int(120000, c.lease_ms, "default lease is 2m");
	is_int(-1, c.timeout_ms, "default timeout is unlimited");
	is_int(EXIT_HELD, c.conflict_exit_code, "default conflict exit code");
	is_int(EXIT_LOST, c.lost_exit_code, "default lost exit code");
	is_int(10000, c.grace_ms, "default grace 10s");
	is_int(SRC_UNSET, c.src[O_BUCKET], "bucket starts unset");
	is_int(SRC_DEFAULT, c.src[O_LEASE], "lease starts as default");
	is_string("default", config_source_name(SRC_DEFAULT), "source name default");
	is_string("command line", config_source_name(SRC_FLAG), "source name flag");

	/* precedence via config_set, applied in any order */
	err_clear(&err);
	is_int(0, config_set(&c, O_REGION, "eu-west-1", SRC_BACKEND, &err), "backend region");
	is_int(0, config_set(&c, O_REGION, "us-west-2", SRC_AWS_ENV, &err), "AWS_* region");
	is_string("eu-west-1", c.region, "backend outranks AWS_*");
	is_int(SRC_BACKEND, c.src[O_REGION], "source stays backend");
	is_int(0, config_set(&c, O_REGION, "ap-south-1", SRC_ENV, &err), "TFLOCK_* region");
	is_string("ap-south-1", c.region, "TFLOCK_* outranks backend");
	is_int(0, config_set(&c, O_REGION, "sa-east-1", SRC_FLAG, &err), "flag region");
	is_string("sa-east-1", c.region, "flag outranks everything");
	is_int(0, config_set(&c, O_REGION, "ca-central-1", SRC_ENV, &err), "lower source ignored");
	is_string("sa-east-1", c.region, "flag value kept");
	is_int(0, config_set(&c, O_REGION, "me-south-1", SRC_FLAG, &err), "same rank replaces");
	is_string("me-south-1", c.region, "later flag wins");
	is_int(SRC_FLAG, c.src[O_REGION], "source is flag");
	is_int(0, config_set(&c, O_LEASE, "30s", SRC_AWS_ENV, &err), "AWS_* over default");
	is_int(30000, c.lease_ms, "AWS_* ranks above default");

	/* typed errors */
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_BUCKET, "", SRC_FLAG, &err), "empty string rejected");
	ok(strstr(err.msg, "--bucket") && strstr(err.msg, "empty"), "message names flag: %s",
	   err.msg);
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_NO_WAIT, "maybe", SRC_ENV, &err), "bad boolean");
	ok(strstr(err.msg, "TFLOCK_NO_WAIT") != NULL, "message names variable: %s", err.msg);
	is_int(0, c.no_wait, "no_wait unchanged");
	is_int(0, config_set(&c, O_NO_WAIT, "YES", SRC_ENV, &err), "boolean YES");
	is_int(1, c.no_wait, "no_wait true");
	is_int(0, config_set(&c, O_NO_WAIT, "0", SRC_ENV, &err), "boolean 0");
	is_int(0, c.no_wait, "no_wait false");
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_LEASE, "1s", SRC_FLAG, &err), "lease below 5s");
	ok(strstr(err.msg, "out of range") != NULL, "range message: %s", err.msg);
	is_int(30000, c.lease_ms, "lease unchanged after error");
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_LEASE, "2h", SRC_FLAG, &err), "lease above 1h");
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_LEASE, "soon", SRC_FLAG, &err), "lease not a duration");
	ok(strstr(err.msg, "--lease") != NULL, "duration message names flag: %s", err.msg);
	is_int(0, config_set(&c, O_LEASE, "5m", SRC_FLAG, &err), "lease 5m");
	is_int(300000, c.lease_ms, "lease 5m in ms");
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_CONFLICT_EXIT_CODE, "2", SRC_FLAG, &err),
	       "exit code below 3");
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_CONFLICT_EXIT_CODE, "x", SRC_FLAG, &err),
	       "exit code not a number");
	is_int(0, config_set(&c, O_CONFLICT_EXIT_CODE, "42", SRC_FLAG, &err), "exit code 42");
	is_int(42, c.conflict_exit_code, "exit code set");
	is_int(0, config_set(&c, O_VERBOSE, "2", SRC_ENV, &err), "verbose level from env");
	is_int(2, c.verbose, "verbose 2");
	err_clear(&err);
	is_int(ERR_USAGE, config_set(&c, O_VERBOSE, "9", SRC_ENV, &err), "verbose 9 rejected");
	ok(strstr(err.msg, "level") != NULL, "verbose message: %s", err.msg);
	config_free(&c);
	ok_returns(config_free_null, NULL, "config_free(NULL) returns");

	/* config_from_env */
	config_init(&c);
	setenv("TFLOCK_BUCKET", "env-bucket", 1);
	setenv("TFLOCK_LEASE", "45s", 1);
	setenv("TFLOCK_NO_WAIT", "true", 1);
	setenv("AWS_REGION", "eu-central-1", 1);
	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://generic.example", 1);
	setenv("AWS_ENDPOINT_URL_S3", "http://s3.example", 1);
	setenv("AWS_PROFILE", "dev", 1);
	setenv("TF_WORKSPACE", "staging", 1);
	setenv("TFLOCK_TIME_SCALE", "0.5", 1);
	config_set(&c, O_REGION, "backend-region", SRC_BACKEND, &err);
	err_clear(&err);
	is_int(0, config_from_env(&c, &err), "config_from_env succeeds");
	is_string("env-bucket", c.bucket, "TFLOCK_BUCKET applied");
	is_int(SRC_ENV, c.src[O_BUCKET], "bucket from env");
	is_int(45000, c.lease_ms, "TFLOCK_LEASE applied");
	is_int(1, c.no_wait, "TFLOCK_NO_WAIT applied");
	is_string("backend-region", c.region, "backend region beats AWS_REGION");
	is_string("http://s3.example", c.endpoint, "AWS_ENDPOINT_URL_S3 preferred");
	is_int(SRC_AWS_ENV, c.src[O_ENDPOINT], "endpoint from AWS_*");
	is_string("dev", c.profile, "AWS_PROFILE");
	is_string("staging", c.workspace, "TF_WORKSPACE");
	ok(c.time_scale > 0.49 && c.time_scale < 0.51, "time scale 0.5");
	is_int(500, config_scaled(&c, 1000), "config_scaled halves");
	is_int(1, config_scaled(&c, 0), "config_scaled is at least 1");
	config_free(&c);

	config_init(&c);
	unsetenv("AWS_REGION");
	setenv("TFLOCK_REGION", "", 1);
	err_clear(&err);
	is_int(0, config_from_env(&c, &err), "empty TFLOCK_REGION ignored");
	is_string("us-west-1", c.region, "AWS_DEFAULT_REGION fallback");
	config_free(&c);

	config_init(&c);
	setenv("TFLOCK_TIME_SCALE", "fast", 1);
	err_clear(&err);
	is_int(ERR_USAGE, config_from_env(&c, &err), "bad TFLOCK_TIME_SCALE");
	ok(strstr(err.msg, "TFLOCK_TIME_SCALE") != NULL, "names the variable: %s", err.msg);
	config_free(&c);

	config_init(&c);
	unsetenv("TFLOCK_TIME_SCALE");
	setenv("TFLOCK_LEASE", "forever", 1);
	err_clear(&err);
	is_int(ERR_USAGE, config_from_env(&c, &err), "bad TFLOCK_LEASE");
	ok(strstr(err.msg, "TFLOCK_LEASE") != NULL, "names the variable: %s", err.msg);
	config_free(&c);
	clear_env();
	unsetenv("TFLOCK_NO_WAIT");

	/* config_from_args */
	config_init(&c);
	setenv("TFLOCK_BUCKET", "env-bucket", 1);
	err_clear(&err);
	is_int(0, config_from_env(&c, &err), "env before flags");
	oi = -1;
	is_int(0,
	       parse(&c, CMD_RUN, &oi, &err, "tflock", "--bucket", "flag-bucket",
	             "--key=a/b.tfstate", "-q", "--lease", "90s", "--no-wait", "--", "terraform",
	             "apply", NULL),
	       "run flags parse");
	is_string("flag-bucket", c.bucket, "flag beats TFLOCK_BUCKET");
	is_int(SRC_FLAG, c.src[O_BUCKET], "bucket source flag");
	is_string("a/b.tfstate", c.key, "--key=VALUE form");
	is_int(1, c.quiet, "-q");
	is_int(90000, c.lease_ms, "--lease");
	is_int(1, c.no_wait, "--no-wait");
	is_int(9, oi, "optind points past --");
	unsetenv("TFLOCK_BUCKET");
	is_int(0, config_finish(&c, CMD_RUN, &err), "finish succeeds");
	config_free(&c);

	config_init(&c);
	is_int(0, parse(&c, CMD_RUN, &oi, &err, "tflock", "-vv", "terraform", "-x", NULL),
	       "stops at the first non-option");
	is_int(2, c.verbose, "-vv counts");
	is_int(2, oi, "optind at the command");
	config_free(&c);

	config_init(&c);
	err_clear(&err);
	is_int(ERR_USAGE, parse(&c, CMD_RUN, &oi, &err, "tflock", "--frobnicate", NULL),
	       "unknown long option");
	ok(strstr(err.msg, "unknown option '--frobnicate'") != NULL, "message: %s", err.msg);
	err_clear(&err);
	is_int(ERR_USAGE, parse(&c, CMD_RUN, &oi, &err, "tflock", "-Z", NULL), "unknown short");
	ok(strstr(err.msg, "'-Z'") != NULL, "message: %s", err.msg);
	err_clear(&err);
	is_int(ERR_USAGE, parse(&c, CMD_RUN, &oi, &err, "tflock", "--bucket", NULL),
	       "missing value");
	ok(strstr(err.msg, "needs a value") && strstr(err.msg, "--bucket"), "message: %s", err.msg);
	err_clear(&err);
	is_int(ERR_USAGE, parse(&c, CMD_STATUS, &oi, &err, "tflock", "--lease", "1m", NULL),
	       "--lease not accepted by status");
	err_clear(&err);
	is_int(ERR_USAGE, parse(&c, CMD_RUN, &oi, &err, "tflock", "--json", NULL),
	       "--json not accepted by run");
	err_clear(&err);
	is_int(ERR_USAGE, parse(&c, CMD_RUN, &oi, &err, "tflock", "--timeout", "abc", NULL),
	       "bad duration flag");
	ok(strstr(err.msg, "--timeout") != NULL, "message: %s", err.msg);
	err_clear(&err);
	is_int(ERR_USAGE, parse(&c, CMD_RUN, &oi, &err, "tflock", "--max-hold", "0s", NULL),
	       "max-hold 0 out of range");
	config_free(&c);

	config_init(&c);
	is_int(0, parse(&c, CMD_STATUS, &oi, &err, "tflock", "--json", "--watch", NULL),
	       "status flags");
	ok(c.json && c.watch, "--json --watch set");
	config_free(&c);

	/* config_finish errors */
	config_init(&c);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "no bucket");
	ok(strstr(err.msg, "no bucket") != NULL, "message: %s", err.msg);
	config_set(&c, O_BUCKET, "bkt", SRC_FLAG, &err);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "no key");
	ok(strstr(err.msg, "no state key") != NULL, "message: %s", err.msg);
	config_set(&c, O_KEY, "/abs", SRC_FLAG, &err);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "key starting with /");
	config_set(&c, O_KEY, "k", SRC_FLAG, &err);
	config_set(&c, O_ON_LOST, "explode", SRC_FLAG, &err);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "bad --on-lost");
	ok(strstr(err.msg, "explode") != NULL, "message: %s", err.msg);
	config_set(&c, O_ON_LOST, "kill", SRC_FLAG, &err);
	config_set(&c, O_GIT_CHECK, "sometimes", SRC_FLAG, &err);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "bad --git-check");
	config_set(&c, O_GIT_CHECK, "auto", SRC_FLAG, &err);
	config_set(&c, O_NO_WAIT, NULL, SRC_FLAG, &err);
	config_set(&c, O_TIMEOUT, "10s", SRC_FLAG, &err);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "--no-wait with --timeout");
	ok(strstr(err.msg, "contradict") != NULL, "message: %s", err.msg);
	config_set(&c, O_NO_WAIT, "false", SRC_FLAG, &err);
	config_set(&c, O_QUIET, NULL, SRC_FLAG, &err);
	config_set(&c, O_VERBOSE, NULL, SRC_FLAG, &err);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "--quiet with --verbose");
	config_set(&c, O_QUIET, "no", SRC_FLAG, &err);
	err_clear(&err);
	is_int(0, config_finish(&c, CMD_RUN, &err), "valid configuration finishes");
	ok(c.lock_tagging == NULL, "no --lock-tags: no tagging header");
	config_set(&c, O_LOCK_TAGS, "team=infra,purpose=tf lock", SRC_FLAG, &err);
	is_int(0, config_finish(&c, CMD_RUN, &err), "--lock-tags accepted");
	is_string("team=infra&purpose=tf%20lock", c.lock_tagging,
	          "--lock-tags becomes x-amz-tagging");
	config_set(&c, O_LOCK_TAGS, "team", SRC_FLAG, &err);
	err_clear(&err);
	is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "bad --lock-tags");
	is_string("--lock-tags: 'team' is not KEY=VALUE", err.msg, "message names the option");
	ok(c.lock_tagging == NULL, "and leaves no tagging behind");
	config_free(&c);

	/* what S3 would refuse: a usage error naming where the value came from */
	{
		static const struct {
			enum cfg_opt opt;
			const char *value;
			enum cfg_source src;
			const char *msg; /* expected start of the message */
		} bad[] = {
			{ O_BUCKET, "a/b", SRC_FLAG, "--bucket: bucket 'a/b' has '/'" },
			{ O_BUCKET, "Upper", SRC_ENV, "TFLOCK_BUCKET: bucket 'Upper' has 'U'" },
			{ O_BUCKET, "ab", SRC_BACKEND,
			  "bucket (terraform backend): bucket 'ab' is too short" },
			{ O_REGION, "us east 1", SRC_FLAG, "--region: region 'us east 1' is not" },
			{ O_REGION, "../x", SRC_AWS_ENV,
			  "region (environment (AWS_*)): region '../x' is not" },
			{ O_ENDPOINT, "http://127.0.0.1:99999", SRC_FLAG,
			  "--endpoint: endpoint 'http://127.0.0.1:99999': port '99999' is not a "
			  "number in 1..65535" },
			{ O_ENDPOINT, "http://127.0.0.1:0", SRC_ENV, "TFLOCK_ENDPOINT: endpoint" },
			{ O_ENDPOINT, "http://h:abc/", SRC_BACKEND,
			  "endpoint (terraform backend): endpoint 'http://h:abc/': port 'abc'" },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			config_init(&c);
			config_set(&c, O_BUCKET, "bkt", SRC_DEFAULT, &err);
			config_set(&c, O_KEY, "k", SRC_DEFAULT, &err);
			config_set(&c, bad[i].opt, bad[i].value, bad[i].src, &err);
			err_clear(&err);
			is_int(ERR_USAGE, config_finish(&c, CMD_STATUS, &err), "'%s' refused",
			       bad[i].value);
			ok(!strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)), "message: %s",
			   err.msg);
			config_free(&c);
		}
	}
	{
		/* the lock key as locked: workspace prefix included, bytes not characters */
		char key[1100];
		memset(key, 'k', sizeof(key));
		config_init(&c);
		config_set(&c, O_BUCKET, "my.bucket", SRC_FLAG, &err);
		key[1017] = '\0';
		config_set(&c, O_KEY, key, SRC_ENV, &err);
		err_clear(&err);
		is_int(0, config_finish(&c, CMD_RUN, &err), "a lock key of 1024 bytes: fine");
		key[1017] = 'k';
		key[1018] = '\0';
		config_set(&c, O_KEY, key, SRC_ENV, &err);
		err_clear(&err);
		is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "a lock key of 1025 bytes");
		ok(strstr(err.msg, "TFLOCK_KEY: the lock key 'kkkk") &&
		           strstr(err.msg, "kkk.tflock' is 1025 bytes, over S3's limit of 1024"),
		   "message: %s", err.msg);
		key[1010] = '\0';
		config_set(&c, O_KEY, key, SRC_ENV, &err);
		err_clear(&err);
		is_int(0, config_finish(&c, CMD_RUN, &err), "1010 bytes + .tflock: fine");
		config_set(&c, O_WORKSPACE, "ws", SRC_FLAG, &err);
		err_clear(&err);
		is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err),
		       "with workspace ws: env:/ws/ + 1010 + .tflock is 1025 bytes");
		ok(strstr(err.msg, "'env:/ws/kkk") != NULL, "message: %s", err.msg);
		config_free(&c);
		config_init(&c);
		config_set(&c, O_BUCKET, "bkt", SRC_FLAG, &err);
		for (int i = 0; i < 509; i++)
			memcpy(key + 2 * i, "\xc3\xa9", 2); /* U+00E9, 2 bytes in UTF-8 */
		key[1018] = '\0';
		config_set(&c, O_KEY, key, SRC_FLAG, &err);
		err_clear(&err);
		is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err),
		       "509 two-byte characters + .tflock (516 characters) are 1025 bytes");
		ok(strstr(err.msg, "'\xc3\xa9") && strstr(err.msg, "\xc3\xa9...\xc3\xa9") &&
		           strstr(err.msg, "1025 bytes"),
		   "the message quotes whole characters: %s", err.msg);
		config_free(&c);
	}
	{
		/* names S3-compatible stores use are fine */
		static const char *const buckets[] = { "my.bucket.name", "123", "a-b.c-d",
			                               "tf-state-01" };
		static const char *const regions[] = { "default", "garage", "us-gov-west-1",
			                               "US-EAST-1" };
		for (size_t i = 0; i < 4; i++) {
			config_init(&c);
			config_set(&c, O_BUCKET, buckets[i], SRC_FLAG, &err);
			config_set(&c, O_REGION, regions[i], SRC_FLAG, &err);
			config_set(&c, O_ENDPOINT, "https://[::1]:9000/base/", SRC_FLAG, &err);
			config_set(&c, O_KEY, "a/../b/./c", SRC_FLAG, &err);
			err_clear(&err);
			is_int(0, config_finish(&c, CMD_RUN, &err), "bucket %s, region %s: fine",
			       buckets[i], regions[i]);
			config_free(&c);
		}
	}

	/* a nested run: the outer tflock's store unless told otherwise */
	{
		struct held_case {
			const char *desc;
			enum cfg_source endpoint_src; /* SRC_UNSET: no endpoint of its own */
			enum cfg_source region_src;
			const char *endpoint, *region; /* expected */
			int path_style;
			enum cfg_source got_endpoint_src, got_region_src;
		} cases[] = {
			{ "nothing of its own: the outer's store", SRC_UNSET, SRC_UNSET,
			  "http://outer:1", "eu-outer-1", 1, SRC_HELD, SRC_HELD },
			{ "AWS_ENDPOINT_URL ranks below the outer's", SRC_AWS_ENV, SRC_AWS_ENV,
			  "http://outer:1", "eu-outer-1", 1, SRC_HELD, SRC_HELD },
			{ "its own --region wins, the outer's endpoint stays", SRC_UNSET, SRC_FLAG,
			  "http://outer:1", "eu-own-1", 1, SRC_HELD, SRC_FLAG },
			{ "TFLOCK_ENDPOINT: its own store, none of the outer's settings", SRC_ENV,
			  SRC_UNSET, "http://own:2", NULL, 0, SRC_ENV, SRC_UNSET },
			{ "a backend endpoint: its own store", SRC_BACKEND, SRC_BACKEND,
			  "http://own:2", "eu-own-1", 0, SRC_BACKEND, SRC_BACKEND },
			{ "--endpoint: its own store", SRC_FLAG, SRC_UNSET, "http://own:2", NULL, 0,
			  SRC_FLAG, SRC_UNSET },
		};
		clear_env();
		setenv("TFLOCK_HELD_S3_ENDPOINT", "http://outer:1", 1);
		setenv("TFLOCK_HELD_REGION", "eu-outer-1", 1);
		setenv("TFLOCK_HELD_PATH_STYLE", "true", 1);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct held_case *hc = &cases[i];
			config_init(&c);
			err_clear(&err);
			is_int(0, config_from_env(&c, &err), "%s: env read", hc->desc);
			config_set(&c, O_BUCKET, "bkt", SRC_FLAG, &err);
			config_set(&c, O_KEY, "k", SRC_FLAG, &err);
			if (hc->endpoint_src != SRC_UNSET)
				config_set(&c, O_ENDPOINT,
				           hc->endpoint_src == SRC_AWS_ENV ? "http://127.0.0.1:9"
				                                           : "http://own:2",
				           hc->endpoint_src, &err);
			if (hc->region_src != SRC_UNSET)
				config_set(&c, O_REGION,
				           hc->region_src == SRC_AWS_ENV ? "us-west-2" : "eu-own-1",
				           hc->region_src, &err);
			is_int(0, config_finish(&c, CMD_RUN, &err), "%s: finishes", hc->desc);
			is_string(hc->endpoint, c.endpoint, "%s: endpoint", hc->desc);
			is_string(hc->region, c.region, "%s: region", hc->desc);
			is_int(hc->path_style, c.path_style, "%s: path style", hc->desc);
			is_int(hc->got_endpoint_src, c.src[O_ENDPOINT], "%s: endpoint's source",
			       hc->desc);
			is_int(hc->got_region_src, c.src[O_REGION], "%s: region's source",
			       hc->desc);
			config_free(&c);
		}
		is_string("the outer tflock, TFLOCK_HELD_*", config_source_name(SRC_HELD),
		          "the source's name, as -v shows it");
		/* an outer on AWS itself passes a region only */
		unsetenv("TFLOCK_HELD_S3_ENDPOINT");
		unsetenv("TFLOCK_HELD_PATH_STYLE");
		config_init(&c);
		config_from_env(&c, &err);
		config_set(&c, O_BUCKET, "bkt", SRC_FLAG, &err);
		config_set(&c, O_KEY, "k", SRC_FLAG, &err);
		is_int(0, config_finish(&c, CMD_RUN, &err), "outer on AWS: finishes");
		ok(c.endpoint == NULL && c.src[O_ENDPOINT] == SRC_UNSET,
		   "outer on AWS: no endpoint");
		is_string("eu-outer-1", c.region, "outer on AWS: its region");
		config_free(&c);
		/* a bad endpoint passed down is named as such */
		setenv("TFLOCK_HELD_S3_ENDPOINT", "http://outer:0", 1);
		config_init(&c);
		config_from_env(&c, &err);
		config_set(&c, O_BUCKET, "bkt", SRC_FLAG, &err);
		config_set(&c, O_KEY, "k", SRC_FLAG, &err);
		err_clear(&err);
		is_int(ERR_USAGE, config_finish(&c, CMD_RUN, &err), "a bad outer endpoint");
		{
			const char *want =
			        "TFLOCK_HELD_S3_ENDPOINT (from the outer tflock): endpoint";
			ok(!strncmp(err.msg, want, strlen(want)), "message: %s", err.msg);
		}
		config_free(&c);
		unsetenv("TFLOCK_HELD_S3_ENDPOINT");
		unsetenv("TFLOCK_HELD_REGION");
	}

	/* the tag list itself */
	{
		static const struct {
			const char *in, *out, *err;
		} cases[] = {
			{ "a=1", "a=1", NULL },
			{ "k=", "k=", NULL },
			{ "k=a=b", "k=a%3Db", NULL },
			{ "x:y/z=a+b@c-d_e.f", "x%3Ay%2Fz=a%2Bb%40c-d_e.f", NULL },
			{ "caf\xc3\xa9=\xe6\x97\xa5", "caf%C3%A9=%E6%97%A5", NULL },
			{ "a=1,b=2,c=3", "a=1&b=2&c=3", NULL },
			{ "", NULL, "'' is not KEY=VALUE" },
			{ "a=1,", NULL, "'' is not KEY=VALUE" },
			{ "=v", NULL, "'=v' is not KEY=VALUE" },
			{ "a b", NULL, "'a b' is not KEY=VALUE" },
			{ "aws:x=1", NULL, "tag 'aws:x=1': keys starting with aws: are AWS's own" },
			{ "a=1,a=2", NULL, "tag key 'a' given twice" },
			{ "a=\"q\"", NULL, "tag 'a=\"q\"': only letters, digits, spaces" },
			{ "a=\xc3", NULL, "tag 'a=\xc3': only letters, digits, spaces" },
			{ "a=\xc0\x80", NULL, "tag 'a=\xc0\x80': only letters" },
			{ "a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10,k=11", NULL,
			  "more than 10 tags" },
		};
		char *out, big[400];
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			int rc;
			err_clear(&err);
			rc = config_lock_tagging(cases[i].in, &out, &err);
			if (cases[i].out) {
				is_int(0, rc, "tags '%s' accepted", cases[i].in);
				is_string(cases[i].out, out, "tags '%s' encoded", cases[i].in);
			} else {
				is_int(ERR_USAGE, rc, "tags '%s' refused", cases[i].in);
				ok(out == NULL, "tags '%s': nothing returned", cases[i].in);
				ok(!strncmp(err.msg, cases[i].err, strlen(cases[i].err)),
				   "tags '%s': %s", cases[i].in, err.msg);
			}
			free(out);
		}
		/* lengths count characters, not bytes: 128 two-byte characters are a valid key */
		memset(big, 0, sizeof(big));
		for (int i = 0; i < 128; i++)
			memcpy(big + 2 * i, "\xc3\xa9", 2);
		strcat(big, "=v");
		is_int(0, config_lock_tagging(big, &out, &err),
		       "a key of 128 characters (256 bytes)");
		free(out);
		memset(big, 'k', 129);
		big[129] = '\0';
		strcat(big, "=v");
		is_int(ERR_USAGE, config_lock_tagging(big, &out, &err), "a key of 129 characters");
		ok(strstr(err.msg, "the key is over 128 characters") != NULL, "says so: %.60s",
		   err.msg);
		memset(big, 'v', 258);
		memcpy(big, "k=", 2);
		big[258] = '\0';
		is_int(0, config_lock_tagging(big, &out, &err), "a value of 256 characters");
		free(out);
		big[258] = 'v';
		big[259] = '\0';
		is_int(ERR_USAGE, config_lock_tagging(big, &out, &err),
		       "a value of 257 characters");
	}
	return 0;
}
