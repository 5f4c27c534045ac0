/*
 * creds_sso — IAM Identity Center (SSO) profiles: the cached token that "aws
 * sso login" wrote, traded for role credentials (GetRoleCredentials). tflock
 * never refreshes the token. See creds.h for the contract, creds_impl.h for
 * the place of this file.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creds_impl.h"
#include "json.h"
#include "rfc3339.h"
#include "sigv4.h"

/* What a profile says about its SSO account and role. */
struct sso_settings {
	const char *region;  /* of the SSO portal */
	const char *key;     /* names the token cache: the sso-session, or the start URL */
	const char *account; /* sso_account_id */
	const char *role;    /* sso_role_name */
};

static void sha1_hex(const char *s, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL) || n != 20)
		abort();
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The [sso-session NAME] section the profile points to, which must agree with
 * the profile's own sso_region and sso_start_url where it has them. */
static int sso_session(const struct resolver *r, const struct prof *p, const char *session,
                       struct sso_settings *s, struct tf_error *err)
{
	const char *region = creds_prof_val(p, "sso_region"),
	           *start = creds_prof_val(p, "sso_start_url");
	char *secname = xasprintf("sso-session %s", session);
	const struct ini_section *sec = ini_section(&r->conf, secname);
	const char *sr, *su;
	free(secname);
	if (!sec)
		return err_set(err, ERR_USAGE,
		               "profile \"%s\": no [sso-session %s] section in \"%s\"", p->name,
		               session, creds_path_or(r->conf_path));
	sr = ini_get(sec, "sso_region");
	su = ini_get(sec, "sso_start_url");
	if (!sr || !*sr || !su || !*su)
		return err_set(err, ERR_USAGE,
		               "[sso-session %s] in \"%s\" needs sso_region and sso_start_url",
		               session, creds_path_or(r->conf_path));
	if ((region && strcmp(region, sr)) || (start && strcmp(start, su)))
		return err_set(err, ERR_USAGE,
		               "profile \"%s\": sso_region and sso_start_url must match those "
		               "of [sso-session %s]",
		               p->name, session);
	s->region = sr;
	s->key = session;
	return 0;
}

static int sso_settings(const struct resolver *r, const struct prof *p, struct sso_settings *s,
                        struct tf_error *err)
{
	const char *session = creds_prof_val(p, "sso_session");
	const char *region = creds_prof_val(p, "sso_region"),
	           *start = creds_prof_val(p, "sso_start_url");

	s->account = creds_prof_val(p, "sso_account_id");
	s->role = creds_prof_val(p, "sso_role_name");
	if (session) {
		int rc = sso_session(r, p, session, s, err);
		if (rc)
			return rc;
	} else {
		if (!region || !start)
			return err_set(err, ERR_USAGE,
			               "profile \"%s\" is configured for SSO but lacks %s%s%s",
			               p->name, region ? "" : "sso_region",
			               !region && !start ? " and " : "",
			               start ? "" : "sso_start_url");
		s->region = region;
		s->key = start;
	}
	if (!s->account || !s->role)
		return err_set(
		        err, ERR_USAGE, "profile \"%s\" is configured for SSO but lacks %s%s%s",
		        p->name, s->account ? "" : "sso_account_id",
		        !s->account && !s->role ? " and " : "", s->role ? "" : "sso_role_name");
	return 0;
}

/* The access token cached for key, unexpired: 0 and *token (malloc'd, the
 * caller wipes it), or an error asking for "aws sso login". */
static int sso_token(const struct prof *p, const char *key, char **token, struct tf_error *err)
{
	char hex[41], expbuf[RFC3339_MAX], *home = creds_home_dir(), *cache = NULL;
	const char *tok, *expires;
	struct buf file = BUF_INIT;
	cJSON *j = NULL;
	time_t t;
	int rc;

	*token = NULL;
	if (!home)
		return err_set(err, ERR_CREDENTIALS,
		               "profile \"%s\": no home directory to find the SSO token cache in",
		               p->name);
	sha1_hex(key, hex);
	cache = xasprintf("%s/.aws/sso/cache/%s.json", home, hex);
	rc = buf_read_file(&file, cache, CREDS_SECRET_FILE_MAX, err);
	if (rc == ERR_NOT_FOUND) {
		rc = err_set(err, ERR_CREDENTIALS,
		             "profile \"%s\": no cached SSO token (\"%s\"): run \"aws sso login "
		             "--profile %s\"",
		             p->name, cache, p->name);
		goto out;
	}
	if (rc) {
		err_prefix(err, "profile \"%s\": SSO token cache", p->name);
		goto out;
	}
	j = cJSON_ParseWithLength(file.data, file.len);
	tok = creds_json_str(j, "accessToken");
	expires = creds_json_str(j, "expiresAt");
	if (!tok || !*tok || !expires) {
		rc = err_set(err, ERR_PARSE,
		             "profile \"%s\": \"%s\" has no accessToken or expiresAt", p->name,
		             cache);
	} else if (creds_parse_time(expires, &t)) {
		rc = err_set(err, ERR_PARSE, "profile \"%s\": \"%s\" has a bad expiresAt \"%.40s\"",
		             p->name, cache, expires);
	} else if (t <= time(NULL)) {
		rfc3339_format(&(struct timespec){ .tv_sec = t }, expbuf);
		rc = err_set(err, ERR_CREDENTIALS,
		             "profile \"%s\": the SSO token expired at %s: run \"aws sso login "
		             "--profile %s\"",
		             p->name, expbuf, p->name);
	} else {
		*token = xstrdup(tok);
	}
out:
	json_delete_wiped(j);
	buf_wipe(&file);
	free(home);
	free(cache);
	return rc;
}

/* GetRoleCredentials: TFLOCK_SSO_ENDPOINT, AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL
 * (the two unless ignored), else the region's portal. malloc'd. */
static char *sso_url(const struct sso_settings *s)
{
	int ignore = creds_is_true(getenv_nonempty("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"));
	const char *ep = getenv_nonempty("TFLOCK_SSO_ENDPOINT");
	char *endpoint, *acc_enc, *role_enc, *url;
	if (!ep && !ignore)
		ep = getenv_nonempty("AWS_ENDPOINT_URL_SSO");
	if (!ep && !ignore)
		ep = getenv_nonempty("AWS_ENDPOINT_URL");
	endpoint = ep ? creds_strip_slash(ep)
	              : xasprintf("https://portal.sso.%s.amazonaws.com", s->region);
	acc_enc = sigv4_uri_encode(s->account, strlen(s->account), 0);
	role_enc = sigv4_uri_encode(s->role, strlen(s->role), 0);
	url = xasprintf("%s/federation/credentials?account_id=%s&role_name=%s", endpoint, acc_enc,
	                role_enc);
	free(endpoint);
	free(acc_enc);
	free(role_enc);
	return url;
}

/* The roleCredentials of a 200 reply. */
static int sso_parse(const struct http_response *resp, const struct prof *p, struct creds *out,
                     struct tf_error *err)
{
	cJSON *reply = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	const cJSON *rc_obj = cJSON_GetObjectItemCaseSensitive(reply, "roleCredentials");
	const char *ak = creds_json_str(rc_obj, "accessKeyId");
	const char *sk = creds_json_str(rc_obj, "secretAccessKey");
	const char *st = creds_json_str(rc_obj, "sessionToken");
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(rc_obj, "expiration");
	int rc = 0;
	if (!ak || !*ak || !sk || !*sk)
		rc = err_set(err, ERR_PARSE,
		             "profile \"%s\": SSO GetRoleCredentials: no roleCredentials in "
		             "the reply",
		             p->name);
	else
		creds_set(out, ak, sk, st,
		          cJSON_IsNumber(ex) && ex->valuedouble > 0
		                  ? (time_t)(ex->valuedouble / 1000.0)
		                  : 0);
	json_delete_wiped(reply);
	return rc;
}

static int sso_role_creds(struct resolver *r, const struct prof *p, const struct sso_settings *s,
                          const char *token, struct creds *out, struct tf_error *err)
{
	char *url = sso_url(s);
	struct creds_hdrs hs;
	struct http_request req;
	struct http_response resp;
	int rc;

	hs.n = 0;
	memset(&req, 0, sizeof(req));
	http_response_init(&resp);
	creds_hdr_add(&hs, "x-amz-sso_bearer_token", token);
	req.method = "GET";
	req.url = url;
	req.headers = hs.h;
	req.nheaders = hs.n;
	req.timeout_ms = r->timeout_ms;
	rc = creds_http(r, &req, &resp, 1, err);
	if (rc) {
		err_prefix(err, "profile \"%s\": SSO GetRoleCredentials", p->name);
	} else if (resp.status != 200) {
		char *what = xasprintf(
		        "profile \"%s\": SSO GetRoleCredentials%s", p->name,
		        resp.status == 401 || resp.status == 403 ? " (run \"aws sso login\")" : "");
		rc = creds_json_fail(&resp, what, err);
		free(what);
	} else {
		rc = sso_parse(&resp, p, out, err);
	}
	creds_resp_free(&resp);
	creds_hdrs_free(&hs);
	free(url);
	return rc;
}

int creds_sso_fetch(struct resolver *r, const struct prof *p, struct creds *out,
                    struct tf_error *err)
{
	struct sso_settings s;
	char *token = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = sso_settings(r, p, &s, err);
	if (!rc)
		rc = sso_token(p, s.key, &token, err);
	if (!rc)
		rc = sso_role_creds(r, p, &s, token, out, err);
	secure_free_str(token);
	return rc;
}
