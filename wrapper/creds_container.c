/*
 * creds_container — ECS/EKS container credentials: a GET to the URL the
 * container's environment names. See creds.h for the contract, creds_impl.h
 * for the place of this file.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds_impl.h"

#define ECS_HOST "http://169.254.170.2"

static int container_host_allowed(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;
	static const unsigned char eks6[16] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
		                                0,    0,    0,    0,    0, 0, 0, 0x23 };
	if (!strcasecmp(h, "localhost"))
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1) {
		uint32_t v = ntohl(a4.s_addr);
		return (v >> 24) == 127 || v == 0xA9FEAA02u /* 169.254.170.2 */ ||
		       v == 0xA9FEAA17u /* 169.254.170.23 */;
	}
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || !memcmp(&a6, eks6, 16);
	return 0;
}

int creds_container_url(char **url, struct tf_error *err)
{
	const char *rel = getenv_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char *host;
	int ok;
	*url = NULL;
	if (rel) {
		*url = xasprintf("%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
		return 0;
	}
	if (!full)
		return CREDS_NOT_CONFIGURED;
	if (!strncasecmp(full, "https://", 8)) {
		*url = xstrdup(full);
		return 0;
	}
	if (strncasecmp(full, "http://", 7))
		return err_set(err, ERR_USAGE,
		               "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\" is not an http:// or "
		               "https:// URL",
		               full);
	host = creds_url_hostname(full);
	ok = host && container_host_allowed(host);
	free(host);
	if (!ok)
		return err_set(
		        err, ERR_USAGE,
		        "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\": plain http is allowed only "
		        "to a loopback address, 169.254.170.2, 169.254.170.23 or "
		        "fd00:ec2::23; use https",
		        full);
	*url = xstrdup(full);
	return 0;
}

int creds_container_fetch(struct resolver *r, struct creds *out, struct tf_error *err)
{
	const char *tfile = getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tenv = getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *url = NULL;
	struct buf tok;
	struct creds_hdrs hs;
	struct http_request req;
	struct http_response resp;
	int rc;

	buf_init(&tok);
	hs.n = 0;
	memset(&req, 0, sizeof(req));
	http_response_init(&resp);
	rc = creds_container_url(&url, err);
	if (rc)
		return rc; /* CREDS_NOT_CONFIGURED or ERR_USAGE */
	if (tfile) {
		rc = buf_read_file(&tok, tfile, CREDS_SECRET_FILE_MAX, err);
		if (rc) {
			err_prefix(err,
			           "container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
			goto out;
		}
		creds_trim(&tok);
	} else if (tenv) {
		buf_adds(&tok, tenv);
	}
	if (tok.len) {
		if (strpbrk(tok.data, "\r\n")) {
			rc = err_set(
			        err, ERR_USAGE,
			        "container credentials: the authorization token has a line break");
			goto out;
		}
		creds_hdr_add(&hs, "Authorization", tok.data);
	}
	req.method = "GET";
	req.url = url;
	req.headers = hs.h;
	req.nheaders = hs.n;
	req.timeout_ms = r->timeout_ms < 5000 ? r->timeout_ms : 5000;
	req.connect_timeout_ms = 2000;
	req.no_proxy = strncasecmp(url, "https://", 8) != 0; /* link-local or loopback */
	rc = creds_http(r, &req, &resp, 0, err);
	if (rc) {
		err_prefix(err, "container credentials");
		goto out;
	}
	if (resp.status != 200) {
		rc = creds_json_fail(&resp, "container credentials", err);
		goto out;
	}
	rc = creds_json_creds(resp.body.data, resp.body.len, "Token", 0, out,
	                      "container credentials", err);
out:
	creds_resp_free(&resp);
	creds_hdrs_free(&hs);
	buf_wipe(&tok);
	free(url);
	return rc;
}
