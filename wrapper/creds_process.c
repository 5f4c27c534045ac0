/*
 * creds_process — credential_process: a command whose stdout is the
 * credentials as JSON. See creds.h for the contract, creds_impl.h for the
 * place of this file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "creds_impl.h"

#define PROCESS_TIMEOUT_MS 60000
#define PROCESS_MAX_OUTPUT (64 * 1024)

extern char **environ;

/* How the process ended, as an error; 0 when it exited 0. */
static int process_status(const struct child_capture *res, const char *what, struct tf_error *err)
{
	int st = res->status;
	switch (res->end) {
	case CHILD_CAPTURE_LOST: /* reaped by someone else: its exit status is unknown */
		return err_set(err, ERR_SYSTEM, "%s: cannot get its exit status: %s", what,
		               strerror(res->wait_errno));
	case CHILD_CAPTURE_TIMED_OUT:
		return err_set(err, ERR_TIMEOUT, "%s: no output after %d s; killed it", what,
		               PROCESS_TIMEOUT_MS / 1000);
	case CHILD_CAPTURE_TOO_MUCH:
		return err_set(err, ERR_PARSE, "%s: more than %d bytes of output", what,
		               PROCESS_MAX_OUTPUT);
	case CHILD_CAPTURE_EXITED:
		break;
	}
	if (WIFSIGNALED(st))
		return err_set(err, ERR_CREDENTIALS, "%s: killed by signal %d", what, WTERMSIG(st));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return err_set(err, ERR_CREDENTIALS,
		               "%s: exited with status 127 (command not found, or /bin/sh missing)",
		               what);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return err_set(err, ERR_CREDENTIALS, "%s: exited with status %d", what,
		               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

/* Run cmd with /bin/sh -c (stdin and stderr ours, the signal mask empty) and
 * read its JSON from stdout. */
int creds_process_fetch(const struct prof *p, const char *cmd, struct creds *out,
                        struct tf_error *err)
{
	char sh[] = "/bin/sh", dash_c[] = "-c", *command = xstrdup(cmd);
	char *argv[] = { sh, dash_c, command, NULL };
	char *what = xasprintf("profile \"%s\": credential_process", p->name);
	struct child_capture res;
	struct buf o = BUF_INIT;
	sigset_t none;
	int rc;

	sigemptyset(&none);
	fflush(NULL);
	rc = child_capture(argv, environ, &none, PROCESS_TIMEOUT_MS, PROCESS_MAX_OUTPUT, &o, &res,
	                   err);
	if (rc) {
		err_prefix(err, "%s", what);
		if (res.exec_errno) { /* as when the shell exits 127: the command's failure */
			rc = ERR_CREDENTIALS;
			if (err)
				err->kind = rc;
		}
	} else {
		rc = process_status(&res, what, err);
		if (!rc)
			rc = creds_json_creds(o.data, o.len, "SessionToken", 1, out, what, err);
	}
	free(what);
	free(command);
	buf_wipe(&o);
	return rc;
}
