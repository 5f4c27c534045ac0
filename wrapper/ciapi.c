#include "ciapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ci.h"
#include "error.h"
#include "http.h"
#include "clock.h"
#include "sanitize.h"

/* a whole non-negative number of at most 12 digits, else -1 */
static long long header_number(const char *v)
{
	size_t n = v ? strspn(v, "0123456789") : 0;
	return n >= 1 && n <= 12 && !v[n] ? strtoll(v, NULL, 10) : -1;
}

/* How long a rate limit asks to wait, in seconds; -1 when it does not say. */
static long long rate_wait(const struct http_response *r)
{
	long long after = header_number(http_response_header(r, "Retry-After")),
	          reset = header_number(http_response_header(r, "x-ratelimit-reset"));
	const char *date = http_response_header(r, "Date");
	time_t now;
	if (after >= 0)
		return after;
	if (reset < 0)
		return -1;
	/* reset is an epoch second on the server's clock: count from its Date */
	if (clock_parse_http_date(date, &now))
		now = time(NULL);
	return reset > (long long)now ? reset - (long long)now : 0;
}

cJSON *ciapi_get_json(const char *url, const char *auth_name, const char *auth_value,
                      long timeout_ms, struct ciapi_reply *reply, char *why, size_t whylen)
{
	struct http_client *c;
	struct http_header h[4] = { { auth_name, auth_value },
		                    { "Accept", "application/json" },
		                    { "User-Agent", "tflock" },
		                    { "X-GitHub-Api-Version", "2022-11-28" } };
	struct http_request req;
	struct http_response resp;
	struct tf_error err;
	struct ciapi_reply dummy;
	cJSON *j = NULL;
	char shown[256];
	if (!reply)
		reply = &dummy;
	memset(reply, 0, sizeof(*reply));
	reply->retry_s = -1;
	if (!ci_url_may_get_token(url)) {
		snprintf(why, whylen, "the API URL is not https: the token is not sent there");
		return NULL;
	}
	c = http_client_new();
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.headers = h;
	req.nheaders = 4;
	req.timeout_ms = timeout_ms;
	req.abortable = 1;
	http_response_init(&resp);
	err_clear(&err);
	if (!c) {
		snprintf(why, whylen, "cannot create an HTTP client");
	} else if (http_do(c, &req, &resp, &err)) {
		sanitize_to(shown, sizeof(shown), err.msg, 200);
		snprintf(why, whylen, "%s", shown);
	} else {
		reply->status = resp.status;
		reply->t_recv = resp.t_recv;
		/* primary (x-ratelimit-remaining: 0) and secondary (Retry-After) limits */
		if (resp.status == 429 ||
		    (resp.status == 403 &&
		     (header_number(http_response_header(&resp, "x-ratelimit-remaining")) == 0 ||
		      http_response_header(&resp, "Retry-After")))) {
			reply->rate_limited = 1;
			reply->retry_s = rate_wait(&resp);
		}
		if (resp.status != 200) {
			sanitize_to(shown, sizeof(shown), resp.body.data ? resp.body.data : "",
			            120);
			snprintf(why, whylen, "HTTP %ld%s (%s)", resp.status,
			         reply->rate_limited ? ", rate limited" : "", shown);
		} else if (resp.body_over_cap) {
			snprintf(why, whylen, "a reply over %d bytes", HTTP_MAX_BODY);
		} else if (!(j = cJSON_ParseWithLength(resp.body.data, resp.body.len))) {
			snprintf(why, whylen, "a reply that is not JSON");
		}
	}
	http_response_free(&resp);
	http_client_free(c);
	return j;
}
