/*
 * Unit tests for wrapper/http.c against loopback stand-ins started here:
 * tests/helpers/stub-http (canned answers, logs every request as received,
 * closes every connection) and, where connection reuse must be visible,
 * tests/helpers/faultproxy in front of it (it keeps client connections alive
 * and numbers them in its log). Both are found through $top_builddir.
 */
#include "http.h"
#include "log.h"
#include "fixture.h"
#include "tap/basic.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

/* a loopback port nothing listens on (bound, then closed) */
static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		bail("cannot find a free port: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* one request with the defaults; *err cleared first */
static int req(struct http_client *c, const char *method, const char *url, const void *body,
               size_t body_len, const struct http_header *h, size_t nh, struct http_response *r,
               struct tf_error *err)
{
	struct http_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.body = body;
	rq.body_len = body_len;
	rq.headers = h;
	rq.nheaders = nh;
	err_clear(err);
	return http_do(c, &rq, r, err);
}

/* The connection number and method of each line of a faultproxy log, in the
 * log's order: the order requests finished, which keeps one connection's
 * requests in order but may put another connection's before them. */
static void conn_ids(const char *log, long *ids, char (*methods)[8], size_t max, size_t *n)
{
	*n = 0;
	for (const char *p = log; *p && *n < max;) {
		const char *nl = strchr(p, '\n');
		long long ns;
		long id;
		if (sscanf(p, "%lld %ld %7s", &ns, &id, methods[*n]) == 3)
			ids[(*n)++] = id;
		if (!nl)
			break;
		p = nl + 1;
	}
}

/* ------------------------------------------------------------------ tests */

static void test_response(void)
{
	struct http_client *c = http_client_new();
	struct http_response r;
	struct tf_error e;
	struct server s;
	char url[128], routes[1024], *log;

	wfile("body", "{\"hello\":\"world\"}\n");
	snprintf(routes, sizeof(routes),
	         "GET /thing 201 %s\n"
	         "  X-Tflock-Test:   Mixed Case Value  \n"
	         "  ETag: \"abc\"\n"
	         "HEAD /thing 200 %s\n"
	         "  X-Tflock-Test: head\n",
	         path_in("body"), path_in("body"));
	stub_start(&s, "resp", routes);
	http_response_init(&r);
	snprintf(url, sizeof(url), "%s/thing", s.url);

	is_int(0, req(c, "GET", url, NULL, 0, NULL, 0, &r, &e), "GET: a response arrived");
	is_int(201, r.status, "GET: the status is captured");
	is_int(18, (long long)r.body.len, "GET: the whole body");
	ok(r.body.len == 18 && !memcmp(r.body.data, "{\"hello\":\"world\"}\n", 18),
	   "GET: the body bytes as sent");
	is_string("Mixed Case Value", http_response_header(&r, "x-tflock-test"),
	          "headers: lookup by the lowercase name; the value trimmed");
	is_string("Mixed Case Value", http_response_header(&r, "X-TFLOCK-TEST"),
	          "headers: lookup is case-insensitive");
	is_string("\"abc\"", http_response_header(&r, "etag"), "headers: ETag kept as sent");
	ok(http_response_header(&r, "x-not-there") == NULL, "headers: an absent one is NULL");
	{
		int lower = 1;
		for (size_t i = 0; i < r.nheaders; i++)
			for (const char *p = r.headers[i].name; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					lower = 0;
		ok(r.nheaders >= 4 && lower,
		   "headers: every stored name is lowercase (%zu headers)", r.nheaders);
	}
	ok(r.t_send > 0 && r.t_recv >= r.t_send, "timestamps: sent, then received");

	is_int(0, req(c, "HEAD", url, NULL, 0, NULL, 0, &r, &e), "HEAD: a response arrived");
	is_int(200, r.status, "HEAD: the status is captured");
	is_int(0, (long long)r.body.len, "HEAD: no body");
	is_string("18", http_response_header(&r, "content-length"),
	          "HEAD: the Content-Length of the body it did not send");
	is_string("head", http_response_header(&r, "x-tflock-test"),
	          "HEAD: headers of this response only, none left from the GET");

	log = server_stop(&s, NULL);
	contains(log, "=== 1 GET /thing\n", "the GET was sent as a GET");
	contains(log, "=== 2 HEAD /thing\n", "the HEAD was sent as a HEAD");
	contains(log, "User-Agent: tflock/", "a tflock User-Agent");
	is_int(2, count(log, "=== end "), "two requests reached the server");
	free(log);
	http_response_free(&r);
	http_client_free(c);
}

static void test_bodies(void)
{
	static const char body[] = "line one\r\nline two\0after a NUL\n\xff\xfe binary";
	const size_t body_len = sizeof(body) - 1;
	struct http_client *c = http_client_new();
	struct http_header h[2] = { { "X-Custom", "custom value" },
		                    { "Content-Type", "application/octet-stream" } };
	struct http_response r;
	struct tf_error e;
	struct server s;
	char url[128], want[256], *log, *at;
	size_t log_len;
	int n;

	stub_start(&s, "bodies", "PUT /obj 200 -\nPOST /sts 200 -\nDELETE /obj 204 -\n");
	http_response_init(&r);
	snprintf(url, sizeof(url), "%s/obj", s.url);
	is_int(0, req(c, "PUT", url, body, body_len, h, 2, &r, &e), "PUT: answered");
	is_int(200, r.status, "PUT: 200");
	is_int(0, req(c, "DELETE", url, NULL, 0, NULL, 0, &r, &e), "DELETE: answered");
	is_int(204, r.status, "DELETE: 204");
	snprintf(url, sizeof(url), "%s/sts", s.url);
	is_int(0, req(c, "POST", url, "Action=X", 8, NULL, 0, &r, &e), "POST: answered");
	is_int(0, req(c, "PUT", url, NULL, 0, NULL, 0, &r, &e), "PUT without a body: answered");

	log = server_stop(&s, &log_len);
	/* the stub logs: request line, headers, blank line, body bytes, newline, "=== end" */
	at = memmem(log, log_len, "=== 1 PUT /obj\n", 15);
	ok(at != NULL, "PUT: logged");
	at = at ? memmem(at, log_len - (size_t)(at - log), "\n\n", 2) : NULL;
	ok(at && (size_t)(log + log_len - (at + 2)) > body_len && !memcmp(at + 2, body, body_len) &&
	           !strncmp(at + 2 + body_len, "\n=== end 1 ", 11),
	   "PUT: the body arrived exactly, NUL and binary bytes included");
	for (size_t i = 0; i < log_len; i++)
		if (!log[i])
			log[i] = '.'; /* the rest is checked as text */
	snprintf(want, sizeof(want), "Content-Length: %zu\n", body_len);
	contains(log, want, "PUT: with its exact Content-Length");
	contains(log, "X-Custom: custom value\n", "request headers are sent as given");
	contains(log, "Content-Type: application/octet-stream\n", "... all of them");
	lacks(log, "Expect:", "no Expect: 100-continue (no extra round trip)");
	lacks(log, "Transfer-Encoding", "never chunked");
	contains(log, "=== 2 DELETE /obj\n", "DELETE: sent as a DELETE");
	contains(log, "=== 3 POST /sts\n", "POST: sent as a POST");
	contains(log, "\nAction=X\n=== end 3 ", "POST: its body");
	at = strstr(log, "=== 4 PUT /sts\n");
	ok(at && strstr(at, "Content-Length: 0\n") != NULL, "PUT without a body: Content-Length 0");
	n = count(log, "=== end ");
	is_int(4, n, "four requests, each sent once");
	free(log);
	http_response_free(&r);
	http_client_free(c);
}

/* reads may reuse a kept-alive connection; writes never do (PROTOCOL B2) */
static void test_connections(void)
{
	struct http_client *c = http_client_new();
	struct http_response r;
	struct tf_error e;
	struct server s, p;
	char url[128], *log;
	long ids[16], get_ids[2];
	char methods[16][8];
	size_t n, ngets = 0;
	static const char *const seq[] = { "GET", "GET", "PUT", "GET", "DELETE", "POST", "PUT" };
	const size_t nseq = sizeof(seq) / sizeof(seq[0]);
	int writes_fresh = 1;

	stub_start(&s, "conn-origin", "* /o 200 -\n");
	proxy_start(&p, "conn-proxy", &s, "# pass everything\n");
	http_response_init(&r);
	snprintf(url, sizeof(url), "%s/o", p.url);
	for (size_t i = 0; i < nseq; i++) {
		int rc = req(c, seq[i], url, NULL, 0, NULL, 0, &r, &e);
		if (rc || r.status != 200)
			diag("%s: rc %d status %ld: %s", seq[i], rc, r.status, e.msg);
	}
	/* faultproxy writes its line when a request is finished: wait for all (bounded) */
	for (int i = 0; i < 500; i++) {
		log = slurp(p.log, NULL);
		n = (size_t)count(log, "\n");
		free(log);
		if (n >= nseq)
			break;
		usleep(10000);
	}
	log = server_stop(&p, NULL);
	conn_ids(log, ids, methods, 16, &n);
	is_int((long long)nseq, (long long)n, "every request went through the keep-alive proxy");
	if (n == nseq) {
		/* a write's line is the first of its connection: that connection was
		 * never used before, whatever order other connections' lines came in */
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(methods[i], "GET")) {
				if (ngets < 2)
					get_ids[ngets++] = ids[i];
				continue;
			}
			for (size_t j = 0; j < i; j++)
				if (ids[j] == ids[i])
					writes_fresh = 0;
		}
		ok(ngets == 2 && get_ids[0] == get_ids[1],
		   "a second GET reuses the first GET's connection");
		ok(writes_fresh,
		   "every PUT, DELETE and POST opened a connection never used before");
	} else {
		skip("no connection numbers");
		skip("no connection numbers");
	}
	free(log);
	free(server_stop(&s, NULL));
	http_response_free(&r);
	http_client_free(c);
}

static void test_failures(void)
{
	struct http_client *c = http_client_new();
	struct http_request rq;
	struct http_response r;
	struct tf_error e;
	struct server s, p;
	char url[128], *log;
	int port = closed_port();

	http_response_init(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	is_int(ERR_CONNECT, req(c, "PUT", url, "x", 1, NULL, 0, &r, &e),
	       "connection refused: ERR_CONNECT (nothing sent, safe to retry)");
	is_int(ERR_CONNECT, e.kind, "... in the error's kind");
	snprintf(url, sizeof(url), "cannot connect to http://127.0.0.1:%d/x: ", port);
	contains(e.msg, url, "... the message names the URL");

	stub_start(&s, "close", "* /drop close -\n");
	snprintf(url, sizeof(url), "%s/drop", s.url);
	is_int(ERR_TRANSPORT, req(c, "GET", url, NULL, 0, NULL, 0, &r, &e),
	       "connection closed without a reply (GET): ERR_TRANSPORT");
	is_int(ERR_TRANSPORT, req(c, "PUT", url, "x", 1, NULL, 0, &r, &e),
	       "connection closed without a reply (PUT): ERR_TRANSPORT (outcome unknown)");
	contains(e.msg, "PUT ", "... the message names the method");
	log = server_stop(&s, NULL);
	is_int(2, count(log, "=== end "), "each was sent exactly once: libcurl did not resend");
	free(log);

	/* a server that accepts the request and never answers */
	stub_start(&s, "hang-origin", "* / 200 -\n");
	proxy_start(&p, "hang-proxy", &s, "ANY /slow hang\n");
	memset(&rq, 0, sizeof(rq));
	snprintf(url, sizeof(url), "%s/slow", p.url);
	rq.method = "GET";
	rq.url = url;
	rq.timeout_ms = 300;
	err_clear(&e);
	is_int(ERR_TIMEOUT, http_do(c, &rq, &r, &e),
	       "no answer after connecting: ERR_TIMEOUT (outcome unknown)");
	contains(e.msg, "timed out after 300 ms", "... saying after how long");
	free(server_stop(&p, NULL));
	free(server_stop(&s, NULL));
	http_response_free(&r);
	http_client_free(c);
}

/* proxies come from the environment, as for curl; no_proxy requests never use one */
static void test_proxies(void)
{
	struct http_client *c = http_client_new();
	struct http_request rq;
	struct http_response r;
	struct tf_error e;
	struct server origin, proxy;
	char url[128], env[128], routes[512], *log;
	int port = closed_port();

	http_response_init(&r);
	stub_start(&origin, "px-origin", "GET /direct 200 -\n");
	snprintf(routes, sizeof(routes),
	         "GET http://127.0.0.1:%d/via 200 -\n"
	         "CONNECT s3.tflock.invalid:443 403 -\n"
	         "CONNECT open.tflock.invalid:443 200 -\n",
	         port);
	stub_start(&proxy, "px-proxy", routes);
	snprintf(env, sizeof(env), "%s", proxy.url);
	setenv("http_proxy", env, 1);
	setenv("https_proxy", env, 1);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/via", port);
	is_int(0, req(c, "GET", url, NULL, 0, NULL, 0, &r, &e),
	       "http_proxy: a URL nothing listens on is reached through the proxy");
	is_int(200, r.status, "... the proxy's answer");

	memset(&rq, 0, sizeof(rq));
	snprintf(url, sizeof(url), "%s/direct", origin.url);
	rq.method = "GET";
	rq.url = url;
	rq.no_proxy = 1;
	err_clear(&e);
	is_int(0, http_do(c, &rq, &r, &e), "no_proxy (instance metadata): answered");
	is_int(200, r.status, "... by the server itself");

	err_clear(&e);
	is_int(ERR_CONNECT, req(c, "PUT", "https://s3.tflock.invalid/b/k", "x", 1, NULL, 0, &r, &e),
	       "https_proxy refusing the tunnel (CONNECT 403): ERR_CONNECT, nothing was sent");
	contains(e.msg, "cannot connect to https://s3.tflock.invalid/b/k", "... naming the URL");
	err_clear(&e);
	is_int(ERR_CONNECT,
	       req(c, "PUT", "https://open.tflock.invalid/b/k", "x", 1, NULL, 0, &r, &e),
	       "a tunnel that closes before TLS: ERR_CONNECT");
	unsetenv("http_proxy");
	unsetenv("https_proxy");

	log = server_stop(&proxy, NULL);
	{
		char want[128];
		snprintf(want, sizeof(want), "=== 1 GET http://127.0.0.1:%d/via\n", port);
		contains(log, want, "the proxy got the request in absolute form");
	}
	contains(log, "=== 2 CONNECT s3.tflock.invalid:443\n",
	         "https: the proxy was asked for a tunnel to the right host and port");
	contains(log, "=== 3 CONNECT open.tflock.invalid:443\n", "... the second tunnel too");
	lacks(log, "/direct", "the no_proxy request never reached the proxy");
	is_int(3, count(log, "=== end "), "the proxy saw three requests");
	free(log);
	log = server_stop(&origin, NULL);
	contains(log, "=== 1 GET /direct\n", "the no_proxy request went straight to the server");
	free(log);
	http_response_free(&r);
	http_client_free(c);
}

static void test_trace(void)
{
	struct http_client *c = http_client_new();
	struct http_header h[3] = {
		{ "Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTRACE/20240101/us-east-1/s3/"
		                   "aws4_request, SignedHeaders=host, Signature=5ec7e75ecre7" },
		{ "X-Amz-Security-Token", "IQoJtracetoken" },
		{ "X-Amz-Date", "20240101T000000Z" },
	};
	struct http_response r;
	struct tf_error e;
	struct server s;
	char url[128], *out, *log;
	const char *errfile = path_in("trace.err");
	int saved;

	stub_start(&s, "trace", "GET /t 200 -\n");
	http_response_init(&r);
	snprintf(url, sizeof(url), "%s/t", s.url);
	saved = fd_to(2, errfile);
	log_level = 3;
	http_set_trace(1);
	is_int(0, req(c, "GET", url, NULL, 0, h, 3, &r, &e), "traced GET: answered");
	http_set_trace(0);
	log_level = 1;
	fd_restore(2, saved);

	out = slurp(errfile, NULL);
	contains(out, "> GET ", "the trace has the request line");
	contains(out, "< 200 (GET ", "... and the status");
	contains(out, "X-Amz-Date: 20240101T000000Z", "... and ordinary headers");
	contains(out, "Authorization: [redacted]", "Authorization is redacted");
	contains(out, "X-Amz-Security-Token: [redacted]", "the session token is redacted");
	lacks(out, "5ec7e75ecre7", "the signature never appears");
	lacks(out, "AKIDTRACE", "nor the access key of the Credential");
	lacks(out, "IQoJtracetoken", "nor the token");
	free(out);
	log = server_stop(&s, NULL);
	contains(log, "IQoJtracetoken", "while the server did get the real headers");
	free(log);
	http_response_free(&r);
	http_client_free(c);
}

/* the path goes out as given; a 2xx body over the cap is an error saying so */
static void test_paths_and_caps(void)
{
	struct http_client *c = http_client_new();
	struct http_response r;
	struct tf_error e;
	struct server s;
	char url[256], routes[1024], *log, *big, *exact;
	const size_t big_len = 10 * 1024 * 1024;

	big = malloc(big_len);
	if (!big)
		bail("out of memory");
	memset(big, 'x', big_len);
	wblob("big", big, big_len);
	wblob("exact", big, HTTP_MAX_BODY);
	free(big);
	exact = path_in("exact");
	snprintf(routes, sizeof(routes),
	         "GET /big 200 %s\n"
	         "PUT /big 200 %s\n"
	         "GET /exact 200 %s\n"
	         "GET /err 500 %s\n"
	         "GET /a/ 200 -\n"
	         "PUT /a/ 200 -\n",
	         path_in("big"), path_in("big"), exact, path_in("big"));
	stub_start(&s, "caps", routes);
	http_response_init(&r);

	snprintf(url, sizeof(url), "%s/a/../b/./c/..%%2F/d/.", s.url);
	is_int(0, req(c, "GET", url, NULL, 0, NULL, 0, &r, &e), "GET with dot segments: answered");
	snprintf(url, sizeof(url), "%s/a/./x/../../y", s.url);
	is_int(0, req(c, "PUT", url, "b", 1, NULL, 0, &r, &e), "PUT with dot segments: answered");

	snprintf(url, sizeof(url), "%s/exact", s.url);
	is_int(0, req(c, "GET", url, NULL, 0, NULL, 0, &r, &e), "a body of exactly the cap: fine");
	is_int(HTTP_MAX_BODY, (long long)r.body.len, "... all of it");
	is_int(0, r.body_over_cap, "... not over the cap");

	snprintf(url, sizeof(url), "%s/big", s.url);
	is_int(ERR_TRANSPORT, req(c, "GET", url, NULL, 0, NULL, 0, &r, &e),
	       "GET: a 10 MB body is an error");
	ok(strstr(e.msg, "more than 1048576 bytes") != NULL, "saying it is more than the cap: %s",
	   e.msg);
	ok(strstr(e.msg, "GET ") && strstr(e.msg, "/big"), "naming the request");
	is_int(200, r.status, "the status is still known");
	is_int(1, r.body_over_cap, "body_over_cap is set");
	is_int(ERR_TRANSPORT, req(c, "PUT", url, "b", 1, NULL, 0, &r, &e),
	       "PUT answered 200 with 10 MB: outcome unknown, not success");
	is_int(ERR_TRANSPORT, e.kind, "... and the error record says so");

	snprintf(url, sizeof(url), "%s/err", s.url);
	is_int(0, req(c, "GET", url, NULL, 0, NULL, 0, &r, &e),
	       "a 500 with a 10 MB body: answered (the status is what counts)");
	is_int(500, r.status, "... 500");
	is_int(HTTP_MAX_BODY, (long long)r.body.len, "... the first 1 MB of its body kept");
	is_int(1, r.body_over_cap, "... marked as cut");

	log = server_stop(&s, NULL);
	contains(log, "=== 1 GET /a/../b/./c/..%2F/d/.\n",
	         "GET: the path reached the server with its dot segments");
	contains(log, "=== 2 PUT /a/./x/../../y\n",
	         "PUT: the path reached the server with its dot segments");
	free(log);
	http_response_free(&r);
	http_client_free(c);
}

/* ------------------------------------------------------ CA bundle search */

/* mkdir -p of DIR under the root ca/ in the scratch directory */
static void ca_mkdirs(const char *dir)
{
	char *path = xasprintf("%s%s", path_in("ca"), dir);
	for (char *p = path + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			bail("mkdir %s: %s", path, strerror(errno));
		if (!(*p = c))
			break;
	}
	free(path);
}

/* an empty file FILE under the root ca/ */
static void ca_touch(const char *file)
{
	char *path = xasprintf("ca%s", file), *dir = xstrdup(file);
	*strrchr(dir, '/') = '\0';
	ca_mkdirs(dir);
	wfile(path, "");
	free(path);
	free(dir);
}

static void test_ca_search(void)
{
	size_t n = 0;
	char *root;

	while (http_ca_files[n])
		n++;
	is_int(5, (long long)n, "the CA bundle list has five places");
	is_string("/etc/ssl/certs/ca-certificates.crt", http_ca_files[0],
	          "... Debian's, Ubuntu's and Alpine's ca-certificates bundle first");
	is_string("/etc/ssl/cert.pem", http_ca_files[n - 1], "... Alpine's default last");

	ca_mkdirs("/etc/ssl/certs");
	root = xstrdup(path_in("ca"));
	is_int(-1, http_ca_search(root), "no bundle under the root: -1");
	ca_mkdirs("/etc/ssl/cert.pem");
	is_int(-1, http_ca_search(root), "a directory named like a bundle is not one");
	ca_touch("/etc/ssl/ca-bundle.pem");
	is_int(3, http_ca_search(root), "SUSE's bundle alone: found");
	ca_touch("/etc/pki/tls/certs/ca-bundle.crt");
	is_int(1, http_ca_search(root), "RHEL's bundle comes before SUSE's");
	ca_touch("/etc/ssl/certs/ca-certificates.crt");
	is_int(0, http_ca_search(root), "Debian's bundle comes first");
	ok(http_ca_search(NULL) == http_ca_search(""), "a NULL root is /");
	free(root);
}

int main(void)
{
	static const char *const proxy_vars[] = { "http_proxy",  "HTTP_PROXY", "https_proxy",
		                                  "HTTPS_PROXY", "all_proxy",  "ALL_PROXY",
		                                  "no_proxy",    "NO_PROXY" };

	plan_lazy();
	fixture_init("http");
	fixture_helper("stub-http");
	fixture_helper("faultproxy");
	for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
		unsetenv(proxy_vars[i]);

	test_response();
	test_bodies();
	test_connections();
	test_failures();
	test_proxies();
	test_trace();
	test_paths_and_caps();
	test_ca_search();

	fixture_done();
	return 0;
}
