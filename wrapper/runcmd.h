/*
 * runcmd — `tflock [run] [OPTIONS] [--] COMMAND [ARGS...]`: hold Terraform's
 * lock exactly as long as COMMAND runs. The steps, in this order:
 *   prepare      re-entry (B7), what the command is and whether it can run
 *                under the lock (check_command), the waiting limit, the Info
 *                line for the lock body;
 *   acquire      the store, the workspace trap (A3), the self-test (B6), the
 *                wait and take-over (B3/B4), or the outer's lock re-entered;
 *   under lock   the pre-apply git checks, the command's environment
 *                (TFLOCK_HELD_*, -lock=false for terraform), the repository's
 *                pre-apply hook;
 *   run          run_command() (run.h): heartbeat, signals; the applied
 *                commit recorded; run_release();
 *   after        the summary line, the reports (outcome.h), and the signal
 *                that killed the command re-raised.
 * A nested tflock given no lock of its own re-enters its ancestor's before
 * the configuration is final (runcmd_reenters_any(), runcmd_nested_any()).
 *
 * The functions return tflock's exit code; they die() where the run cannot go
 * on (64 usage, 69 store, 75 held, 76 lost, 77 refused, 70 internal), with a
 * cleanup hook releasing the lock once it is held. They borrow the
 * invocation; runcmd_main() frees its re and gi itself before re-raising.
 */
#ifndef TFLOCK_RUNCMD_H
#define TFLOCK_RUNCMD_H

#include "config.h"
#include "invocation.h"
#include "tfcmd.h"

/* Before the configuration is final: does this run, nested in another
 * tflock's command and given no lock of its own (no --bucket/--key, and not a
 * terraform with its own initialised backend, which is checked like a direct
 * run), re-enter whatever lock its ancestor holds? */
int runcmd_reenters_any(const struct config *c, const struct tfcmd *tf);
/* Then: run argv under the ancestor's lock (no S3 at all) and return the exit
 * code, or -1 when the ancestor cannot be trusted (the reason is logged). */
int runcmd_nested_any(struct invocation *s, char **argv);

/* Run argv (non-empty, s->tf parsed from it) under the lock s->c names. */
int runcmd_main(struct invocation *s, char **argv);

#endif
