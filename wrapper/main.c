/*
 * tflock — serialise Terraform runs on Terraform's own S3 lock object.
 *
 * main.c: parse the command line, build the configuration, dispatch to the
 * subcommand's module, return its exit code. Nothing else lives here: a new
 * subcommand is a module and one row of the table below.
 *
 * The way of `tflock [run] -- CMD`: config (config.c: flags, TFLOCK_*) →
 * the backend terraform set up (target.c) → runcmd.c: re-entry, the command
 * checked, the store's client (s3.c, creds.c), self-test and acquire (lock.c)
 * → git checks (preapply.c) → the command with heartbeat and signals
 * (run.c) → release → summary and reports (outcome.c, report.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"
#include "gitcheck.h"
#include "guardian.h"
#include "http.h"
#include "invocation.h"
#include "log.h"
#include "park.h"
#include "reclaim.h"
#include "runcmd.h"
#include "status.h"
#include "status_all.h"

/* What a subcommand takes after its options. */
enum operands {
	OPERANDS_NONE,        /* nothing */
	OPERANDS_ID_OR_FORCE, /* a lock ID, or --force */
	OPERANDS_COMMAND,     /* the command to run (at least one word) */
	OPERANDS_ANY_COMMAND, /* a command to run, or none (hold) */
};

/* When a subcommand's operands are checked: where each was checked before
 * the table, so that which of two usage errors is reported, and what -v or a
 * backend warning prints before it, stays as it was. */
enum stage {
	STAGE_PARSED,  /* right after the options */
	STAGE_BACKEND, /* after the backend terraform set up was read */
	STAGE_FINAL,   /* after config_finish() and -v's settings */
};

struct subcommand {
	const char *name;       /* the word after "tflock" */
	unsigned id;            /* CMD_*: which options apply (config.c) */
	enum operands operands; /* checked by check_operands() */
	enum stage checked;     /* when */
	int reported;           /* every exit writes the reports (issue 16.2) */
	/* args: the operands, NULL-terminated; returns the exit code */
	int (*fn)(struct invocation *s, char **args);
};

static int do_run(struct invocation *s, char **args)
{
	return runcmd_main(s, args);
}

static int do_hold(struct invocation *s, char **args)
{
	/* B14.4: a parking outlives its process; under another tflock it would
	 * outlive the outer's hold as well */
	if (getenv("TFLOCK_HELD_DIR"))
		die(EXIT_USAGE, "tflock hold cannot run under another tflock: run it as the job's "
		                "own step");
	s->hold = 1;
	return runcmd_main(s, args);
}

static int do_status(struct invocation *s, char **args)
{
	(void)args;
	return s->c.all ? status_all_main(&s->c, &s->t) : status_main(&s->c, &s->t);
}

static int do_unlock(struct invocation *s, char **args)
{
	return reclaim_unlock(&s->c, &s->t, args[0]); /* NULL: --force */
}

static int do_release(struct invocation *s, char **args)
{
	(void)args;
	if (s->c.handle_file) /* B14.4: a parked lock, by its handle */
		return park_release(&s->c, &s->t);
	return reclaim_release(&s->c, &s->t, &s->ci);
}

static int do_check_git(struct invocation *s, char **args)
{
	(void)args;
	return gitcheck_main(&s->c, &s->t);
}

/* `tflock doctor`: the store and the setup, checked by doctor.c. */
static int do_doctor(struct invocation *s, char **args)
{
	const struct config *c = &s->c;
	const struct target *t = &s->t;
	struct s3_config sc;
	struct s3_client *s3 = NULL;
	struct tf_error err;
	struct doctor_input in;
	struct lock_opts o;
	struct lock *l = NULL;
	int fails;
	(void)args;
	memset(&in, 0, sizeof(in));
	err_clear(&err);
	target_s3_config(c, &sc);
	printf("tflock doctor: s3://%s/%s\n", c->bucket, c->key);
	if (s3_client_new(&sc, &s3, &err)) {
		in.creds_error = err.msg;
		fails = doctor_run(&in);
		printf("%d check(s) failed\n", fails);
		return fails ? EXIT_UNAVAILABLE : 0;
	}
	target_lock_opts(t, c, &o);
	o.operation = "doctor";
	o.info = "tflock doctor";
	l = target_lock(s3, t, c, &o);
	in.s3 = s3;
	in.lock = l;
	in.use_lockfile = t->backend_found ? t->backend.use_lockfile : -1;
	in.backend_found = t->backend_found;
	in.dynamodb_table = t->backend_found ? t->backend.dynamodb_table : NULL;
	in.lock_tags = c->lock_tags;
	fails = doctor_run(&in);
	printf("%d check(s) failed\n", fails);
	lock_free(l);
	s3_client_free(s3);
	return fails ? EXIT_UNAVAILABLE : 0;
}

/* The first is the default: `tflock [OPTIONS] [--] COMMAND`. */
static const struct subcommand subcommands[] = {
	{ "run", CMD_RUN, OPERANDS_COMMAND, STAGE_PARSED, 1, do_run },
	{ "status", CMD_STATUS, OPERANDS_NONE, STAGE_PARSED, 0, do_status },
	{ "unlock", CMD_UNLOCK, OPERANDS_ID_OR_FORCE, STAGE_BACKEND, 0, do_unlock },
	{ "doctor", CMD_DOCTOR, OPERANDS_NONE, STAGE_FINAL, 0, do_doctor },
	{ "release", CMD_RELEASE, OPERANDS_NONE, STAGE_FINAL, 0, do_release },
	{ "check-git", CMD_CHECK_GIT, OPERANDS_NONE, STAGE_FINAL, 0, do_check_git },
	{ "hold", CMD_HOLD, OPERANDS_ANY_COMMAND, STAGE_PARSED, 1, do_hold },
};

/* The subcommand argv[1] names; *named 0 when it names none (then argv[1] is
 * an option or the command of the default, run). */
static const struct subcommand *subcommand_of(int argc, char **argv, int *named)
{
	*named = 0;
	for (size_t i = 0; argc > 1 && i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name)) {
			*named = 1;
			return &subcommands[i];
		}
	return &subcommands[0];
}

/* The subcommand's operands, checked once: at the stage its row names. */
static void check_operands(const struct subcommand *sc, enum stage now, const struct config *c,
                           char **args, int nargs)
{
	if (now != sc->checked)
		return;
	switch (sc->operands) {
	case OPERANDS_COMMAND:
		if (nargs < 1)
			die(EXIT_USAGE,
			    "no command given: usage: tflock [OPTIONS] [--] COMMAND [ARGS...]");
		break;
	case OPERANDS_ANY_COMMAND:
		break;
	case OPERANDS_NONE:
		if (nargs > 0)
			die(EXIT_USAGE, "%s takes no arguments (got '%s')", sc->name, args[0]);
		break;
	case OPERANDS_ID_OR_FORCE:
		if (nargs > 1)
			die(EXIT_USAGE, "%s takes one ID (got '%s' too)", sc->name, args[1]);
		if (nargs == 0 && !c->force)
			die(EXIT_USAGE, "%s needs the lock ID (see 'tflock status'), or --force",
			    sc->name);
		if (nargs == 1 && c->force)
			die(EXIT_USAGE, "%s: give an ID or --force, not both", sc->name);
		break;
	}
}

/* Before anything opens a file or a socket: a descriptor 0, 1 or 2 closed at
 * start (`tflock ... 2>&-`) would be reused by the next open (a libcurl socket)
 * and log lines, status output or the command's own output would go there.
 * -1 when /dev/null cannot be opened. */
static int std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nul;
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		nul = open("/dev/null", O_RDWR);
		if (nul < 0)
			return -1;
		if (nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
	return 0;
}

static void invocation_init(struct invocation *s)
{
	memset(s, 0, sizeof(*s));
	config_init(&s->c);
	target_init(&s->t);
	reentry_init(&s->re);
}

static void invocation_free(struct invocation *s)
{
	config_free(&s->c);
	target_free(&s->t);
	tfcmd_free(&s->tf);
	reentry_free(&s->re);
	gitinfo_free(&s->gi);
	ci_identity_free(&s->ci);
}

static void die_usage(const struct tf_error *err)
{
	die(EXIT_USAGE, "%s", err->msg);
}

int main(int argc, char **argv)
{
	struct invocation s;
	const struct subcommand *sc;
	struct tf_error err;
	int named, optind_out = 0, ret, nested_any, sub_argc, nargs;
	char **sub_argv, **args;

	if (argc > 0 && !strcmp(argv[0], GUARDIAN_ARGV0)) /* tflock's own helper (B9) */
		return guardian_main(argc, argv);
	if (std_fds_open())
		return EXIT_INTERNAL; /* nowhere to say so: stderr may be closed */
	invocation_init(&s);
	err_clear(&err);
	sc = subcommand_of(argc, argv, &named);
	sub_argv = argv + named;
	sub_argc = argc - named;
	sub_argv[0] = argv[0];
	/* a nested run leaves its reports to the outer tflock */
	if (sc->reported && !getenv("TFLOCK_HELD_DIR"))
		outcome_arm(&s.xr, &s.c);

	ret = config_from_args(&s.c, sc->id, sub_argc, sub_argv, &optind_out, &err);
	if (ret == 1) { /* --help, --version */
		invocation_free(&s);
		return 0;
	}
	if (ret)
		die_usage(&err);
	if (config_from_env(&s.c, &err))
		die_usage(&err);
	args = sub_argv + optind_out;
	nargs = sub_argc - optind_out;
	check_operands(sc, STAGE_PARSED, &s.c, args, nargs);
	if (sc->id & (CMD_RUN | CMD_HOLD))
		tfcmd_parse(&s.tf, args);

	/* zero configuration from `terraform init`, unless everything was given
	 * or the run re-enters an outer tflock's lock, whatever it is (B7) */
	/* hold never re-enters: it refuses to run nested (do_hold) */
	nested_any = sc->id == CMD_RUN && runcmd_reenters_any(&s.c, &s.tf);
	if (!nested_any && (!s.c.bucket || !s.c.key || s.tf.is_terraform))
		target_from_backend(&s.t, &s.c, sc->id,
		                    (sc->id & (CMD_RUN | CMD_HOLD)) ? &s.tf : NULL);
	check_operands(sc, STAGE_BACKEND, &s.c, args, nargs);
	if (nested_any) {
		ret = runcmd_nested_any(&s, args);
		if (ret >= 0)
			goto out;
	}

	if (config_finish(&s.c, sc->id, &err))
		die_usage(&err);
	http_set_trace(s.c.verbose > 0);
	config_dump(&s.c);
	check_operands(sc, STAGE_FINAL, &s.c, args, nargs);
	ci_detect(&s.ci);
	ret = sc->fn(&s, args);
out:
	invocation_free(&s);
	return ret;
}
