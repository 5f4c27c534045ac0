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
 * child_spawn_group(): the same with the group chosen: group < 0 stays in ours,
 * 0 makes a new one (own_group), > 0 joins that existing group of our session
 * (the guardian puts a command that owns the terminal into tflock's foreground
 * group, PROTOCOL B9); pgid is recorded only for a group of the child's own.
 *
 * child_close_fds(): close every descriptor above 2 but keep1 and keep2 (-1:
 * none); for a child between fork and exec, or a freshly exec'd helper. It uses
 * close_range(2) where the system has it (nothing but system calls, as a child
 * of a process with threads needs), else the list in /proc/self/fd.
 *
 * child_env_build(): the child's environment: the current one without the
 * TFLOCK_* option variables, plus the given NAME=value entries. Caller frees
 * with child_env_free().
 *
 * child_capture(): run a helper and read what it writes: spawned as
 * child_spawn_group() does it (our own process group, the given mask), but
 * with its stdout into a pipe that is read into out (which must be empty;
 * stdin and stderr are ours). It is killed with SIGKILL when it has not closed
 * its stdout within timeout_ms, or once it has written more than max bytes,
 * and it is always reaped before child_capture() returns. The output may be a
 * secret: the caller wipes out. Returns 0 with *res saying how it ended, or the
 * errors of child_spawn_group() (pipe, fork, exec; res->exec_errno is set when
 * exec failed).
 *
 * child_run_quiet(): run a helper whose text is a stranger's (git talking to a
 * remote) so that none of it reaches the terminal: spawned as child_capture()
 * does it, but with stdin, stdout and stderr all on /dev/null, and with our
 * signal mask when mask is NULL. It is killed with SIGKILL when it has not
 * exited within timeout_ms (looked at every 50 ms), and it is always reaped
 * before child_run_quiet() returns. Returns 0 with *res saying how it ended
 * (CHILD_CAPTURE_EXITED, _TIMED_OUT or _LOST; never _TOO_MUCH), or
 * child_capture()'s errors, or ERR_SYSTEM when /dev/null cannot be opened.
 */
#ifndef TFLOCK_CHILD_H
#define TFLOCK_CHILD_H

#include <signal.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"

struct child {
	pid_t pid;
	pid_t pgid;     /* the child's group when own_group, else 0 */
	int exec_errno; /* set when exec failed */
};

int child_spawn(struct child *c, char *const argv[], char *const envp[], int own_group,
                const sigset_t *orig_mask, struct tf_error *err);
int child_spawn_group(struct child *c, char *const argv[], char *const envp[], pid_t group,
                      const sigset_t *orig_mask, struct tf_error *err);
void child_close_fds(int keep1, int keep2);
char **child_env_build(char *const *extra);
void child_env_free(char **env);
/* Exit status for a waitpid() status: code, or 128+signal. */
int child_exit_code(int status);

enum child_capture_end {
	CHILD_CAPTURE_EXITED,    /* it closed its stdout (run_quiet: exited) and was reaped */
	CHILD_CAPTURE_TIMED_OUT, /* still running after timeout_ms: killed and reaped */
	CHILD_CAPTURE_TOO_MUCH,  /* it wrote more than max bytes: killed and reaped */
	CHILD_CAPTURE_LOST,      /* waitpid failed (someone else reaped it): wait_errno says why */
};

struct child_capture {
	enum child_capture_end end;
	int status;     /* the waitpid() status, unless LOST */
	int wait_errno; /* LOST: waitpid's errno */
	int exec_errno; /* when child_capture() failed because exec did */
};

int child_capture(char *const argv[], char *const envp[], const sigset_t *mask, long timeout_ms,
                  size_t max, struct buf *out, struct child_capture *res, struct tf_error *err);
int child_run_quiet(char *const argv[], char *const envp[], const sigset_t *mask, long timeout_ms,
                    struct child_capture *res, struct tf_error *err);

#endif
