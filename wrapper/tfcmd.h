/*
 * tfcmd — what the wrapped command is: terraform/tofu and which subcommand.
 *
 * tfcmd_parse() looks at argv only (no I/O): the program's base name, global
 * options before the subcommand (-chdir=DIR), the subcommand with its nested
 * word ("state mv"), and the Operation Terraform itself would write in the lock
 * for it (PROTOCOL A2). For any other program the Operation is
 * "OperationTypeInvalid" unless overridden... see tfcmd.c.
 * struct tfcmd owns its strings; tfcmd_free() is NULL-safe.
 */
#ifndef TFLOCK_TFCMD_H
#define TFLOCK_TFCMD_H

struct tfcmd {
	int is_terraform;  /* terraform or tofu */
	char *program;     /* base name of argv[0] */
	char *chdir;       /* -chdir=DIR or NULL */
	char *sub;         /* "apply", "state mv", ... or NULL */
	char *operation;   /* for the lock body */
	char *lock_timeout;/* value of -lock-timeout=D on the command, or NULL */
};

void tfcmd_parse(struct tfcmd *t, char *const argv[]);
void tfcmd_free(struct tfcmd *t);

#endif
