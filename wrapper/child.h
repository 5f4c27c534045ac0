/*
 * child — spawn the wrapped command the way a careful shell would.
 *
 * child_spawn(): fork, then in the child restore the signal mask and default
 * dispositions, optionally move into a new process group (own_group), set
 * PR_SET_PDEATHSIG so the child cannot outlive a SIGKILLed tflock unnoticed,
 * close every fd above 2, and execvp() with the given environment. An exec
 * failure is reported to the parent through a close-on-exec pipe, so the parent
 * learns errno: ERR_NOT_FOUND (exit 127) or ERR_SYSTEM (exit 126) with a message
 * naming the command. The child _exit()s on failure, never exit().
 *
 * child_env_build(): the child's environment: the current one without the
 * TFLOCK_* option variables, plus the given NAME=value entries. Caller frees
 * with child_env_free().
 */
#ifndef TFLOCK_CHILD_H
#define TFLOCK_CHILD_H

#include <signal.h>
#include <sys/types.h>

#include "error.h"

struct child {
	pid_t pid;
	pid_t pgid;     /* the child's group when own_group, else 0 */
	int exec_errno; /* set when exec failed */
};

int child_spawn(struct child *c, char *const argv[], char *const envp[], int own_group,
                const sigset_t *orig_mask, struct tf_error *err);
char **child_env_build(char *const *extra);
void child_env_free(char **env);
/* Exit status for a waitpid() status: code, or 128+signal. */
int child_exit_code(int status);

#endif
