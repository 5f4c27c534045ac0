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
 * TF_CLI_ARGS beats the injected -lock=false (lock_flag and
 * tfcmd_args_lock_flag() let the caller see it).
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
	int is_terraform;   /* terraform or tofu */
	int is_tofu;        /* tofu (OpenTofu) */
	char *program;      /* base name of argv[0] */
	char *chdir;        /* -chdir=DIR or NULL */
	char *sub;          /* "apply", "state mv", ... or NULL */
	char *operation;    /* for the lock body */
	char *lock_timeout; /* value of -lock-timeout=D on the command, or NULL */
	char *cli_args_var; /* "TF_CLI_ARGS_apply", "TF_CLI_ARGS_state_mv", ... or NULL */
	int defines_lock;   /* the subcommand defines -lock in every supported version */
	int inject_lock;    /* it locks the current workspace's state: inject -lock=false */
	int lock_flag;      /* enum tfcmd_lock_flag: the user's own -lock on the command */
};

void tfcmd_parse(struct tfcmd *t, char *const argv[]);
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

/* The last -lock flag among the words of a TF_CLI_ARGS-style value (split as
 * Terraform's shellwords does: quotes and backslashes), as enum tfcmd_lock_flag. */
int tfcmd_args_lock_flag(const char *value);

#endif
