/*
 * creds_imds — EC2 instance metadata: IMDSv2 (a session token first), IMDSv1
 * when the token is refused. See creds.h for the contract, creds_impl.h for
 * the place of this file.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds_impl.h"
#include "log.h"
#include "sigv4.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_DEFAULT_V6 "http://[fd00:ec2::254]"
#define IMDS_TIMEOUT_MS 1000
#define IMDS_TOKEN_TTL "21600"

static char *imds_base(const struct resolver *r)
{
	const char *e = getenv_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT"), *mode;
	if (!e && r->have_top)
		e = creds_prof_val(&r->top, "ec2_metadata_service_endpoint");
	if (e)
		return creds_strip_slash(e);
	mode = getenv_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (!mode && r->have_top)
		mode = creds_prof_val(&r->top, "ec2_metadata_service_endpoint_mode");
	return xstrdup(mode && !strcasecmp(mode, "IPv6") ? IMDS_DEFAULT_V6 : IMDS_DEFAULT);
}

static int imds_request(struct resolver *r, const char *method, const char *url,
                        const struct creds_hdrs *hs, struct http_response *resp,
                        struct tf_error *err)
{
	struct http_request req;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = hs->h;
	req.nheaders = hs->n;
	req.timeout_ms = r->timeout_ms < IMDS_TIMEOUT_MS ? r->timeout_ms : IMDS_TIMEOUT_MS;
	req.connect_timeout_ms = req.timeout_ms;
	req.no_proxy = 1;
	/* nothing listening (off EC2): fail at once, no retry */
	return creds_http(r, &req, resp, 0, err);
}

static int imds_status_fail(const char *method, const char *url, long status, struct tf_error *err)
{
	int rc = err_set(err, ERR_HTTP, "%s %s: HTTP %ld", method, url, status);
	if (err)
		err->http_status = status;
	return rc;
}

/* The IMDSv2 session token into token; 0 with token empty: go on with IMDSv1. */
static int imds_token(struct resolver *r, const char *base, struct http_response *resp,
                      struct buf *token, struct tf_error *err)
{
	const char *v1 = getenv_nonempty("AWS_EC2_METADATA_V1_DISABLED");
	char *url = xasprintf("%s/latest/api/token", base);
	struct creds_hdrs hs;
	int rc;

	if (!v1 && r->have_top)
		v1 = creds_prof_val(&r->top, "ec2_metadata_v1_disabled");
	hs.n = 0;
	creds_hdr_add(&hs, "X-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL);
	rc = imds_request(r, "PUT", url, &hs, resp, err);
	creds_hdrs_free(&hs);
	if (rc == ERR_CONNECT)
		goto out;
	if (rc == 0 && resp->status == 200) {
		buf_add(token, resp->body.data, resp->body.len);
		creds_trim(token);
	} else if (rc == 0 && resp->status != 403 && resp->status != 404 && resp->status != 405) {
		rc = imds_status_fail("PUT", url, resp->status, err);
		goto out;
	}
	if (!token->len) {
		/* 403/404/405, or no answer after connecting: the SDK falls back to IMDSv1 */
		if (creds_is_true(v1)) {
			if (!rc)
				rc = err_set(err, ERR_HTTP,
				             "PUT %s: HTTP %ld, and AWS_EC2_METADATA_V1_DISABLED "
				             "forbids IMDSv1",
				             url, resp->status);
			goto out;
		}
		log_verbose("instance metadata: no IMDSv2 token, trying IMDSv1");
	}
	rc = 0;
out:
	free(url);
	return rc;
}

/* The name of the instance's role into role. */
static int imds_role(struct resolver *r, const char *base, const struct creds_hdrs *hs,
                     struct http_response *resp, struct buf *role, struct tf_error *err)
{
	char *url = xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
	int rc = imds_request(r, "GET", url, hs, resp, err);
	if (rc) {
		/* the request's own error */
	} else if (resp->status == 404) {
		rc = err_set(err, ERR_HTTP, "no IAM role is attached to this instance (HTTP 404)");
		if (err)
			err->http_status = 404;
	} else if (resp->status != 200) {
		rc = imds_status_fail("GET", url, resp->status, err);
	} else {
		buf_add(role, resp->body.data, strcspn(resp->body.data, "\r\n"));
		creds_trim(role);
		if (!role->len)
			rc = err_set(err, ERR_PARSE, "GET %s: no role name in the reply", url);
	}
	free(url);
	return rc;
}

int creds_imds_fetch(struct resolver *r, struct creds *out, struct tf_error *err)
{
	char *base, *url = NULL, *role_enc = NULL;
	struct buf token = BUF_INIT, role = BUF_INIT;
	struct creds_hdrs hs;
	struct http_response resp;
	int rc;

	if (creds_is_true(getenv_nonempty("AWS_EC2_METADATA_DISABLED")))
		return CREDS_NOT_CONFIGURED;
	hs.n = 0;
	http_response_init(&resp);
	base = imds_base(r);
	rc = imds_token(r, base, &resp, &token, err);
	if (rc)
		goto out;
	if (token.len)
		creds_hdr_add(&hs, "X-aws-ec2-metadata-token", token.data);
	rc = imds_role(r, base, &hs, &resp, &role, err);
	if (rc)
		goto out;

	role_enc = sigv4_uri_encode(role.data, role.len, 0);
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role_enc);
	rc = imds_request(r, "GET", url, &hs, &resp, err);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = imds_status_fail("GET", url, resp.status, err);
		goto out;
	}
	rc = creds_json_creds(resp.body.data, resp.body.len, "Token", 0, out, "instance metadata",
	                      err);
	if (!rc)
		creds_label(out, "instance metadata (role %s)", role.data);
out:
	creds_resp_free(&resp);
	creds_hdrs_free(&hs);
	buf_wipe(&token);
	buf_free(&role);
	free(role_enc);
	free(url);
	free(base);
	return rc;
}
