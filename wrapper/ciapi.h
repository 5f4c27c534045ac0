/*
 * ciapi — one GET of a CI forge's REST API (GitHub, GitLab) with a token, shared
 * by gitapi.c (how two commits relate) and cijob.c (has a holder's job ended).
 *
 * A token goes only to an https URL, or to loopback written as 127.0.0.1 or
 * [::1] (the tests' stand-ins):
 * ci_url_may_get_token() (ci.h) says which, and ciapi_get_json() refuses the others
 * without sending anything. The token is a secret: it is never in `why`.
 */
#ifndef TFLOCK_CIAPI_H
#define TFLOCK_CIAPI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct ciapi_reply {
	long status;       /* HTTP status; 0 when no answer came */
	int64_t t_recv;    /* CLOCK_BOOTTIME ns of the answer, 0 without one */
	long long retry_s; /* a rate limit's wait: Retry-After, or GitHub's
	                         x-ratelimit-reset minus the server's Date; -1 unknown */
	int rate_limited;  /* 429, or 403 with x-ratelimit-remaining: 0 or Retry-After */
};

/*
 * GET url with the header auth_name: auth_value (and Accept, User-Agent,
 * GitHub's API version), abortable (http_set_abort), bounded by timeout_ms.
 * Returns the parsed JSON of a 200 answer, else NULL with why (sanitised, one
 * line) saying what happened; reply (may be NULL) says how it was answered.
 * The caller cJSON_Delete()s the result.
 */
cJSON *ciapi_get_json(const char *url, const char *auth_name, const char *auth_value,
                      long timeout_ms, struct ciapi_reply *reply, char *why, size_t whylen);

#endif
