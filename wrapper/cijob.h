/*
 * cijob — has a lock holder's CI job (or, for a parked lock, its run or
 * pipeline) ended? Asked of the CI's own API (docs/PROTOCOL.md B14.2).
 *
 * The holder is named by its body's CI part (struct lockinfo_cijob, B14.1); the
 * waiter's own CI access (struct ci_api, ci.h) gives the API base and token. A
 * question is asked only when cijob_askable() says so: same CI kind, the
 * body's server equal to the waiter's, every id valid, a token at hand, an API
 * base the token may go to, and the holder in the waiter's own repository or
 * project (a wide token is never an oracle for other projects). The URL is
 * built from validated ids alone; the API base never comes from a body.
 *
 *   GitHub job       GET {api}/repos/{proj}/actions/jobs/{jid}
 *   GitHub run       GET {api}/repos/{proj}/actions/runs/{run} (its latest attempt:
 *                    finished only when run_attempt >= the body's att)
 *   GitLab job       GET {api}/projects/{proj}/jobs/{jid}
 *   GitLab pipeline  GET {api}/projects/{proj}/pipelines/{run}, and when that
 *                    says finished, GET …/jobs?scope[]=manual: a manual job
 *                    still to play keeps it alive
 *
 * Verdicts: CIJOB_FINISHED (GitHub status "completed"; GitLab success, failed,
 * canceled, skipped) only when the answer's ids match the body's (job: id and
 * run; run/pipeline: id); CIJOB_ALIVE for any other status; CIJOB_UNKNOWN for
 * everything else (no answer, not 200, not JSON, a field missing or of the
 * wrong type, ids that differ), with why. Text from the API is sanitised
 * before it is stored. Nothing here allocates what the caller must free, and
 * the token never appears in an answer.
 */
#ifndef TFLOCK_CIJOB_H
#define TFLOCK_CIJOB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ci.h"
#include "lockinfo.h"

enum cijob_verdict { CIJOB_UNKNOWN = 0, CIJOB_ALIVE = 1, CIJOB_FINISHED = 2 };

/* what is asked about: the job of a live lock, the run/pipeline of a parked one */
enum cijob_subject { CIJOB_JOB = 0, CIJOB_RUN = 1 };

struct cijob_answer {
	enum cijob_verdict verdict;
	char what[96];         /* "job 123", "run 456 attempt 2", "pipeline 789" */
	char state[96];        /* "completed/cancelled", "canceled", "in_progress" */
	long long ended_ago_s; /* by the waiter's clock, from the API's finish time; -1 */
	int64_t t_recv;        /* CLOCK_BOOTTIME ns of the answer; 0 without one */
	int rate_limited;
	long long retry_s; /* a rate limit's wait, -1 unknown */
	int shared_runner; /* GitLab: the job ran on an instance runner (runner_type
	                      "instance_type": on gitlab.com, GitLab's own); GitHub: 1 */
	char why[320];     /* CIJOB_UNKNOWN: why, one line */
};

/* 1 when a question about cj may be asked with self's access; else 0 and why. */
int cijob_askable(const struct lockinfo_cijob *cj, enum cijob_subject subj,
                  const struct ci_api *self, char *why, size_t whylen);

/* The request's URL (malloc'd) for an askable cj, or NULL when an id is invalid. */
char *cijob_url(const struct lockinfo_cijob *cj, enum cijob_subject subj, const char *api);

/* Judge an answer's JSON (pure: now is the waiter's wall clock). */
void cijob_judge(const cJSON *j, const struct lockinfo_cijob *cj, enum cijob_subject subj,
                 time_t now, struct cijob_answer *out);

/* Ask (one request, bounded by timeout_ms, abortable); out is always filled. */
void cijob_ask(const struct lockinfo_cijob *cj, enum cijob_subject subj, const struct ci_api *self,
               long timeout_ms, struct cijob_answer *out);

#endif
