/*
 * guardian — a small process between tflock and the command that ends the
 * command's whole process tree with the hold (PROTOCOL B9).
 *
 *   tflock ──ctl pipe──▶ guardian ──fork/exec──▶ command ─▶ its descendants
 *          ◀─status pipe─
 *
 * guardian_spawn(): fork, and exec tflock's own binary in the hidden guardian
 * mode (argv[0] GUARDIAN_ARGV0, dispatched by main() to guardian_main()): a
 * clean address space, no threads, no credentials. The guardian moves into its
 * own process group, becomes a child subreaper, ignores the terminating and
 * job-control signals a group kill or a terminal sends, and starts the command
 * with child_spawn_group() (its own group, or tflock's foreground group when
 * o->own_group is 0). guardian_spawn() returns once the command runs (g filled)
 * or failed to start: ERR_NOT_FOUND (exit 127) or ERR_SYSTEM (126), err naming
 * the command; the guardian is then reaped already.
 *
 * The guardian obeys only its control pipe (the write end is tflock's alone,
 * O_CLOEXEC): guardian_renewed() hands it each successful renewal's send time,
 * guardian_signal() a signal to forward (to the command's group, or the command,
 * while it is not reaped; after that to the guardian's direct children, what the
 * command left running), guardian_interrupt() the lease SIGINT (sent at most
 * once, however many ask), guardian_kill() "kill the whole tree now". On its own
 * it sends SIGINT at send + L/2 and kills the tree at send + L - m (not when
 * o->lease_ms is 0: nested runs, --unsafe-keep-running), and kills it at once
 * when the pipe reads EOF (tflock died, by SIGKILL too). Killing: SIGKILL the
 * command's group while its leader is unreaped, and every direct child of the
 * guardian, reap, repeat until waitpid() says ECHILD — no pid is signalled
 * after it could have been reused.
 *
 * The guardian reports on the status pipe; guardian_read() (non-blocking)
 * folds the reports into g: exited/status/exit_ns when the command exited,
 * lease_int/lease_kill when the guardian acted on the lease itself, gone when
 * every descendant was reaped (the guardian then exits 0), eof when the pipe
 * closed. The caller reaps the guardian (g->pid, a child of the calling thread)
 * and calls guardian_close() to close both pipes.
 *
 * guardian_kill_round(): one round of the kill, for the guardian and for a
 * subreaper (tflock) whose guardian died first. guardian_plan(): the pure
 * decision the guardian's loop carries out, for unit tests.
 */
#ifndef TFLOCK_GUARDIAN_H
#define TFLOCK_GUARDIAN_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define GUARDIAN_ARGV0 "tflock-guardian"

struct guardian_opts {
	int own_group;             /* the command in a group of its own; else in ours */
	int64_t lease_ms;          /* L; 0: no lease deadline */
	int64_t margin_ms;         /* m */
	int64_t renew_send_ns;     /* the last successful renewal's send (CLOCK_BOOTTIME) */
	const sigset_t *orig_mask; /* the mask to restore in the command */
};

struct guardian {
	pid_t pid;               /* the guardian process, 0 once the caller reaped it */
	pid_t cmd_pid, cmd_pgid; /* the command (pgid 0: not a group of its own) */
	int ctl_fd, st_fd;       /* -1 when closed */
	int exited, status;      /* the command's raw wait status, once it exited */
	int64_t exit_ns;
	int lease_int, lease_kill; /* the guardian interrupted / killed for the lease */
	int gone;                  /* every descendant reaped */
	int eof;                   /* status pipe closed (the guardian exited) */
	int64_t sent_renewal;      /* last send time handed over */
	int kill_sent;
};

int guardian_spawn(struct guardian *g, char *const argv[], char *const envp[],
                   const struct guardian_opts *o, struct tf_error *err);
void guardian_renewed(struct guardian *g, int64_t send_ns);
void guardian_signal(struct guardian *g, int sig);
void guardian_interrupt(struct guardian *g);
void guardian_kill(struct guardian *g);
void guardian_read(struct guardian *g);
void guardian_close(struct guardian *g);

/* The hidden mode: main() calls it when argv[0] is GUARDIAN_ARGV0. */
int guardian_main(int argc, char **argv);

/* SIGKILL the group pgid (> 0; the caller guarantees its leader is unreaped)
 * and every direct child of the calling thread but spare. Returns how many
 * were signalled; *stuck gets a pid that could not be killed (EPERM), else 0. */
int guardian_kill_round(pid_t pgid, pid_t spare, pid_t *stuck);

/* The guardian's decision, pure. */
enum guardian_action { GA_NONE, GA_INTERRUPT, GA_KILL };
enum guardian_why { GW_NONE, GW_LEASE, GW_ASKED, GW_EOF };
struct guardian_state {
	int64_t lease_ns, margin_ns; /* lease_ns 0: no deadline */
	int64_t renew_send_ns;
	int int_asked, kill_asked, eof; /* inputs from the pipe */
	int int_sent, killing, cmd_reaped;
};
/* What to do at now (one action per call; call again until GA_NONE), and in
 * *next the time to look again (INT64_MAX: only when the pipe or a child
 * speaks). *why says why for GA_INTERRUPT and GA_KILL. */
enum guardian_action guardian_plan(const struct guardian_state *s, int64_t now, int64_t *next,
                                   enum guardian_why *why);

#endif
