/*
 * creds_sts — AWS STS: AssumeRole (signed), AssumeRoleWithWebIdentity
 * (unsigned), GetCallerIdentity, and which endpoint they go to. Replies are
 * XML (xml.h). See creds.h for the contract, creds_impl.h for the place of
 * this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "creds_impl.h"
#include "sigv4.h"
#include "xml.h"

#define STS_VERSION "2011-06-15"

/* The content of the element tag in [b, e), when it is there and closed. */
static int sts_element(const char *b, const char *e, const char *tag, const char **ib,
                       const char **ie)
{
	return xml_find(b, e, tag, ib, ie) && *ie;
}

static int sts_fail(const struct http_response *resp, const char *what, struct tf_error *err)
{
	const char *b = resp->body.data, *e = b + resp->body.len;
	char *code = xml_text(b, e, "Code"), *msg = xml_text(b, e, "Message");
	char *rid = xml_text(b, e, "RequestId");
	int rc = err_set(err, ERR_HTTP, "%s: %s%s%s (HTTP %ld)", what, code ? code : "error",
	                 msg ? ": " : "", msg ? msg : "", resp->status);
	if (err) {
		err->http_status = resp->status;
		snprintf(err->s3_code, sizeof(err->s3_code), "%s", code ? code : "");
		snprintf(err->message, sizeof(err->message), "%s", msg ? msg : "");
		snprintf(err->request_id, sizeof(err->request_id), "%s", rid ? rid : "");
	}
	free(code);
	free(msg);
	free(rid);
	return rc;
}

static int sts_parse_creds(const struct http_response *resp, const char *result_tag,
                           struct creds *out, struct tf_error *err)
{
	const char *b = resp->body.data, *e = b + resp->body.len, *rb, *re, *cb, *ce;
	char *ak = NULL, *sk = NULL, *tok = NULL, *exp = NULL;
	time_t t = 0;
	int rc = 0;
	if (!sts_element(b, e, result_tag, &rb, &re) ||
	    !sts_element(rb, re, "Credentials", &cb, &ce))
		return err_set(err, ERR_PARSE, "no <%s><Credentials> in the STS reply", result_tag);
	ak = xml_text(cb, ce, "AccessKeyId");
	sk = xml_text(cb, ce, "SecretAccessKey");
	tok = xml_text(cb, ce, "SessionToken");
	exp = xml_text(cb, ce, "Expiration");
	if (!ak || !*ak || !sk || !*sk)
		rc = err_set(err, ERR_PARSE, "the STS reply lacks AccessKeyId or SecretAccessKey");
	else if (exp && creds_parse_time(exp, &t))
		rc = err_set(err, ERR_PARSE, "the STS reply has a bad Expiration \"%.40s\"", exp);
	else
		creds_set(out, ak, sk, tok, t);
	secure_free_str(ak);
	secure_free_str(sk);
	secure_free_str(tok);
	secure_free_str(exp);
	return rc;
}

/* The STS endpoint set explicitly (configuration, then the AWS_ENDPOINT_URL_*
 * variables unless ignored), or NULL: the default endpoint for the region. */
static const char *sts_configured(const struct creds_config *cfg)
{
	int ignore = creds_is_true(getenv_nonempty("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"));
	if (cfg->sts_endpoint && *cfg->sts_endpoint)
		return cfg->sts_endpoint;
	if (ignore)
		return NULL;
	return getenv_nonempty("AWS_ENDPOINT_URL_STS") ? getenv_nonempty("AWS_ENDPOINT_URL_STS")
	                                               : getenv_nonempty("AWS_ENDPOINT_URL");
}

int creds_sts_configured(const struct creds_config *cfg)
{
	static const struct creds_config empty;
	return sts_configured(cfg ? cfg : &empty) != NULL;
}

static int sts_endpoint(struct resolver *r, char **url, char *sreg, size_t sreglen,
                        struct tf_error *err)
{
	const char *o = sts_configured(r->cfg);
	const char *setting, *signing = r->region;
	int legacy = 0;
	snprintf(sreg, sreglen, "%s", r->region);
	if (o) {
		*url = xstrdup(o);
		return 0;
	}
	setting = getenv_nonempty("AWS_STS_REGIONAL_ENDPOINTS");
	if (!setting && r->have_top)
		setting = creds_prof_val(&r->top, "sts_regional_endpoints");
	if (setting) {
		if (!strcasecmp(setting, "legacy"))
			legacy = 1;
		else if (strcasecmp(setting, "regional"))
			return err_set(err, ERR_USAGE,
			               "AWS_STS_REGIONAL_ENDPOINTS (or sts_regional_endpoints) is "
			               "\"%s\": use \"regional\" or \"legacy\"",
			               setting);
	}
	*url = creds_sts_default_endpoint(r->region, legacy, &signing);
	snprintf(sreg, sreglen, "%s", signing);
	return 0;
}

char *creds_sts_default_endpoint(const char *region, int legacy_global, const char **signing_region)
{
	/* the regions that used the global endpoint before regional became the default */
	static const char *const legacy[] = {
		"ap-northeast-1", "ap-south-1",   "ap-southeast-1", "ap-southeast-2",
		"aws-global",     "ca-central-1", "eu-central-1",   "eu-north-1",
		"eu-west-1",      "eu-west-2",    "eu-west-3",      "sa-east-1",
		"us-east-1",      "us-east-2",    "us-west-1",      "us-west-2",
	};
	int global = 0;
	if (!region || !*region)
		region = "us-east-1";
	if (!strcmp(region, "aws-global"))
		global = 1;
	for (size_t i = 0; legacy_global && i < sizeof(legacy) / sizeof(legacy[0]); i++)
		if (!strcmp(region, legacy[i]))
			global = 1;
	if (global) {
		*signing_region = "us-east-1";
		return xstrdup("https://sts.amazonaws.com");
	}
	*signing_region = region;
	if (!strncmp(region, "cn-", 3))
		return xasprintf("https://sts.%s.amazonaws.com.cn", region);
	return xasprintf("https://sts.%s.amazonaws.com", region);
}

/* POST an STS query API action, signed with signer when given; 0 when *resp
 * (initialised by the caller) holds a 200 reply. */
static int sts_post(struct resolver *r, const char *action, const struct sigv4_pair *params,
                    size_t n, const struct creds *signer, struct http_response *resp,
                    const char *what, struct tf_error *err)
{
	struct sigv4_pair q[8];
	char *url = NULL, *host = NULL, *path = NULL, *body = NULL;
	char sreg[64], hash[65];
	struct creds_hdrs hs;
	struct sigv4_result sig;
	struct http_request req;
	int rc;

	hs.n = 0;
	memset(&sig, 0, sizeof(sig));
	memset(&req, 0, sizeof(req));
	if (n + 2 > sizeof(q) / sizeof(q[0]))
		return err_set(err, ERR_INTERNAL, "too many STS parameters");

	rc = sts_endpoint(r, &url, sreg, sizeof(sreg), err);
	if (rc)
		goto out;
	if (creds_url_split(url, &host, &path)) {
		rc = err_set(err, ERR_USAGE, "%s: invalid STS endpoint \"%s\"", what, url);
		goto out;
	}
	q[0].name = "Action";
	q[0].value = action;
	q[1].name = "Version";
	q[1].value = STS_VERSION;
	if (n)
		memcpy(q + 2, params, n * sizeof(*params));
	body = sigv4_query_string(q, n + 2);
	creds_hdr_add(&hs, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
	if (signer) {
		struct sigv4_params sp;
		memset(&sp, 0, sizeof(sp));
		sha256_hex(body, strlen(body), hash);
		creds_hdr_add(&hs, "X-Amz-Content-Sha256", hash);
		sp.method = "POST";
		sp.host = host;
		sp.path = path;
		sp.s3_path = 0;
		sp.headers = hs.h;
		sp.nheaders = hs.n;
		sp.payload_hash = hash;
		sp.region = sreg;
		sp.service = "sts";
		sp.access_key = signer->access_key;
		sp.secret_key = signer->secret_key;
		sp.session_token = signer->session_token;
		sp.now = time(NULL);
		rc = sigv4_sign(&sp, &sig, err);
		if (rc) {
			err_prefix(err, "%s", what);
			goto out;
		}
		creds_hdr_add(&hs, "X-Amz-Date", sig.amz_date);
		if (signer->session_token && *signer->session_token)
			creds_hdr_add(&hs, "X-Amz-Security-Token", signer->session_token);
		creds_hdr_add(&hs, "Authorization", sig.authorization);
	}
	req.method = "POST";
	req.url = url;
	req.headers = hs.h;
	req.nheaders = hs.n;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = r->timeout_ms;
	rc = creds_http(r, &req, resp, 1, err);
	if (rc) {
		err_prefix(err, "%s", what);
		goto out;
	}
	if (resp->status != 200)
		rc = sts_fail(resp, what, err);
out:
	secure_free_str(body);
	creds_hdrs_free(&hs);
	sigv4_result_free(&sig);
	free(url);
	free(host);
	free(path);
	return rc;
}

/* An STS action whose reply carries credentials. */
static int sts_call(struct resolver *r, const char *action, const struct sigv4_pair *params,
                    size_t n, const struct creds *signer, struct creds *out, const char *what,
                    struct tf_error *err)
{
	struct http_response resp;
	char *result_tag;
	int rc;

	http_response_init(&resp);
	rc = sts_post(r, action, params, n, signer, &resp, what, err);
	if (rc) {
		creds_resp_free(&resp);
		return rc;
	}
	result_tag = xasprintf("%sResult", action);
	rc = sts_parse_creds(&resp, result_tag, out, err);
	if (rc)
		err_prefix(err, "%s", what);
	creds_resp_free(&resp);
	free(result_tag);
	return rc;
}

int creds_caller_identity(const struct creds_config *cfg, const struct creds *c,
                          struct creds_identity *out, struct tf_error *err)
{
	static const struct creds_config empty;
	const char *what = "sts GetCallerIdentity";
	struct resolver r;
	struct http_response resp;
	int rc;

	memset(out, 0, sizeof(*out));
	creds_resolver_init(&r, cfg ? cfg : &empty);
	creds_resolver_region(&r); /* no profile loaded: configuration or environment */
	http_response_init(&resp);
	rc = sts_post(&r, "GetCallerIdentity", NULL, 0, c, &resp, what, err);
	if (!rc) {
		const char *b = resp.body.data, *e = b + resp.body.len, *rb, *re;
		if (!sts_element(b, e, "GetCallerIdentityResult", &rb, &re)) {
			rc = err_set(err, ERR_PARSE,
			             "%s: no <GetCallerIdentityResult> in the reply", what);
		} else {
			out->arn = xml_text(rb, re, "Arn");
			out->account = xml_text(rb, re, "Account");
			out->user_id = xml_text(rb, re, "UserId");
			if (!out->arn || !*out->arn) {
				creds_identity_free(out);
				rc = err_set(err, ERR_PARSE, "%s: the reply has no Arn", what);
			}
		}
	}
	creds_resp_free(&resp);
	creds_resolver_free(&r);
	return rc;
}

void creds_identity_free(struct creds_identity *id)
{
	if (!id)
		return;
	free(id->arn);
	free(id->account);
	free(id->user_id);
	memset(id, 0, sizeof(*id));
}

static void default_session_name(char out[40])
{
	snprintf(out, 40, "tflock-%lld", (long long)time(NULL));
}

int creds_sts_assume_role(struct resolver *r, const struct creds *base, const char *role_arn,
                          const char *session_name, const char *external_id, long duration,
                          struct creds *out, struct tf_error *err)
{
	struct sigv4_pair p[4];
	char sess[40], dur[24], *what;
	size_t n = 0;
	int rc;
	if (!session_name || !*session_name) {
		default_session_name(sess);
		session_name = sess;
	}
	p[n].name = "RoleArn";
	p[n++].value = role_arn;
	p[n].name = "RoleSessionName";
	p[n++].value = session_name;
	if (duration > 0) {
		snprintf(dur, sizeof(dur), "%ld", duration);
		p[n].name = "DurationSeconds";
		p[n++].value = dur;
	}
	if (external_id && *external_id) {
		p[n].name = "ExternalId";
		p[n++].value = external_id;
	}
	what = xasprintf("sts AssumeRole for \"%s\"", role_arn);
	rc = sts_call(r, "AssumeRole", p, n, base, out, what, err);
	free(what);
	return rc;
}

int creds_sts_web_identity(struct resolver *r, const char *token_file, const char *role_arn,
                           const char *session_name, const char *context, struct creds *out,
                           struct tf_error *err)
{
	struct sigv4_pair p[3];
	struct buf token;
	char sess[40], *what = NULL;
	int rc;

	buf_init(&token);
	rc = buf_read_file(&token, token_file, CREDS_SECRET_FILE_MAX, err);
	if (rc) {
		err_prefix(err, "%s: web identity token file", context);
		rc = ERR_USAGE;
		if (err)
			err->kind = ERR_USAGE;
		goto out;
	}
	creds_trim(&token);
	if (!token.len) {
		rc = err_set(err, ERR_USAGE, "%s: web identity token file \"%s\" is empty", context,
		             token_file);
		goto out;
	}
	if (!session_name || !*session_name) {
		default_session_name(sess);
		session_name = sess;
	}
	p[0].name = "RoleArn";
	p[0].value = role_arn;
	p[1].name = "RoleSessionName";
	p[1].value = session_name;
	p[2].name = "WebIdentityToken";
	p[2].value = token.data;
	what = xasprintf("%s: sts AssumeRoleWithWebIdentity for \"%s\"", context, role_arn);
	rc = sts_call(r, "AssumeRoleWithWebIdentity", p, 3, NULL, out, what, err);
out:
	free(what);
	buf_wipe(&token);
	return rc;
}
