#include "s3.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "s3err.h"
#include "sigv4.h"

struct s3_client {
	struct http_client *http;
	struct creds creds;
	struct creds_config ccfg;
	char *scheme;    /* "https" */
	char *host;      /* host[:port] of the service endpoint */
	char *base_path; /* endpoint path prefix, "" or "/prefix" */
	char *region;
	char *bucket;
	int path_style;
	int aws;
	long timeout_ms;
	int max_attempts;
	char describe[512];
	/* owned copies of the credential config strings */
	char *c_profile, *c_region, *c_cred_file, *c_conf_file, *c_sts, *c_role, *c_sess, *c_ext;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int is_ip_or_localhost(const char *host)
{
	size_t n = strcspn(host, ":");
	if (host[0] == '[')
		return 1;
	if (n == 9 && !strncasecmp(host, "localhost", 9))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)host[i]) && host[i] != '.')
			return 0;
	return n > 0;
}

static int dns_compatible(const char *bucket)
{
	size_t n = strlen(bucket);
	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = bucket[i];
		if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '-'))
			return 0; /* dots break TLS wildcard certificates */
	}
	return bucket[0] != '-' && bucket[n - 1] != '-';
}

static const char *partition_suffix(const char *region)
{
	if (!strncmp(region, "cn-", 3))
		return "amazonaws.com.cn";
	return "amazonaws.com";
}

/* host[:port] of an endpoint URL: a host, and a port (when given) of 1..65535 */
static int check_host_port(const char *hp, const char *url, struct tf_error *err)
{
	const char *port = NULL;
	long n = 0;
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (!close || close == hp + 1 || (close[1] && close[1] != ':'))
			return err_set(err, ERR_USAGE, "endpoint '%s': '%s' is not a host[:port]",
			               url, hp);
		if (close[1])
			port = close + 2;
	} else {
		port = strchr(hp, ':');
		if (port == hp)
			return err_set(err, ERR_USAGE, "endpoint '%s' has no host", url);
		if (port)
			port++;
	}
	if (!port)
		return 0;
	for (const char *q = port; *q; q++) {
		if (!isdigit((unsigned char)*q) || q - port >= 5) {
			n = -1;
			break;
		}
		n = n * 10 + (*q - '0');
	}
	if (n < 1 || n > 65535)
		return err_set(err, ERR_USAGE,
		               "endpoint '%s': port '%s' is not a number in 1..65535", url, port);
	return 0;
}

static int parse_endpoint(struct s3_client *c, const char *url, struct tf_error *err)
{
	const char *p;
	size_t hl;
	if (!strncasecmp(url, "https://", 8)) {
		c->scheme = xstrdup("https");
		p = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		c->scheme = xstrdup("http");
		p = url + 7;
	} else {
		return err_set(err, ERR_USAGE, "endpoint '%s' is not an http:// or https:// URL",
		               url);
	}
	if (strpbrk(p, "?#"))
		return err_set(err, ERR_USAGE, "endpoint '%s' must not have a query or fragment",
		               url);
	hl = strcspn(p, "/?#");
	if (hl == 0)
		return err_set(err, ERR_USAGE, "endpoint '%s' has no host", url);
	if (memchr(p, '@', hl))
		return err_set(err, ERR_USAGE, "endpoint '%s' must not contain user information",
		               url);
	c->host = xstrndup(p, hl);
	if (check_host_port(c->host, url, err))
		return ERR_USAGE;
	p += hl;
	if (*p == '?' || *p == '#')
		return err_set(err, ERR_USAGE, "endpoint '%s' must not have a query", url);
	{
		size_t pl = strlen(p);
		while (pl && p[pl - 1] == '/')
			pl--;
		c->base_path = xstrndup(p, pl);
	}
	return 0;
}

int s3_check_endpoint(const char *url, struct tf_error *err)
{
	struct s3_client c;
	int ret;
	memset(&c, 0, sizeof(c));
	ret = parse_endpoint(&c, url, err);
	free(c.scheme);
	free(c.host);
	free(c.base_path);
	return ret;
}

/* a character of a name for a message: itself when printable, else \xNN */
static const char *show_char(unsigned char ch, char out[8])
{
	if (ch > 0x20 && ch < 0x7f)
		snprintf(out, 8, "'%c'", ch);
	else
		snprintf(out, 8, "\\x%02x", ch);
	return out;
}

int s3_check_bucket(const char *name, struct tf_error *err)
{
	size_t n = strlen(name), dots = 0, digits = 0;
	char ch[8];
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!islower(c) && !isdigit(c) && c != '.' && c != '-')
			return err_set(err, ERR_USAGE,
			               "bucket '%s' has %s: S3 bucket names are made of lowercase "
			               "letters, digits, '.' and '-'",
			               name, show_char(c, ch));
		dots += c == '.';
		digits += isdigit(c) != 0;
	}
	if (n < 3 || n > 63)
		return err_set(
		        err, ERR_USAGE,
		        "bucket '%s' is too %s (%zu characters): S3 bucket names have 3 to 63",
		        name, n < 3 ? "short" : "long", n);
	if (!isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
		return err_set(err, ERR_USAGE,
		               "bucket '%s': S3 bucket names start and end with a letter or digit",
		               name);
	if (strstr(name, ".."))
		return err_set(err, ERR_USAGE,
		               "bucket '%s': S3 bucket names have no two adjacent periods", name);
	if (dots == 3 && digits + dots == n)
		return err_set(err, ERR_USAGE, "bucket '%s': S3 bucket names are not IP addresses",
		               name);
	return 0;
}

int s3_check_region(const char *region, struct tf_error *err)
{
	size_t n = strlen(region);
	int ok = n >= 1 && n <= 63 && isalnum((unsigned char)region[0]) &&
	         isalnum((unsigned char)region[n - 1]);
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)region[i]) || region[i] == '-';
	if (!ok)
		return err_set(err, ERR_USAGE,
		               "region '%s' is not a region name: letters, digits and '-' (at "
		               "most 63), like us-east-1",
		               region);
	return 0;
}

int s3_check_key(const char *key, struct tf_error *err)
{
	size_t n = strlen(key);
	if (n > S3_MAX_KEY)
		return err_set(err, ERR_USAGE,
		               "'%.40s...%s' is %zu bytes: S3 keys are at most %d bytes (UTF-8)",
		               key, key + n - 12, n, S3_MAX_KEY);
	return 0;
}

int s3_client_new(const struct s3_config *cfg, struct s3_client **out, struct tf_error *err)
{
	struct s3_client *c;
	int ret;
	*out = NULL;
	if (!cfg->bucket || !*cfg->bucket)
		return err_set(err, ERR_USAGE, "no bucket given");
	c = xcalloc(1, sizeof(*c));
	c->region = xstrdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
	c->bucket = xstrdup(cfg->bucket);
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	c->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 4;
	if (cfg->endpoint && *cfg->endpoint) {
		ret = parse_endpoint(c, cfg->endpoint, err);
		if (ret)
			goto fail;
		c->path_style = cfg->path_style || is_ip_or_localhost(c->host) ||
		                !dns_compatible(c->bucket);
		/* an endpoint on amazonaws.com is still AWS (for the self-test skip) */
		c->aws = strstr(c->host, ".amazonaws.com") != NULL;
	} else {
		const char *sfx = partition_suffix(c->region);
		c->scheme = xstrdup("https");
		c->base_path = xstrdup("");
		c->aws = 1;
		c->host = xasprintf("s3%s%s.%s.%s", cfg->use_fips ? "-fips" : "",
		                    cfg->use_dualstack ? ".dualstack" : "", c->region, sfx);
		c->path_style = cfg->path_style || !dns_compatible(c->bucket);
	}
	snprintf(c->describe, sizeof(c->describe), "%s://%s%s (%s, region %s)", c->scheme, c->host,
	         c->base_path, c->path_style ? "path style" : "virtual-hosted style", c->region);

	c->ccfg = cfg->creds;
	c->ccfg.profile = c->c_profile = dup_or_null(cfg->creds.profile);
	c->ccfg.region = c->c_region =
	        dup_or_null(cfg->creds.region ? cfg->creds.region : c->region);
	c->ccfg.shared_credentials_file = c->c_cred_file =
	        dup_or_null(cfg->creds.shared_credentials_file);
	c->ccfg.shared_config_file = c->c_conf_file = dup_or_null(cfg->creds.shared_config_file);
	c->ccfg.sts_endpoint = c->c_sts = dup_or_null(cfg->creds.sts_endpoint);
	c->ccfg.assume_role.role_arn = c->c_role = dup_or_null(cfg->creds.assume_role.role_arn);
	c->ccfg.assume_role.session_name = c->c_sess =
	        dup_or_null(cfg->creds.assume_role.session_name);
	c->ccfg.assume_role.external_id = c->c_ext =
	        dup_or_null(cfg->creds.assume_role.external_id);

	c->http = http_client_new();
	if (!c->http) {
		ret = err_set(err, ERR_INTERNAL, "cannot initialise libcurl");
		goto fail;
	}
	creds_init(&c->creds);
	ret = creds_resolve(&c->ccfg, &c->creds, err);
	if (ret)
		goto fail;
	log_verbose("s3: %s, bucket '%s', credentials from %s", c->describe, c->bucket,
	            c->creds.source);
	*out = c;
	return 0;
fail:
	s3_client_free(c);
	return ret;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	http_client_free(c->http);
	creds_free(&c->creds);
	free(c->scheme);
	free(c->host);
	free(c->base_path);
	free(c->region);
	free(c->bucket);
	free(c->c_profile);
	free(c->c_region);
	free(c->c_cred_file);
	free(c->c_conf_file);
	free(c->c_sts);
	free(c->c_role);
	free(c->c_sess);
	free(c->c_ext);
	free(c);
}

const char *s3_client_describe(const struct s3_client *c)
{
	return c->describe;
}

int s3_client_is_aws(const struct s3_client *c)
{
	return c->aws;
}

const char *s3_client_bucket(const struct s3_client *c)
{
	return c->bucket;
}

const char *s3_client_creds_source(const struct s3_client *c)
{
	return c->creds.source;
}

static int refresh_creds(struct s3_client *c, struct tf_error *err);

int s3_client_has_sts(const struct s3_client *c)
{
	return c->aws || creds_sts_configured(&c->ccfg);
}

int s3_client_caller_identity(struct s3_client *c, struct creds_identity *out, struct tf_error *err)
{
	int ret = refresh_creds(c, err);
	if (ret)
		return ret;
	return creds_caller_identity(&c->ccfg, &c->creds, out, err);
}

void s3_reply_init(struct s3_reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	http_response_init(&r->http);
}

void s3_reply_free(struct s3_reply *r)
{
	if (!r)
		return;
	http_response_free(&r->http);
	buf_free(&r->body);
	r->status = 0;
	r->etag[0] = '\0';
	r->date = NULL;
}

void s3_etag_normalise(const char *in, char *out, size_t size)
{
	size_t n;
	if (!size)
		return;
	if (!in) {
		out[0] = '\0';
		return;
	}
	if (!strncmp(in, "W/", 2))
		in += 2;
	n = strlen(in);
	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	if (n >= size)
		n = size - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

void s3_checksum_sha256_b64(const void *data, size_t len, char out[64])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

char *s3_url_for(const struct s3_client *c, const char *key, const char *subresource,
                 char **host_out, char **path_out)
{
	struct buf raw = BUF_INIT;
	char *host, *enc, *url;
	if (c->path_style) {
		host = xstrdup(c->host);
		buf_addf(&raw, "%s/%s", c->base_path, c->bucket);
		if (key)
			buf_addf(&raw, "/%s", key);
	} else {
		host = xasprintf("%s.%s", c->bucket, c->host);
		buf_addf(&raw, "%s/%s", c->base_path, key ? key : "");
	}
	if (c->path_style && !key)
		buf_addc(&raw, '/'); /* bucket operations: "/bucket/" */
	enc = sigv4_uri_encode(raw.data, raw.len, 1);
	url = xasprintf("%s://%s%s%s%s", c->scheme, host, enc, subresource ? "?" : "",
	                subresource ? subresource : "");
	if (path_out)
		*path_out = buf_detach(&raw, NULL);
	buf_free(&raw);
	if (host_out)
		*host_out = host;
	else
		free(host);
	free(enc);
	return url;
}

static int refresh_creds(struct s3_client *c, struct tf_error *err)
{
	struct creds fresh;
	int ret;
	if (!creds_expiring(&c->creds, time(NULL), 300))
		return 0;
	creds_init(&fresh);
	ret = creds_resolve(&c->ccfg, &fresh, err);
	if (ret) {
		creds_free(&fresh);
		/* keep using the old ones while they are still valid */
		if (!creds_expiring(&c->creds, time(NULL), 0)) {
			log_warn("cannot refresh credentials (%s); using the current ones until "
			         "they expire",
			         err->msg);
			err_clear(err);
			return 0;
		}
		err_prefix(err, "the credentials from %s expired and cannot be refreshed",
		           c->creds.source);
		err->kind = ERR_CREDENTIALS; /* nothing was sent: never an unknown outcome */
		return ERR_CREDENTIALS;
	}
	creds_free(&c->creds);
	c->creds = fresh;
	log_verbose("s3: credentials refreshed from %s", c->creds.source);
	return 0;
}

static void describe_http_error(struct s3_client *c, const struct s3_request *req,
                                struct s3_reply *r, struct tf_error *err)
{
	struct s3err e;
	char line[512];
	const char *what = req->key ? req->key : "";
	memset(&e, 0, sizeof(e));
	s3err_parse(r->body.data, r->body.len, &e);
	if (!e.region[0]) {
		const char *br = http_response_header(&r->http, "x-amz-bucket-region");
		if (br)
			snprintf(e.region, sizeof(e.region), "%s", br);
	}
	err->kind = ERR_HTTP;
	err->http_status = r->status;
	snprintf(err->s3_code, sizeof(err->s3_code), "%s", e.code);
	snprintf(err->message, sizeof(err->message), "%s", e.message);
	snprintf(err->request_id, sizeof(err->request_id), "%s", e.request_id);
	s3err_describe(r->status, &e, line, sizeof(line));

	if (!strcmp(e.code, "SignatureDoesNotMatch")) {
		err_set(err, ERR_HTTP,
		        "%s s3://%s/%s: signature does not match (403 SignatureDoesNotMatch): the "
		        "secret key from %s is wrong",
		        req->method, c->bucket, what, c->creds.source);
	} else if (!strcmp(e.code, "InvalidAccessKeyId")) {
		err_set(err, ERR_HTTP,
		        "%s s3://%s/%s: the access key from %s is not known to the store (403 "
		        "InvalidAccessKeyId)",
		        req->method, c->bucket, what, c->creds.source);
	} else if (!strcmp(e.code, "NoSuchBucket")) {
		err_set(err, ERR_HTTP, "bucket '%s' does not exist at %s (404 NoSuchBucket)",
		        c->bucket, c->describe);
	} else if (r->status == 301 || !strcmp(e.code, "PermanentRedirect") ||
	           !strcmp(e.code, "AuthorizationHeaderMalformed") ||
	           (e.region[0] && strcmp(e.region, c->region))) {
		if (e.region[0] && strcmp(e.region, c->region))
			err_set(err, ERR_HTTP,
			        "bucket '%s' is in region %s, not %s: pass --region %s (%s)",
			        c->bucket, e.region, c->region, e.region, line);
		else if (e.region[0]) /* the region is right: the endpoint is not */
			err_set(err, ERR_HTTP,
			        "bucket '%s' is in region %s as configured, but %s://%s%s does not "
			        "serve that region: check --endpoint (%s)",
			        c->bucket, e.region, c->scheme, c->host, c->base_path, line);
		else
			err_set(err, ERR_HTTP, "bucket '%s' is not in region %s (%s)", c->bucket,
			        c->region, line);
	} else if (!strcmp(e.code, "RequestTimeTooSkewed")) {
		time_t date;
		if (!clock_parse_http_date(http_response_header(&r->http, "date"), &date)) {
			long skew = (long)(time(NULL) - date);
			err_set(err, ERR_HTTP,
			        "this machine's clock is %ld s %s the store's (403 "
			        "RequestTimeTooSkewed): fix the clock (NTP)",
			        labs(skew), skew > 0 ? "ahead of" : "behind");
		} else {
			err_set(err, ERR_HTTP,
			        "this machine's clock differs too much from the store's (403 "
			        "RequestTimeTooSkewed): fix the clock (NTP)");
		}
	} else {
		err_set(err, ERR_HTTP, "%s s3://%s/%s: %s", req->method, c->bucket, what, line);
	}
}

static int retryable_status(long status)
{
	return status >= 500 || status == 429;
}

/* What one signed request is: the URL and its signed parts. headers has room
 * for three more (x-amz-date, the token, Authorization). */
struct signed_req {
	const char *method, *url, *host, *path;
	int s3_path;
	const struct sigv4_pair *query;
	size_t nquery;
	struct http_header *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
	const char *payload_hash, *service, *region;
	long timeout_ms;
	int64_t deadline_ns;
	int abortable;
};

/* Sign with the client's (refreshed) credentials and send once. 0 when the
 * server answered (any status), else the transport's ERR_*. */
static int sign_and_send(struct s3_client *c, struct signed_req *q, struct http_response *resp,
                         struct tf_error *err)
{
	struct sigv4_params sp;
	struct sigv4_result sr;
	struct http_request hr;
	size_t n = q->nheaders;
	int ret;

	memset(&sr, 0, sizeof(sr));
	ret = refresh_creds(c, err);
	if (ret)
		return ret;
	memset(&sp, 0, sizeof(sp));
	sp.method = q->method;
	sp.host = q->host;
	sp.path = q->path;
	sp.s3_path = q->s3_path;
	sp.query = q->query;
	sp.nquery = q->nquery;
	sp.headers = q->headers;
	sp.nheaders = n;
	sp.payload_hash = q->payload_hash;
	sp.region = q->region;
	sp.service = q->service;
	sp.access_key = c->creds.access_key;
	sp.secret_key = c->creds.secret_key;
	sp.session_token = c->creds.session_token;
	sp.now = time(NULL);
	ret = sigv4_sign(&sp, &sr, err);
	if (ret)
		goto out;
	q->headers[n].name = "x-amz-date";
	q->headers[n++].value = sr.amz_date;
	if (c->creds.session_token && *c->creds.session_token) {
		q->headers[n].name = "x-amz-security-token";
		q->headers[n++].value = c->creds.session_token;
	}
	q->headers[n].name = "Authorization";
	q->headers[n++].value = sr.authorization;
	memset(&hr, 0, sizeof(hr));
	hr.method = q->method;
	hr.url = q->url;
	hr.headers = q->headers;
	hr.nheaders = n;
	hr.body = q->body;
	hr.body_len = q->body_len;
	hr.abortable = q->abortable;
	hr.timeout_ms = q->timeout_ms > 0 ? q->timeout_ms : c->timeout_ms;
	if (q->deadline_ns) {
		int64_t left = (q->deadline_ns - clock_boot_ns()) / NS_PER_MS;
		if (left <= 0) {
			ret = err_set(err, ERR_TIMEOUT, "%s %s: deadline passed before sending",
			              q->method, q->url);
			err->kind = ERR_CONNECT; /* nothing was sent */
			goto out;
		}
		if (left < hr.timeout_ms)
			hr.timeout_ms = left;
	}
	ret = http_do(c->http, &hr, resp, err);
out:
	sigv4_result_free(&sr);
	return ret;
}

static int one_attempt(struct s3_client *c, const struct s3_request *req, struct s3_reply *r,
                       struct tf_error *err)
{
	struct http_header hdrs[24];
	struct signed_req q;
	char hash[65], *host = NULL, *path = NULL, *url = NULL;
	size_t n = 0;
	int ret;
	struct sigv4_pair sub = { req->subresource, "" };
	char *qs = req->query ? sigv4_query_string(req->query, req->nquery) : NULL;

	if (req->nheaders > 16) {
		free(qs);
		return err_set(err, ERR_INTERNAL, "too many headers");
	}
	url = s3_url_for(c, req->key, qs ? qs : req->subresource, &host, &path);
	free(qs);
	sha256_hex(req->body ? req->body : "", req->body_len, hash);
	hdrs[n].name = "x-amz-content-sha256";
	hdrs[n++].value = hash;
	for (size_t i = 0; i < req->nheaders; i++)
		hdrs[n++] = req->headers[i];
	memset(&q, 0, sizeof(q));
	q.method = req->method;
	q.url = url;
	q.host = host;
	q.path = path;
	q.s3_path = 1;
	q.query = req->query ? req->query : req->subresource ? &sub : NULL;
	q.nquery = req->query ? req->nquery : req->subresource ? 1 : 0;
	q.headers = hdrs;
	q.nheaders = n;
	q.body = req->body;
	q.body_len = req->body_len;
	q.payload_hash = hash;
	q.service = "s3";
	q.region = c->region;
	q.timeout_ms = req->timeout_ms;
	q.deadline_ns = req->deadline_ns;
	q.abortable = req->abortable;
	ret = sign_and_send(c, &q, &r->http, err);
	r->t_send = r->http.t_send;
	r->t_recv = r->http.t_recv;
	if (ret)
		goto out;
	r->status = r->http.status;
	buf_reset(&r->body);
	buf_add(&r->body, r->http.body.data, r->http.body.len);
	s3_etag_normalise(http_response_header(&r->http, "etag"), r->etag, sizeof(r->etag));
	r->date = http_response_header(&r->http, "date");
	if ((r->status >= 200 && r->status < 300) || r->status == 304)
		ret = 0;
	else {
		describe_http_error(c, req, r, err);
		ret = ERR_HTTP;
	}
out:
	free(url);
	free(host);
	free(path);
	return ret;
}

const struct creds_config *s3_client_creds_config(const struct s3_client *c)
{
	return &c->ccfg;
}

int s3_client_send_signed(struct s3_client *c, const struct s3_service_request *req,
                          struct http_response *resp, struct tf_error *err)
{
	struct http_header hdrs[12];
	struct signed_req q;
	char hash[65];
	if (req->nheaders > 8)
		return err_set(err, ERR_INTERNAL, "too many headers");
	for (size_t i = 0; i < req->nheaders; i++)
		hdrs[i] = req->headers[i];
	sha256_hex(req->body ? req->body : "", req->body_len, hash);
	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.url = req->url;
	q.host = req->host;
	q.path = req->path;
	q.headers = hdrs;
	q.nheaders = req->nheaders;
	q.body = req->body;
	q.body_len = req->body_len;
	q.payload_hash = hash;
	q.service = req->service;
	q.region = req->region;
	q.timeout_ms = req->timeout_ms;
	q.deadline_ns = req->deadline_ns;
	q.abortable = req->abortable;
	return sign_and_send(c, &q, resp, err);
}

int s3_request(struct s3_client *c, const struct s3_request *req, struct s3_reply *reply,
               struct tf_error *err)
{
	int is_read = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
	int attempts = req->no_retry ? 1 : c->max_attempts;
	int ret = 0;
	int64_t first_send = 0;
	for (int attempt = 0; attempt < attempts; attempt++) {
		int retry;
		err_clear(err);
		s3_reply_free(reply);
		ret = one_attempt(c, req, reply, err);
		if (!first_send)
			first_send = reply->t_send;
		reply->t_first_send = first_send;
		if (ret == 0)
			return 0;
		if (ret == ERR_CANCELLED || (req->abortable && http_aborting()))
			retry = 0;
		else if (ret == ERR_CONNECT)
			retry = 1; /* never sent: safe for writes too */
		else if (!is_read)
			retry = 0; /* outcome unknown or answered: the caller decides */
		else
			retry = ret == ERR_TIMEOUT || ret == ERR_TRANSPORT ||
			        (ret == ERR_HTTP && retryable_status(reply->status));
		if (!retry || attempt + 1 >= attempts)
			break;
		{
			int64_t delay = backoff_full_jitter((unsigned)attempt, 200, 5000,
			                                    rand_u64_default, NULL);
			if (ret == ERR_HTTP && (reply->status == 429 || reply->status == 503))
				delay += 500; /* SlowDown: be slower than the others */
			if (req->deadline_ns &&
			    clock_boot_ns() + delay * NS_PER_MS >= req->deadline_ns)
				break;
			log_debug("s3: retrying %s after %s (in %lld ms)", req->method, err->msg,
			          (long long)delay);
			/* a signal ends the wait early; an abortable request then stops */
			clock_sleep_ms(delay);
		}
	}
	return ret;
}

static int simple(struct s3_client *c, const char *method, const char *key, const char *cond_name,
                  const char *cond_etag, struct s3_reply *r, struct tf_error *err)
{
	struct http_header h[1];
	char quoted[160];
	struct s3_request req;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.key = key;
	if (cond_etag) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", cond_etag);
		h[0].name = cond_name;
		h[0].value = quoted;
		req.headers = h;
		req.nheaders = 1;
	}
	return s3_request(c, &req, r, err);
}

int s3_get(struct s3_client *c, const char *key, const char *if_none_match, struct s3_reply *r,
           struct tf_error *err)
{
	return simple(c, "GET", key, "If-None-Match", if_none_match, r, err);
}

int s3_head(struct s3_client *c, const char *key, const char *if_none_match, struct s3_reply *r,
            struct tf_error *err)
{
	return simple(c, "HEAD", key, "If-None-Match", if_none_match, r, err);
}

int s3_delete(struct s3_client *c, const char *key, const char *if_match, struct s3_reply *r,
              struct tf_error *err)
{
	return simple(c, "DELETE", key, "If-Match", if_match, r, err);
}
