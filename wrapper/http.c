#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "version.h"

struct http_client {
	CURL *curl;
	int used; /* a connection may be cached from an earlier request */
};

static int trace;
static volatile sig_atomic_t *abort_flag;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_set_trace(int on)
{
	trace = on;
}

void http_set_abort(volatile sig_atomic_t *flag)
{
	abort_flag = flag;
}

int http_aborting(void)
{
	return abort_flag && *abort_flag;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return http_aborting(); /* non-zero: CURLE_ABORTED_BY_CALLBACK */
}

struct http_client *http_client_new(void)
{
	struct http_client *c;
	pthread_once(&global_once, global_init);
	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
}

static void free_headers(struct http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

void http_response_free(struct http_response *r)
{
	if (!r)
		return;
	free_headers(r);
	buf_free(&r->body);
	r->status = 0;
}

const char *http_response_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_response *r = userdata;
	size_t n = size * nmemb;
	if (r->body.len + n > HTTP_MAX_BODY) {
		size_t room = HTTP_MAX_BODY - r->body.len;
		buf_add(&r->body, ptr, room);
		r->body_over_cap = 1;
		return n; /* keep draining, drop the excess */
	}
	buf_add(&r->body, ptr, n);
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_response *r = userdata;
	size_t n = size * nmemb, len = n;
	char *colon;
	while (len && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
		len--;
	if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) {
		/* a new response (e.g. after 100 Continue): forget earlier headers */
		free_headers(r);
		return n;
	}
	colon = memchr(ptr, ':', len);
	if (!colon || r->nheaders >= 200)
		return n;
	{
		size_t nl = (size_t)(colon - ptr);
		const char *v = colon + 1, *end = ptr + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
		r->headers[r->nheaders].name = xstrndup(ptr, nl);
		for (char *p = r->headers[r->nheaders].name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		r->headers[r->nheaders].value = xstrndup(v, (size_t)(end - v));
		r->nheaders++;
	}
	return n;
}

/* The CA bundle a variable names: AWS_CA_BUNDLE (as the AWS SDKs read it),
 * else CURL_CA_BUNDLE and SSL_CERT_FILE as the curl tool reads them; NULL
 * when none does. */
static const char *ca_bundle(void)
{
	const char *ca = getenv_nonempty("AWS_CA_BUNDLE");
	if (!ca)
		ca = getenv_nonempty("CURL_CA_BUNDLE");
	return ca ? ca : getenv_nonempty("SSL_CERT_FILE");
}

const char *const http_ca_files[] = {
	"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine with ca-certificates */
	"/etc/pki/tls/certs/ca-bundle.crt",   /* RHEL, Fedora */
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL, Fedora (the source) */
	"/etc/ssl/ca-bundle.pem",                            /* SUSE */
	"/etc/ssl/cert.pem",                                 /* Alpine's default, LibreSSL */
	NULL,
};

int http_ca_search(const char *root)
{
	for (int i = 0; http_ca_files[i]; i++) {
		char *path = xasprintf("%s%s", root ? root : "", http_ca_files[i]);
		struct stat st;
		int found = !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, R_OK);
		free(path);
		if (found)
			return i;
	}
	return -1;
}

static const char *ca_system; /* the first readable of http_ca_files, if libcurl has no CAs */
static int ca_curl_default;   /* libcurl was built with a CA bundle or path of its own */
static pthread_once_t ca_once = PTHREAD_ONCE_INIT;

static void ca_search_once(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	int i;

	ca_curl_default = v->cainfo || v->capath;
	if (ca_curl_default)
		return;
	i = http_ca_search("");
	ca_system = i < 0 ? NULL : http_ca_files[i];
}

/* No CA for an https URL: the error names the files tried and the variables
 * that name a bundle. */
static int http_no_cas(const struct http_request *req, struct tf_error *err)
{
	struct buf tried;
	int ret;

	buf_init(&tried);
	for (int i = 0; http_ca_files[i]; i++)
		buf_addf(&tried, "%s%s", i ? ", " : "", http_ca_files[i]);
	ret = err_set(err, ERR_CONNECT,
	              "cannot connect to %s: no CA certificates to verify it with: none of %s "
	              "is readable; name a bundle with AWS_CA_BUNDLE, CURL_CA_BUNDLE or "
	              "SSL_CERT_FILE, or a directory with SSL_CERT_DIR",
	              req->url, tried.data);
	buf_free(&tried);
	return ret;
}

/* Where the CAs come from: a variable's bundle (plus SSL_CERT_DIR as a path),
 * else libcurl's own default, else (a static build has none) the first
 * readable file of http_ca_files, else SSL_CERT_DIR alone. 0, or ERR_CONNECT
 * for an https URL when nothing names any CA. */
static int http_set_cas(CURL *h, const struct http_request *req, struct tf_error *err)
{
	const char *file = ca_bundle(), *dir = getenv_nonempty("SSL_CERT_DIR");

	if (!file) {
		pthread_once(&ca_once, ca_search_once);
		file = ca_system;
	}
	if (file)
		curl_easy_setopt(h, CURLOPT_CAINFO, file);
	if (dir)
		curl_easy_setopt(h, CURLOPT_CAPATH, dir);
	if (file || dir || ca_curl_default || strncasecmp(req->url, "https:", 6))
		return 0;
	return http_no_cas(req, err);
}

/* A read (GET, HEAD) may reuse a kept-alive connection; everything else is a write. */
static int http_is_read(const char *method)
{
	return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* The request's total timeout in ms: 10 s unless it names one. */
static long http_timeout(const struct http_request *req)
{
	return req->timeout_ms > 0 ? req->timeout_ms : 10000;
}

/* The connect timeout in ms: the request's, else min(total, 3 s). */
static long http_connect_timeout(const struct http_request *req, long timeout)
{
	if (req->connect_timeout_ms > 0)
		return req->connect_timeout_ms;
	return timeout < 3000 ? timeout : 3000;
}

/* Where the request goes, how long it may take, where the reply lands, and
 * which connections it may use. errbuf must outlive the transfer. */
static void http_set_transfer(CURL *h, const struct http_request *req, struct http_response *resp,
                              char *errbuf)
{
	long timeout = http_timeout(req);

	curl_easy_setopt(h, CURLOPT_URL, req->url);
	/* the path goes out exactly as signed: no removal of "." and ".." segments */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, http_connect_timeout(req, timeout));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* A server drops idle keep-alive connections; reusing one that is about to
	 * close is what makes libcurl resend a request on a fresh connection. Do not
	 * reuse connections idle for longer than servers commonly keep them. */
	curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, 4L);
	/* libcurl silently sends a request again when a reused connection dies
	 * before any byte of the reply arrives. For a read that is harmless; for a
	 * write it would apply a write twice behind the caller's back (B2). Writes
	 * therefore always go on a fresh connection, where libcurl never resends:
	 * a lost reply reaches the caller as an unknown outcome. */
	if (!http_is_read(req->method))
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
}

/* What the request asks of the way there: no proxy, the abort flag watched
 * while the transfer runs. */
static void http_set_route(CURL *h, const struct http_request *req)
{
	if (req->no_proxy)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (req->abortable) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
}

/* The header lines sent: our User-Agent, libcurl's Expect and Accept
 * suppressed, then the request's own. The caller frees the list with
 * curl_slist_free_all(); the lines may hold secrets. */
static struct curl_slist *http_header_list(const struct http_request *req)
{
	struct curl_slist *hdrs = NULL;
	char ua[64];

	snprintf(ua, sizeof(ua), "User-Agent: tflock/%s", TFLOCK_VERSION);
	hdrs = curl_slist_append(hdrs, ua);
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = curl_slist_append(hdrs, "Accept:");
	for (size_t i = 0; i < req->nheaders; i++) {
		char *line = xasprintf("%s: %s", req->headers[i].name, req->headers[i].value);
		hdrs = curl_slist_append(hdrs, line);
		secure_free_str(line);
	}
	return hdrs;
}

/* The method, and the body for a method other than GET and HEAD (PUT and POST
 * always send one, empty if need be). */
static void http_set_method(CURL *h, const struct http_request *req)
{
	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(req->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || !strcmp(req->method, "PUT") || !strcmp(req->method, "POST")) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
	}
}

/* The trace of a request about to go: its line, then its headers redacted. */
static void http_trace_request(const struct http_request *req)
{
	log_verbose("> %s %s", req->method, req->url);
	for (size_t i = 0; i < req->nheaders; i++) {
		char *line = xasprintf("%s: %s", req->headers[i].name, req->headers[i].value);
		char *red = log_redact_header(line, strlen(line));
		log_debug(">   %s", red);
		free(red);
		secure_free_str(line);
	}
}

/* A reply arrived: its status; ERR_TRANSPORT when a 2xx body was cut at
 * HTTP_MAX_BODY, else 0. */
static int http_reply(CURL *h, const struct http_request *req, struct http_response *resp,
                      struct tf_error *err)
{
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (trace)
		log_verbose("< %ld (%s %s)", resp->status, req->method, req->url);
	/* a 2xx body is the payload: a cut one must not pass for the whole */
	if (resp->body_over_cap && resp->status >= 200 && resp->status <= 299)
		return err_set(err, ERR_TRANSPORT,
		               "%s %s: the reply body is more than %d bytes (tflock's "
		               "limit for a reply)",
		               req->method, req->url, HTTP_MAX_BODY);
	return 0;
}

/* A failure before libcurl wrote the request: the server cannot have seen it.
 * why is libcurl's message. */
static int http_fail_unsent(const struct http_request *req, CURLcode rc, const char *why,
                            struct tf_error *err)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return err_set(err, ERR_CONNECT, "cannot connect to %s: %s", req->url, why);
	case CURLE_OPERATION_TIMEDOUT: /* nothing written: connect or TLS handshake */
		return err_set(err, ERR_CONNECT, "cannot connect to %s (timed out): %s", req->url,
		               why);
	default:
		return err_set(err, ERR_TRANSPORT, "%s %s failed: %s", req->method, req->url, why);
	}
}

/* No reply: which error kind this failure is (see http.h). */
static int http_fail_kind(CURL *h, const struct http_request *req, CURLcode rc, const char *why,
                          struct tf_error *err)
{
	long tunnel = 0;
	curl_off_t pre = 0;

	/* a proxy that refused the tunnel (CONNECT answered with an error):
	 * nothing reached the server */
	curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &tunnel);
	if (tunnel && (tunnel < 200 || tunnel > 299)) {
		int ret = err_set(err, ERR_CONNECT, "cannot connect to %s: %s", req->url, why);
		err->http_status = tunnel; /* the proxy's answer: not a hiccup */
		return ret;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return err_set(err, ERR_CANCELLED, "%s %s abandoned: asked to stop", req->method,
		               req->url);
	/* libcurl stamps "pretransfer" once connect, proxy tunnel and TLS are
	 * done, right before it writes the request: unstamped, the server cannot
	 * have seen it, whatever the error; stamped, the outcome is unknown */
	curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pre);
	if (pre <= 0)
		return http_fail_unsent(req, rc, why, err);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return err_set(err, ERR_TIMEOUT, "%s %s timed out after %ld ms: %s", req->method,
		               req->url, http_timeout(req), why);
	return err_set(err, ERR_TRANSPORT, "%s %s failed: %s", req->method, req->url, why);
}

/* No reply: the error, traced when tracing. errbuf is libcurl's message, if any. */
static int http_failure(CURL *h, const struct http_request *req, CURLcode rc, const char *errbuf,
                        struct tf_error *err)
{
	int ret = http_fail_kind(h, req, rc, *errbuf ? errbuf : curl_easy_strerror(rc), err);
	if (trace)
		log_verbose("< failed: %s", err ? err->msg : curl_easy_strerror(rc));
	return ret;
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp,
            struct tf_error *err)
{
	CURL *h = c->curl;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int ret;

	http_response_free(resp);
	http_response_init(resp);
	curl_easy_reset(h); /* keeps the connection cache: keep-alive, TLS once */
	http_set_transfer(h, req, resp, errbuf);
	http_set_route(h, req);
	/* verification stays on (libcurl's default); only where the CAs come from changes */
	ret = http_set_cas(h, req, err);
	if (ret < 0)
		return ret;
	hdrs = http_header_list(req);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	http_set_method(h, req);
	if (trace)
		http_trace_request(req);

	resp->t_send = clock_boot_ns();
	if (req->abortable && http_aborting()) {
		ret = err_set(err, ERR_CANCELLED, "%s %s not sent: asked to stop", req->method,
		              req->url);
		goto out;
	}
	rc = curl_easy_perform(h);
	resp->t_recv = clock_boot_ns();
	c->used = 1;
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && resp->status))
		ret = http_reply(h, req, resp, err);
	else
		ret = http_failure(h, req, rc, errbuf, err);
out:
	curl_slist_free_all(hdrs); /* header lines may hold secrets: curl copies them */
	return ret;
}
