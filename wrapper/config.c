#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "buf.h"
#include "dur.h"
#include "log.h"
#include "s3.h"
#include "sigv4.h"
#include "version.h"

enum opt_type { T_STR, T_BOOL, T_DUR, T_INT, T_COUNT };

struct opt_def {
	enum cfg_opt id;
	const char *name; /* long flag */
	int shortc;       /* 0: none */
	const char *env;  /* TFLOCK_* twin */
	enum opt_type type;
	size_t offset;
	unsigned cmds;
	const char *arg; /* metavariable for help */
	const char *help;
	long min, max; /* T_INT / T_DUR (seconds) bounds */
};

#define F(field) offsetof(struct config, field)

/* hold is a run that parks: run's options are hold's too */
static int applies(unsigned cmds, unsigned cmd)
{
	return (cmds & cmd) || (cmd == CMD_HOLD && (cmds & CMD_RUN));
}
#define NET (CMD_ALL)

/* The one table: flags, environment twins, help text, bounds. */
static const struct opt_def defs[] = {
	{ O_BUCKET, "bucket", 0, "TFLOCK_BUCKET", T_STR, F(bucket), NET, "NAME",
	  "S3 bucket holding the state", 0, 0 },
	{ O_KEY, "key", 0, "TFLOCK_KEY", T_STR, F(key), NET, "KEY",
	  "state key (the backend's key); the lock is KEY.tflock", 0, 0 },
	{ O_REGION, "region", 0, "TFLOCK_REGION", T_STR, F(region), NET, "REGION",
	  "bucket region (default us-east-1)", 0, 0 },
	{ O_ENDPOINT, "endpoint", 0, "TFLOCK_ENDPOINT", T_STR, F(endpoint), NET, "URL",
	  "custom S3 endpoint (MinIO, Ceph, ...)", 0, 0 },
	{ O_PATH_STYLE, "path-style", 0, "TFLOCK_PATH_STYLE", T_BOOL, F(path_style), NET, NULL,
	  "path-style addressing (endpoint/bucket/key)", 0, 0 },
	{ O_WORKSPACE, "workspace", 0, "TFLOCK_WORKSPACE", T_STR, F(workspace), NET, "NAME",
	  "Terraform workspace (default: default)", 0, 0 },
	{ O_WORKSPACE_KEY_PREFIX, "workspace-key-prefix", 0, "TFLOCK_WORKSPACE_KEY_PREFIX", T_STR,
	  F(workspace_key_prefix), NET, "PREFIX",
	  "prefix for non-default workspaces (default env:)", 0, 0 },
	{ O_PROFILE, "profile", 0, "TFLOCK_PROFILE", T_STR, F(profile), NET, "NAME",
	  "AWS shared-config profile", 0, 0 },
	{ O_LEASE, "lease", 0, "TFLOCK_LEASE", T_DUR, F(lease_ms), CMD_RUN | CMD_UNLOCK, "DUR",
	  "lease: a holder silent this long is taken over (default 2m, 5s..1h; at least 20s "
	  "where the store ignores conditional DELETE)",
	  5, 3600 },
	{ O_TIMEOUT, "timeout", 0, "TFLOCK_TIMEOUT", T_DUR, F(timeout_ms), CMD_RUN, "DUR",
	  "give up waiting after DUR (default: a terraform -lock-timeout on the command, else no "
	  "limit)",
	  0, 366 * 86400 },
	{ O_NO_WAIT, "no-wait", 0, "TFLOCK_NO_WAIT", T_BOOL, F(no_wait), CMD_RUN, NULL,
	  "fail at once if the lock is held", 0, 0 },
	{ O_NO_QUEUE, "no-queue", 0, "TFLOCK_NO_QUEUE", T_BOOL, F(no_queue), CMD_RUN, NULL,
	  "wait without the FIFO queue of waiters: the fastest poll wins the lock", 0, 0 },
	{ O_CI_TAKEOVER, "ci-takeover", 0, "TFLOCK_CI_TAKEOVER", T_STR, F(ci_takeover), CMD_RUN,
	  "auto|off|any",
	  "take a lock over early when the CI's API says its holder's job ended: auto (default: "
	  "only a holder on an ephemeral hosted runner), off, or any runner",
	  0, 0 },
	{ O_FOR, "for", 0, "TFLOCK_PARK_FOR", T_DUR, F(park_for_ms), CMD_HOLD, "DUR",
	  "hold: park the lock for DUR (1s..24h) for a later 'run --resume'", 1, 86400 },
	{ O_NOTE, "note", 0, "TFLOCK_NOTE", T_STR, F(note), CMD_HOLD, "TEXT",
	  "hold: what the parking is for, shown to waiters", 0, 0 },
	{ O_TIE, "tie", 0, "TFLOCK_TIE", T_STR, F(tie), CMD_HOLD, "run|none",
	  "hold: run: the parking ends when this CI run/pipeline ends; none (default): only at "
	  "its end or by release",
	  0, 0 },
	{ O_HANDLE_FILE, "handle-file", 0, NULL, T_STR, F(handle_file), CMD_HOLD | CMD_RELEASE,
	  "FILE",
	  "hold: write the parked lock's handle to FILE (default tflock-handle.json); release: "
	  "drop the parked lock FILE names",
	  0, 0 },
	{ O_RESUME, "resume", 0, "TFLOCK_RESUME", T_STR, F(resume), CMD_RUN, "FILE",
	  "take the lock parked by 'tflock hold' whose handle is FILE, instead of acquiring", 0,
	  0 },
	{ O_POLL, "poll", 0, "TFLOCK_POLL", T_DUR, F(poll_ms), CMD_RUN, "DUR",
	  "how often the first waiter in line reads the lock (default 250ms, 50ms..10s): "
	  "shorter hands a released lock over sooner for more requests",
	  0, 10 },
	{ O_CONFLICT_EXIT_CODE, "conflict-exit-code", 0, "TFLOCK_CONFLICT_EXIT_CODE", T_INT,
	  F(conflict_exit_code), CMD_RUN | CMD_STATUS | CMD_UNLOCK | CMD_RELEASE, "N",
	  "exit code when the lock is held by someone else (default 75)", 3, 255 },
	{ O_QUIET, "quiet", 'q', "TFLOCK_QUIET", T_BOOL, F(quiet), CMD_ALL, NULL,
	  "print errors only", 0, 0 },
	{ O_VERBOSE, "verbose", 'v', "TFLOCK_VERBOSE", T_COUNT, F(verbose), CMD_ALL, NULL,
	  "print every setting and request (secrets redacted); twice for more", 0, 3 },
	{ O_JSON, "json", 0, NULL, T_BOOL, F(json), CMD_STATUS, NULL, "print the status as JSON", 0,
	  0 },
	{ O_WATCH, "watch", 0, NULL, T_BOOL, F(watch), CMD_STATUS, NULL,
	  "watch the lock for one lease to tell whether it is stale", 0, 0 },
	{ O_ALL, "all", 0, NULL, T_BOOL, F(all), CMD_STATUS, NULL,
	  "every lock in the bucket (and the DynamoDB table), stalest first; exit 78 when one is "
	  "likely stale or malformed",
	  0, 0 },
	{ O_PREFIX, "prefix", 0, NULL, T_STR, F(prefix), CMD_STATUS, "P",
	  "with --all: only state keys starting with P (default: the whole bucket)", 0, 0 },
	{ O_FORCE, "force", 0, NULL, T_BOOL, F(force), CMD_UNLOCK, NULL,
	  "without ID: release a tflock lock proven stale by watching it for one lease", 0, 0 },
	{ O_OPERATION, "operation", 0, "TFLOCK_OPERATION", T_STR, F(operation), CMD_RUN, "OP",
	  "Operation written in the lock (default: from the command)", 0, 0 },
	{ O_ON_LOST, "on-lost", 0, "TFLOCK_ON_LOST", T_STR, F(on_lost), CMD_RUN,
	  "interrupt|kill|report",
	  "if the lock is lost while the command runs: SIGINT it (default), kill it, or only "
	  "report",
	  0, 0 },
	{ O_LOST_EXIT_CODE, "lost-exit-code", 0, "TFLOCK_LOST_EXIT_CODE", T_INT, F(lost_exit_code),
	  CMD_RUN, "N", "exit code when the lock was lost (default 76)", 3, 255 },
	{ O_UNSAFE_KEEP_RUNNING, "unsafe-keep-running", 0, "TFLOCK_UNSAFE_KEEP_RUNNING", T_BOOL,
	  F(unsafe_keep_running), CMD_RUN, NULL,
	  "let the command run on when renewals fail (it may then run unlocked)", 0, 0 },
	{ O_MAX_HOLD, "max-hold", 0, "TFLOCK_MAX_HOLD", T_DUR, F(max_hold_ms), CMD_RUN, "DUR",
	  "interrupt, then kill, a command still running after DUR", 1, 30 * 86400 },
	{ O_GRACE, "grace", 0, "TFLOCK_GRACE", T_DUR, F(grace_ms), CMD_RUN, "DUR",
	  "how long the command's processes may run on after the first signal, or its "
	  "leftover processes after it exits; then they are killed (default 10s)",
	  0, 3600 },
	{ O_TERM_GRACE, "term-grace", 0, "TFLOCK_TERM_GRACE", T_DUR, F(term_grace_ms), CMD_RUN,
	  "DUR",
	  "a SIGTERM after the first signal (a CI's \"now\") cuts the grace to DUR "
	  "(default 1s)",
	  0, 3600 },
	{ O_GIT_CHECK, "git-check", 0, "TFLOCK_GIT_CHECK", T_STR, F(git_check),
	  CMD_RUN | CMD_CHECK_GIT, "on|off|auto|strict",
	  "pre-apply git checks (default auto: for terraform apply/destroy in a git repository; "
	  "strict: also refuse when it cannot tell whether HEAD is older than the last applied "
	  "commit)",
	  0, 0 },
	{ O_EXPECT_COMMIT, "expect-commit", 0, "TFLOCK_EXPECT_COMMIT", T_STR, F(expect_commit),
	  CMD_RUN | CMD_CHECK_GIT, "SHA",
	  "refuse unless HEAD is this commit (default: GITHUB_SHA / CI_COMMIT_SHA)", 0, 0 },
	{ O_ALLOW_DIRTY, "allow-dirty", 0, "TFLOCK_ALLOW_DIRTY", T_BOOL, F(allow_dirty),
	  CMD_RUN | CMD_CHECK_GIT, NULL, "apply from a working tree with uncommitted changes", 0,
	  0 },
	{ O_ALLOW_OLDER, "allow-older", 0, "TFLOCK_ALLOW_OLDER", T_BOOL, F(allow_older),
	  CMD_RUN | CMD_CHECK_GIT, NULL,
	  "apply a commit older than the one applied last (a deliberate rollback)", 0, 0 },
	{ O_REPORT, "report", 0, "TFLOCK_REPORT", T_STR, F(report), CMD_RUN, "FILE",
	  "write a JSON report of the run to FILE (- for stdout)", 0, 0 },
	{ O_NO_LOCKFILE_CHECK, "no-lockfile-check", 0, "TFLOCK_NO_LOCKFILE_CHECK", T_BOOL,
	  F(no_lockfile_check), CMD_RUN, NULL,
	  "run even though the backend lacks use_lockfile = true (terraform will not see the lock)",
	  0, 0 },
	{ O_DYNAMODB_TABLE, "dynamodb-table", 0, "TFLOCK_DYNAMODB_TABLE", T_STR, F(dynamodb_table),
	  NET, "NAME",
	  "also hold Terraform's DynamoDB lock item in table NAME (the backend's dynamodb_table)",
	  0, 0 },
	{ O_DYNAMODB_ENDPOINT, "dynamodb-endpoint", 0, "TFLOCK_DYNAMODB_ENDPOINT", T_STR,
	  F(dynamodb_endpoint), NET, "URL", "custom DynamoDB endpoint (default: AWS's)", 0, 0 },
	{ O_LOCK_TAGS, "lock-tags", 0, "TFLOCK_LOCK_TAGS", T_STR, F(lock_tags),
	  CMD_RUN | CMD_DOCTOR | CMD_UNLOCK | CMD_RELEASE, "K=V,...",
	  "tag the lock object (needs s3:PutObjectTagging), e.g. for a lifecycle rule expiring "
	  "old lock versions",
	  0, 0 },
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static const struct opt_def *def_of(enum cfg_opt id)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (defs[i].id == id)
			return &defs[i];
	return NULL;
}

const char *config_source_name(enum cfg_source s)
{
	switch (s) {
	case SRC_FLAG:
		return "command line";
	case SRC_ENV:
		return "environment (TFLOCK_*)";
	case SRC_BACKEND:
		return "terraform backend";
	case SRC_HELD:
		return "the outer tflock, TFLOCK_HELD_*";
	case SRC_AWS_ENV:
		return "environment (AWS_*)";
	case SRC_DEFAULT:
		return "default";
	default:
		return "unset";
	}
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->lease_ms = 120000;
	c->timeout_ms = -1;
	c->conflict_exit_code = EXIT_HELD;
	c->lost_exit_code = EXIT_LOST;
	c->grace_ms = 10000;
	c->term_grace_ms = 1000;
	c->time_scale = 1.0;
	for (int i = 0; i < O_MAX; i++)
		c->src[i] = SRC_DEFAULT;
	c->src[O_BUCKET] = c->src[O_KEY] = c->src[O_REGION] = c->src[O_ENDPOINT] = SRC_UNSET;
	c->src[O_WORKSPACE] = c->src[O_WORKSPACE_KEY_PREFIX] = c->src[O_PROFILE] = SRC_UNSET;
	c->src[O_OPERATION] = SRC_UNSET;
	c->src[O_ON_LOST] = SRC_UNSET;
	c->src[O_CI_TAKEOVER] = SRC_UNSET;
	c->src[O_GIT_CHECK] = SRC_UNSET;
	c->src[O_EXPECT_COMMIT] = SRC_UNSET;
	c->src[O_REPORT] = SRC_UNSET;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->shared_credentials_file);
	free(c->shared_config_file);
	free(c->sts_endpoint);
	free(c->role_arn);
	free(c->session_name);
	free(c->external_id);
	free(c->held_endpoint);
	free(c->held_region);
	free(c->held_ddb_table);
	free(c->held_ddb_endpoint);
	c->held_endpoint = c->held_region = c->held_ddb_table = c->held_ddb_endpoint = NULL;
	free(c->lock_tagging);
	c->lock_tagging = NULL;
	for (size_t i = 0; i < NDEFS; i++) {
		if (defs[i].type == T_STR) {
			char **p = (char **)((char *)c + defs[i].offset);
			free(*p);
			*p = NULL;
		}
	}
}

/* the TFLOCK_HELD_* variable an outer tflock passes for opt, or NULL */
static const char *held_var(enum cfg_opt opt)
{
	return opt == O_ENDPOINT            ? "TFLOCK_HELD_S3_ENDPOINT"
	       : opt == O_REGION            ? "TFLOCK_HELD_REGION"
	       : opt == O_PATH_STYLE        ? "TFLOCK_HELD_PATH_STYLE"
	       : opt == O_DYNAMODB_TABLE    ? "TFLOCK_HELD_DYNAMODB_TABLE"
	       : opt == O_DYNAMODB_ENDPOINT ? "TFLOCK_HELD_DYNAMODB_ENDPOINT"
	                                    : NULL;
}

static const char *origin(const struct opt_def *d, enum cfg_source src, char *tmp, size_t n)
{
	if (src == SRC_FLAG)
		snprintf(tmp, n, "--%s", d->name);
	else if (src == SRC_ENV && d->env)
		snprintf(tmp, n, "%s", d->env);
	else if (src == SRC_HELD && held_var(d->id))
		snprintf(tmp, n, "%s (from the outer tflock)", held_var(d->id));
	else
		snprintf(tmp, n, "%s (%s)", d->name, config_source_name(src));
	return tmp;
}

int config_set(struct config *c, enum cfg_opt opt, const char *value, enum cfg_source src,
               struct tf_error *err)
{
	const struct opt_def *d = def_of(opt);
	void *field;
	char where[96];
	if (!d)
		return err_set(err, ERR_INTERNAL, "unknown option %d", (int)opt);
	if (src < c->src[opt])
		return 0; /* a higher-ranked source already set it */
	field = (char *)c + d->offset;
	origin(d, src, where, sizeof(where));
	switch (d->type) {
	case T_STR:
		if (!value || !*value)
			return err_set(err, ERR_USAGE, "%s: empty value", where);
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		break;
	case T_BOOL: {
		int b = 1;
		if (value && bool_parse(value, &b, err)) {
			err_prefix(err, "%s", where);
			return ERR_USAGE;
		}
		*(int *)field = b;
		break;
	}
	case T_COUNT: {
		int b = 1;
		if (src == SRC_FLAG) {
			(*(int *)field)++;
			break;
		}
		if (value && bool_parse(value, &b, err)) {
			long n;
			if (num_parse(value, d->min, d->max, &n, err)) {
				err_set(err, ERR_USAGE,
				        "%s: '%s' is not a boolean or a level 0..%ld", where, value,
				        d->max);
				return ERR_USAGE;
			}
			b = (int)n;
		}
		*(int *)field = b;
		break;
	}
	case T_DUR: {
		int64_t ms;
		if (!value || dur_parse(value, &ms, err)) {
			err_prefix(err, "%s", where);
			return ERR_USAGE;
		}
		if (ms < d->min * 1000 || ms > d->max * 1000) {
			char lo[32], hi[32];
			dur_format(d->min * 1000, lo, sizeof(lo));
			dur_format(d->max * 1000, hi, sizeof(hi));
			return err_set(err, ERR_USAGE, "%s: '%s' is out of range (%s..%s)", where,
			               value, lo, hi);
		}
		*(int64_t *)field = ms;
		break;
	}
	case T_INT: {
		long n;
		if (!value || num_parse(value, d->min, d->max, &n, err)) {
			err_prefix(err, "%s", where);
			return ERR_USAGE;
		}
		*(long *)field = n;
		break;
	}
	}
	c->src[opt] = src;
	return 0;
}

int config_from_env(struct config *c, struct tf_error *err)
{
	const char *v;
	int ret;
	for (size_t i = 0; i < NDEFS; i++) {
		if (!defs[i].env)
			continue;
		v = getenv(defs[i].env);
		if (!v || !*v)
			continue;
		ret = config_set(c, defs[i].id, v, SRC_ENV, err);
		if (ret)
			return ret;
	}
	/* AWS_* fallbacks, ranked below the Terraform backend */
	if ((v = getenv("AWS_REGION")) && *v)
		config_set(c, O_REGION, v, SRC_AWS_ENV, err);
	else if ((v = getenv("AWS_DEFAULT_REGION")) && *v)
		config_set(c, O_REGION, v, SRC_AWS_ENV, err);
	if ((v = getenv("AWS_ENDPOINT_URL_S3")) && *v)
		config_set(c, O_ENDPOINT, v, SRC_AWS_ENV, err);
	else if ((v = getenv("AWS_ENDPOINT_URL")) && *v)
		config_set(c, O_ENDPOINT, v, SRC_AWS_ENV, err);
	if ((v = getenv("AWS_PROFILE")) && *v)
		config_set(c, O_PROFILE, v, SRC_AWS_ENV, err);
	if ((v = getenv("TF_WORKSPACE")) && *v)
		config_set(c, O_WORKSPACE, v, SRC_AWS_ENV, err);
	/* the outer tflock's store: used by config_finish() unless told otherwise */
	if ((v = getenv("AWS_ENDPOINT_URL_DYNAMODB")) && *v)
		config_set(c, O_DYNAMODB_ENDPOINT, v, SRC_AWS_ENV, err);
	else if ((v = getenv("AWS_DYNAMODB_ENDPOINT")) && *v)
		config_set(c, O_DYNAMODB_ENDPOINT, v, SRC_AWS_ENV, err);
	else if ((v = getenv("AWS_ENDPOINT_URL")) && *v)
		config_set(c, O_DYNAMODB_ENDPOINT, v, SRC_AWS_ENV, err);
	free(c->held_endpoint);
	free(c->held_region);
	free(c->held_ddb_table);
	free(c->held_ddb_endpoint);
	v = getenv("TFLOCK_HELD_DYNAMODB_TABLE");
	c->held_ddb_table = v && *v ? xstrdup(v) : NULL;
	v = getenv("TFLOCK_HELD_DYNAMODB_ENDPOINT");
	c->held_ddb_endpoint = v && *v ? xstrdup(v) : NULL;
	v = getenv("TFLOCK_HELD_S3_ENDPOINT");
	c->held_endpoint = v && *v ? xstrdup(v) : NULL;
	v = getenv("TFLOCK_HELD_REGION");
	c->held_region = v && *v ? xstrdup(v) : NULL;
	v = getenv("TFLOCK_HELD_PATH_STYLE");
	c->held_path_style = v && !strcmp(v, "true");
	if ((v = getenv("TFLOCK_TIME_SCALE")) && *v) {
		char *end;
		double s = strtod(v, &end);
		if (*end || !(s >= 0.001 && s <= 1000))
			return err_set(err, ERR_USAGE,
			               "TFLOCK_TIME_SCALE: '%s' is not a number in 0.001..1000", v);
		c->time_scale = s;
	}
	return 0;
}

static void config_usage(unsigned cmd);

int config_from_args(struct config *c, unsigned cmd, int argc, char **argv, int *optind_out,
                     struct tf_error *err)
{
	struct option longopts[NDEFS + 3];
	struct buf shortopts = BUF_INIT;
	size_t n = 0;
	int ch, ret = 0;

	buf_adds(&shortopts, "+hV");
	for (size_t i = 0; i < NDEFS; i++) {
		if (!applies(defs[i].cmds, cmd))
			continue;
		longopts[n].name = defs[i].name;
		longopts[n].has_arg = (defs[i].type == T_BOOL || defs[i].type == T_COUNT)
		                              ? no_argument
		                              : required_argument;
		longopts[n].flag = NULL;
		longopts[n].val = 1000 + (int)i;
		n++;
		if (defs[i].shortc) {
			buf_addc(&shortopts, (char)defs[i].shortc);
			if (longopts[n - 1].has_arg == required_argument)
				buf_addc(&shortopts, ':');
		}
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts.data, longopts, NULL)) != -1) {
		const struct opt_def *d = NULL;
		if (ch == 'h') {
			config_usage(cmd);
			ret = 1;
			goto out;
		}
		if (ch == 'V') {
			printf("tflock %s\n", TFLOCK_VERSION);
			ret = 1;
			goto out;
		}
		if (ch >= 1000)
			d = &defs[ch - 1000];
		else
			for (size_t i = 0; i < NDEFS; i++)
				if (defs[i].shortc == ch && applies(defs[i].cmds, cmd))
					d = &defs[i];
		if (!d) {
			const char *bad = argv[optind - 1];
			if (optopt && optopt < 1000)
				ret = err_set(err, ERR_USAGE,
				              "unknown option '-%c' (try 'tflock --help')", optopt);
			else if (ch == ':' || (optopt >= 1000))
				ret = err_set(err, ERR_USAGE, "option '%s' needs a value", bad);
			else
				ret = err_set(err, ERR_USAGE,
				              "unknown option '%s' (try 'tflock --help')", bad);
			goto out;
		}
		ret = config_set(c, d->id, optarg, SRC_FLAG, err);
		if (ret)
			goto out;
	}
	*optind_out = optind;
out:
	buf_free(&shortopts);
	return ret;
}

int64_t config_scaled(const struct config *c, int64_t ms)
{
	double v = (double)ms * c->time_scale;
	return v < 1 ? 1 : (int64_t)v;
}

/* The outer tflock's store, as one set, unless this run was given an endpoint
 * of its own (flag, TFLOCK_*, backend): its region and addressing then belong
 * to that endpoint, not to the outer's. */
static int apply_held_store(struct config *c, struct tf_error *err)
{
	int ret = 0;
	if (c->held_ddb_table && c->src[O_DYNAMODB_TABLE] < SRC_HELD) {
		ret = config_set(c, O_DYNAMODB_TABLE, c->held_ddb_table, SRC_HELD, err);
		if (!ret && c->held_ddb_endpoint && c->src[O_DYNAMODB_ENDPOINT] < SRC_HELD)
			ret = config_set(c, O_DYNAMODB_ENDPOINT, c->held_ddb_endpoint, SRC_HELD,
			                 err);
		if (ret)
			return ret;
	}
	if (c->src[O_ENDPOINT] >= SRC_HELD)
		return 0;
	if (c->held_endpoint)
		ret = config_set(c, O_ENDPOINT, c->held_endpoint, SRC_HELD, err);
	if (!ret && c->held_region)
		ret = config_set(c, O_REGION, c->held_region, SRC_HELD, err);
	if (!ret && c->held_path_style)
		ret = config_set(c, O_PATH_STYLE, "true", SRC_HELD, err);
	return ret;
}

/* what S3 would refuse, as a usage error naming where the value came from */
static int check_store_names(struct config *c, struct tf_error *err)
{
	char where[96], *state_key, *lock_key;
	int ret;
	if (s3_check_bucket(c->bucket, err)) {
		err_prefix(err, "%s",
		           origin(def_of(O_BUCKET), c->src[O_BUCKET], where, sizeof(where)));
		return ERR_USAGE;
	}
	if (c->region && s3_check_region(c->region, err)) {
		err_prefix(err, "%s",
		           origin(def_of(O_REGION), c->src[O_REGION], where, sizeof(where)));
		return ERR_USAGE;
	}
	if (c->endpoint && s3_check_endpoint(c->endpoint, err)) {
		err_prefix(err, "%s",
		           origin(def_of(O_ENDPOINT), c->src[O_ENDPOINT], where, sizeof(where)));
		return ERR_USAGE;
	}
	if (!c->key) /* status --all */
		return 0;
	/* the lock object's key as the lock is taken (PROTOCOL A1: workspace prefix) */
	state_key = backend_state_key(c->key, c->workspace ? c->workspace : "default",
	                              c->workspace_key_prefix ? c->workspace_key_prefix : "env:");
	lock_key = xasprintf("%s.tflock", state_key);
	ret = s3_check_key(lock_key, err);
	if (ret) {
		/* quote its ends, cut on UTF-8 character boundaries */
		size_t n = strlen(lock_key), head = 40, tail = n - 16;
		while (head && ((unsigned char)lock_key[head] & 0xc0) == 0x80)
			head--;
		while (tail < n && ((unsigned char)lock_key[tail] & 0xc0) == 0x80)
			tail++;
		ret = err_set(err, ERR_USAGE,
		              "%s: the lock key '%.*s...%s' is %zu bytes, over S3's limit of "
		              "%d bytes for a key (UTF-8): use a shorter state key",
		              origin(def_of(O_KEY), c->src[O_KEY], where, sizeof(where)), (int)head,
		              lock_key, lock_key + tail, n, S3_MAX_KEY);
	}
	free(lock_key);
	free(state_key);
	return ret;
}

int config_finish(struct config *c, unsigned cmd, struct tf_error *err)
{
	if (c->quiet && c->verbose)
		return err_set(err, ERR_USAGE, "--quiet and --verbose contradict each other");
	if (apply_held_store(c, err))
		return ERR_USAGE;
	if (!c->bucket)
		return err_set(err, ERR_USAGE,
		               "no bucket: pass --bucket (or TFLOCK_BUCKET), or run in a directory "
		               "where 'terraform init' set up an s3 backend");
	if (c->prefix && !c->all)
		return err_set(err, ERR_USAGE, "--prefix is for status --all");
	if (c->all && c->watch)
		return err_set(err, ERR_USAGE, "--all and --watch contradict each other");
	if (!c->key && !c->all)
		return err_set(err, ERR_USAGE, "no state key: pass --key (or TFLOCK_KEY)");
	if (c->key && c->key[0] == '/')
		return err_set(err, ERR_USAGE, "state key '%s' must not start with '/'", c->key);
	if (check_store_names(c, err))
		return ERR_USAGE;
	if (c->no_wait && c->src[O_TIMEOUT] >= SRC_ENV && c->timeout_ms > 0)
		return err_set(err, ERR_USAGE, "--no-wait and --timeout contradict each other");
	if (c->src[O_POLL] >= SRC_ENV && c->poll_ms < 50)
		return err_set(err, ERR_USAGE, "--poll: %lldms is below 50ms",
		               (long long)c->poll_ms);
	if (c->on_lost && strcmp(c->on_lost, "interrupt") && strcmp(c->on_lost, "kill") &&
	    strcmp(c->on_lost, "report"))
		return err_set(err, ERR_USAGE,
		               "--on-lost: '%s' is not one of interrupt, kill, report", c->on_lost);
	if (c->ci_takeover && strcmp(c->ci_takeover, "auto") && strcmp(c->ci_takeover, "off") &&
	    strcmp(c->ci_takeover, "any"))
		return err_set(err, ERR_USAGE, "--ci-takeover: '%s' is not one of auto, off, any",
		               c->ci_takeover);
	if (c->tie && strcmp(c->tie, "run") && strcmp(c->tie, "none"))
		return err_set(err, ERR_USAGE, "--tie: '%s' is not one of run, none", c->tie);
	if (cmd == CMD_HOLD && !c->park_for_ms)
		return err_set(err, ERR_USAGE,
		               "hold needs --for DUR: how long the lock stays parked");
	if (c->git_check && strcmp(c->git_check, "on") && strcmp(c->git_check, "off") &&
	    strcmp(c->git_check, "auto") && strcmp(c->git_check, "strict"))
		return err_set(err, ERR_USAGE,
		               "--git-check: '%s' is not one of on, off, auto, strict",
		               c->git_check);
	free(c->lock_tagging);
	c->lock_tagging = NULL;
	if (c->lock_tags && *c->lock_tags &&
	    config_lock_tagging(c->lock_tags, &c->lock_tagging, err)) {
		err_prefix(err, "--lock-tags");
		return ERR_USAGE;
	}
	log_level = c->quiet ? 0 : 1 + c->verbose;
	return 0;
}

/* the length in characters of UTF-8 text, or -1 when it is not UTF-8 or
 * holds a character a tag may not (ASCII other than letters, digits, space
 * and _ . : / = + - @) */
static long tag_chars(const char *s, size_t n)
{
	long chars = 0;
	for (size_t i = 0; i < n; chars++) {
		unsigned char ch = (unsigned char)s[i];
		size_t len = utf8_decode((const unsigned char *)s + i, n - i, NULL);
		if (!len || (len == 1 && !isalnum(ch) && !strchr(" _.:/=+-@", ch)))
			return -1;
		i += len;
	}
	return chars;
}

int config_lock_tagging(const char *list, char **out, struct tf_error *err)
{
	struct buf b = BUF_INIT;
	const char *p = list, *keys[10];
	size_t klen[10], ntags = 0;

	*out = NULL;
	for (;;) {
		size_t n = strcspn(p, ","), kn;
		const char *eq = memchr(p, '=', n);
		long kc, vc;
		char *ek, *ev;
		if (!eq || eq == p) {
			buf_free(&b);
			return err_set(err, ERR_USAGE, "'%.*s' is not KEY=VALUE", (int)n, p);
		}
		kn = (size_t)(eq - p);
		kc = tag_chars(p, kn);
		vc = tag_chars(eq + 1, n - kn - 1);
		if (kc < 0 || vc < 0 || kc > 128 || vc > 256 || !strncmp(p, "aws:", 4)) {
			buf_free(&b);
			return err_set(
			        err, ERR_USAGE, "tag '%.*s': %s", (int)n, p,
			        !strncmp(p, "aws:", 4) ? "keys starting with aws: are AWS's own"
			        : kc < 0 || vc < 0
			                ? "only letters, digits, spaces and _ . : / = + - @ are "
			                  "allowed"
			        : kc > 128 ? "the key is over 128 characters"
			                   : "the value is over 256 characters");
		}
		for (size_t i = 0; i < ntags; i++)
			if (klen[i] == kn && !memcmp(keys[i], p, kn)) {
				buf_free(&b);
				return err_set(err, ERR_USAGE, "tag key '%.*s' given twice",
				               (int)kn, p);
			}
		if (ntags == 10) {
			buf_free(&b);
			return err_set(err, ERR_USAGE, "more than 10 tags (S3's limit per object)");
		}
		keys[ntags] = p;
		klen[ntags++] = kn;
		ek = sigv4_uri_encode(p, kn, 0);
		ev = sigv4_uri_encode(eq + 1, n - kn - 1, 0);
		buf_addf(&b, "%s%s=%s", b.len ? "&" : "", ek, ev);
		free(ek);
		free(ev);
		if (!p[n])
			break;
		p += n + 1;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

void config_dump(const struct config *c)
{
	char v[256];
	for (size_t i = 0; i < NDEFS; i++) {
		const struct opt_def *d = &defs[i];
		const void *field = (const char *)c + d->offset;
		if (c->src[d->id] == SRC_UNSET)
			continue;
		switch (d->type) {
		case T_STR:
			snprintf(v, sizeof(v), "%s",
			         *(char *const *)field ? *(char *const *)field : "");
			break;
		case T_BOOL:
		case T_COUNT:
			snprintf(v, sizeof(v), "%d", *(const int *)field);
			break;
		case T_DUR:
			if (*(const int64_t *)field < 0)
				snprintf(v, sizeof(v), "none");
			else
				dur_format(*(const int64_t *)field, v, sizeof(v));
			break;
		case T_INT:
			snprintf(v, sizeof(v), "%ld", *(const long *)field);
			break;
		}
		log_verbose("setting %s = %s (from %s)", d->name, v,
		            config_source_name(c->src[d->id]));
	}
}

/* One option for --help, within 80 columns: the flag in a 28-column margin (its
 * own line when longer), the text word-wrapped beside it, the environment twin
 * last. */
static void usage_option(const char *flag, const char *help, const char *env)
{
	enum { MARGIN = 30, WIDTH = 80 };
	char *text = env ? xasprintf("%s [%s]", help, env) : xstrdup(help);
	const char *w = text;
	int col;
	if (strlen(flag) + 2 > MARGIN - 2) {
		printf("  %s\n%*s", flag, MARGIN, "");
	} else {
		printf("  %-*s", MARGIN - 2, flag);
	}
	col = MARGIN;
	while (*w) {
		size_t n = strcspn(w, " ");
		if (col > MARGIN && col + 1 + (int)n > WIDTH) {
			printf("\n%*s", MARGIN, "");
			col = MARGIN;
		} else if (col > MARGIN) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)n, w);
		col += (int)n;
		w += n;
		while (*w == ' ')
			w++;
	}
	putchar('\n');
	free(text);
}

/* --help: the synopsis and the options cmd takes, on stdout. */
static void config_usage(unsigned cmd)
{
	const char *sub = cmd == CMD_STATUS      ? "status"
	                  : cmd == CMD_UNLOCK    ? "unlock"
	                  : cmd == CMD_DOCTOR    ? "doctor"
	                  : cmd == CMD_RELEASE   ? "release"
	                  : cmd == CMD_CHECK_GIT ? "check-git"
	                  : cmd == CMD_HOLD      ? "hold"
	                                         : NULL;
	if (sub)
		printf("usage: tflock %s [OPTIONS]%s\n\n", sub,
		       cmd == CMD_UNLOCK ? " [ID]"
		       : cmd == CMD_HOLD ? " --for DUR [--] [COMMAND [ARGS...]]"
		                         : "");
	else
		printf("usage: tflock [run] [OPTIONS] [--] COMMAND [ARGS...]\n"
		       "       tflock status [OPTIONS]\n"
		       "       tflock unlock [OPTIONS] ID | --force\n"
		       "       tflock doctor [OPTIONS]\n"
		       "       tflock release [OPTIONS]   (cleanup: a lock this job left behind)\n"
		       "       tflock hold --for DUR [OPTIONS] [--] [COMMAND...]\n"
		       "                                  (park the lock for a later run "
		       "--resume)\n"
		       "       tflock check-git [OPTIONS] (the pre-apply git checks, without "
		       "locking)\n\n"
		       "Run COMMAND while holding Terraform's S3 state lock (KEY.tflock): wait "
		       "while\n"
		       "someone else holds it, keep it alive while COMMAND runs, release it "
		       "after.\n"
		       "Where terraform init ran, bucket, key, region and the rest come from\n"
		       ".terraform/ by themselves (TF_DATA_DIR, -chdir and the workspace "
		       "honoured).\n\n"
		       "Example:  tflock -- terraform apply -auto-approve\n"
		       "          tflock --bucket B --key env/prod.tfstate --timeout 10m -- "
		       "./deploy.sh\n"
		       "\n");
	printf("Options (each also as the environment variable shown):\n");
	for (size_t i = 0; i < NDEFS; i++) {
		const struct opt_def *d = &defs[i];
		char flag[64];
		if (!applies(d->cmds, cmd))
			continue;
		if (d->shortc)
			snprintf(flag, sizeof(flag), "-%c, --%s%s%s", d->shortc, d->name,
			         d->arg ? " " : "", d->arg ? d->arg : "");
		else
			snprintf(flag, sizeof(flag), "    --%s%s%s", d->name, d->arg ? " " : "",
			         d->arg ? d->arg : "");
		usage_option(flag, d->help, d->env);
	}
	usage_option("-h, --help", "show this help", NULL);
	usage_option("-V, --version", "show the version", NULL);
	printf("\nDurations: 90 (seconds), 90s, 5m, 1h. Booleans in the environment:\n"
	       "  1/true/yes, 0/false/no.\n"
	       "Precedence: flag > TFLOCK_* > terraform backend > outer tflock (TFLOCK_HELD_*)\n"
	       "  > AWS_* > default; a nested tflock uses its outer tflock's store unless given\n"
	       "  an endpoint of its own.\n"
	       "\nExit codes: the command's own status when it ran (128+N if killed by signal N);\n"
	       "  75 lock held by someone else (timeout, --no-wait; status: held),\n"
	       "  76 lock lost while held, or the lease cut the command short,\n"
	       "  69 store unusable (credentials, bucket, self-test; kept failing while\n"
	       "     acquiring; the release failed after the command succeeded),\n"
	       "  64 usage or configuration error (also a bucket name, region, endpoint port or\n"
	       "     lock key over 1024 bytes that S3 would refuse),\n"
	       "  70 internal error, or a store reply tflock cannot use (a body over 1 MB),\n"
	       "  77 refused by the pre-apply check (dirty tree, unexpected or older\n"
	       "     commit, hook),\n"
	       "  78 status --all: at least one lock is likely stale or malformed,\n"
	       "  126 command not executable, 127 command not found.\n");
}
