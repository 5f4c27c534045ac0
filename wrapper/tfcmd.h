/*
 * tfcmd — what the wrapped command is: terraform/tofu and which subcommand.
 *
 * tfcmd_parse() looks at argv only (no I/O): the program's base name, global
 * options before the subcommand (-chdir=DIR), the subcommand with its nested
 * word ("state mv"), the Operation Terraform itself would write in the lock
 * for it (PROTOCOL A2), the TF_CLI_ARGS_<sub> variable for it, whether it
 * defines the -lock flag, and the user's own -lock flag. For any other program
 * the Operation is "OperationTypeApply (<program>)" and nothing else is set.
 *
 * The subcommand is the longest known command at the start of the arguments,
 * as Terraform's CLI (mitchellh/cli) and OpenTofu's pick it: "state mv", but
 * "state" for "state frobnicate" and "apply" for "apply plan.tfplan".
 * -chdir: Terraform takes "-chdir=DIR" only, the last one before the
 * subcommand winning (main.go extractChdirOption); OpenTofu also accepts
 * "--chdir=DIR", "-chdir DIR" and "--chdir DIR", the first one winning.
 *
 * -lock=false is injected (PROTOCOL A3, B7) through TF_CLI_ARGS_<sub>, which
 * Terraform and OpenTofu insert right after the subcommand, before the user's
 * own arguments and before the words of TF_CLI_ARGS. Their flag parser keeps
 * the last value, so an explicit -lock=true on the command line or in
 * TF_CLI_ARGS beats the injected -lock=false (lock_flag, and env_lock_flag
 * after tfcmd_apply_env(), let the caller see it).
 *
 * Commands in front of terraform: `env [-i] [-u N] [N=V]... terraform ...`,
 * `timeout [opts] DUR terraform`, `nice`, `ionice`, `stdbuf`, `time`, `setsid`,
 * `nohup` (and chains of them) are looked through, with their options, to the
 * terraform/tofu they run (argi, prefix). What such a prefix does to tflock's
 * injection is recorded: `env -i` clears the environment (env_cleared), `env`
 * assignments of TF_CLI_ARGS* override ours (env_sets), `setsid` without -w
 * returns before the command ends (setsid_nowait).
 *
 * TF_CLI_ARGS and TF_CLI_ARGS_<sub> are read as terraform reads them
 * (tfcmd_apply_env): the effective -lock and -lock-timeout are the last among
 * TF_CLI_ARGS_<sub>'s words, then TF_CLI_ARGS's, then the command line's.
 *
 * struct tfcmd owns its strings; tfcmd_free() is NULL-safe.
 */
#ifndef TFLOCK_TFCMD_H
#define TFLOCK_TFCMD_H

enum tfcmd_lock_flag {
	TFCMD_LOCK_UNSET = -1, /* no -lock flag */
	TFCMD_LOCK_FALSE = 0,  /* the last -lock flag says false */
	TFCMD_LOCK_TRUE = 1,   /* -lock, -lock=true: Terraform will take the lock itself */
};

struct tfcmd {
	int is_terraform;       /* terraform or tofu */
	int is_tofu;            /* tofu (OpenTofu) */
	char *program;          /* base name of argv[0] */
	char *chdir;            /* -chdir=DIR or NULL */
	char *sub;              /* "apply", "state mv", ... or NULL */
	char *operation;        /* for the lock body */
	char *lock_timeout;     /* value of -lock-timeout=D on the command, or NULL */
	char *cli_args_var;     /* "TF_CLI_ARGS_apply", "TF_CLI_ARGS_state_mv", ... or NULL */
	int defines_lock;       /* the subcommand defines -lock in every supported version */
	int inject_lock;        /* it locks the current workspace's state: inject -lock=false */
	int lock_flag;          /* enum tfcmd_lock_flag: the user's own -lock on the command */
	int env_lock_flag;      /* the last -lock in TF_CLI_ARGS (after tfcmd_apply_env) */
	int sub_lock_flag;      /* the last -lock in TF_CLI_ARGS_<sub> (user's, before ours) */
	int locks_without_flag; /* console: takes the state lock, no -lock (Terraform) */
	int argi;               /* index of terraform/tofu in argv (0: argv[0] itself) */
	char *prefix;           /* the first command in front of it ("timeout"), or NULL */
	int env_cleared;        /* env -i in front: our variables never reach it */
	char *env_sets;         /* a TF_CLI_ARGS* variable an env prefix sets, or NULL */
	int setsid_nowait;      /* setsid without -w in front: it returns at once */
	char *env_kv[8];        /* TF_CLI_ARGS*=VALUE words of an env prefix */
	int nenv_kv;
};

void tfcmd_parse(struct tfcmd *t, char *const argv[]);
/* Read TF_CLI_ARGS and TF_CLI_ARGS_<sub> through get (getenv, or a stand-in for
 * tests), as terraform does: fills env_lock_flag and sub_lock_flag, and
 * lock_timeout when a variable sets it and the command line does not. A -lock or
 * -lock-timeout the command line gives wins, as in terraform. Returns -1 (and
 * leaves t alone) when a variable is one terraform refuses to parse. */
int tfcmd_apply_env(struct tfcmd *t, const char *(*get)(const char *name));
/* The -lock the terraform child will end up with, tflock's injection aside:
 * command line, else TF_CLI_ARGS, else TF_CLI_ARGS_<sub>. */
int tfcmd_effective_lock(const struct tfcmd *t);
void tfcmd_free(struct tfcmd *t);

/* "TF_CLI_ARGS_" + sub with spaces and dashes turned into "_". malloc'd. */
char *tfcmd_cli_args_var(const char *sub);

/*
 * What tflock must put in the child's environment so that the wrapped
 * terraform/tofu does not take the lock tflock holds: returns 1 with
 * *var_name ("TF_CLI_ARGS_<sub>") and *value (existing + " -lock=false", or
 * "-lock=false" when existing is NULL or blank; both malloc'd), or 0 with both
 * set to NULL when nothing is to be injected: not terraform/tofu, no
 * subcommand, a subcommand without -lock or one that locks another workspace
 * (workspace new/delete), or the user already said -lock=false or -lock=true
 * on the command line (check lock_flag for the latter: the child will then
 * try to take the held lock and fail). existing is the variable's current
 * value (getenv(var)), or NULL.
 */
int tfcmd_lock_injection(const struct tfcmd *t, char **var_name, char **value,
                         const char *existing);

#endif
