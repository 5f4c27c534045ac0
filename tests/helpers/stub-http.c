/*
 * stub-http — a minimal HTTP/1.1 stand-in server for tests (STS, IMDS, ECS,
 * SSO). Loopback only, single-threaded, one poll loop, Connection: close.
 *
 * Usage:
 *   stub-http --port-file FILE --log FILE [--routes FILE] [--idle SECONDS] [ROUTE...]
 *
 * Binds 127.0.0.1:0 and writes the port number (and a newline) to the port
 * file, atomically (written to FILE.tmp, then renamed), once it is listening.
 * Exits 0 on SIGTERM, SIGINT or SIGHUP, after SECONDS without any request or
 * open connection (--idle, default 30), or when its parent dies (Linux), so
 * it never lingers after a test.
 *
 * Routes come from the routes file and from ROUTE arguments (an argument is
 * read exactly like the contents of a routes file, so it may hold several
 * lines). One route per line:
 *
 *   METHOD PATH-PREFIX STATUS BODYFILE
 *     Header-Name: value          (indented lines: response headers)
 *
 *   METHOD     GET, PUT, POST, ...; "*" matches any method
 *   PATH-PREFIX matched against the request target (path and query); the
 *              longest matching prefix wins. A trailing '$' asks for an
 *              exact match of the path without the query.
 *   STATUS     the HTTP status to answer, or "close" to close the connection
 *              without answering (the client sees a transport failure)
 *   BODYFILE   file whose bytes are the response body, "-" for none
 *   Blank lines and lines starting with '#' are ignored.
 *
 * Several routes with the same METHOD and PATH-PREFIX answer in turn, the last
 * one repeating: "PUT /t 500 -" then "PUT /t 200 tok" answers 500 once, then
 * 200. A request no route matches gets 404 with the body "no route".
 * Content-Length and Connection: close are always added.
 *
 * Log: each request is appended to the log file before it is answered:
 *
 *   === N METHOD TARGET
 *   Header-Name: value          (as received, in order)
 *   <blank line>
 *   body bytes (as received), then a newline
 *   === end N STATUS
 *
 * where N counts requests from 1 and STATUS is the status answered ("close"
 * for a dropped connection, 404 for no route).
 */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_CONNS 32
#define MAX_REQUEST (1024 * 1024)
#define CONN_TIMEOUT_MS 10000

struct route {
	char method[16];
	char *prefix;
	int exact;
	int status; /* 0: close without answering */
	char *body;
	size_t body_len;
	char *headers; /* "Name: value\r\n"... */
	int group;     /* routes with the same method and prefix share a group */
	int used;      /* answered already (for turn-taking) */
};

struct conn {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_pos;
	int writing;
	long long deadline;
};

static struct route *routes;
static size_t nroutes;
static int ngroups;
static struct conn conns[MAX_CONNS];
static volatile sig_atomic_t stop;
static FILE *logfp;
static unsigned long nrequests;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("stub-http: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xrealloc(NULL, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0, cap = 0;
	if (!f)
		die("cannot open \"%s\": %s", path, strerror(errno));
	for (;;) {
		size_t got;
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			data = xrealloc(data, cap);
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		die("cannot read \"%s\"", path);
	fclose(f);
	*len = n;
	return data ? data : xrealloc(NULL, 1);
}

static void add_route_line(const char *line, size_t len, const char *where)
{
	char method[16], prefix[1024], status[16], body[1024];
	char *tmp = xstrndup(line, len);
	struct route *r;
	if (sscanf(tmp, "%15s %1023s %15s %1023s", method, prefix, status, body) != 4)
		die("%s: bad route \"%s\": want METHOD PATH-PREFIX STATUS BODYFILE", where, tmp);
	free(tmp);
	routes = xrealloc(routes, (nroutes + 1) * sizeof(*routes));
	r = &routes[nroutes++];
	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", method);
	r->exact = prefix[0] && prefix[strlen(prefix) - 1] == '$';
	if (r->exact)
		prefix[strlen(prefix) - 1] = '\0';
	r->prefix = strdup(prefix);
	if (!strcmp(status, "close")) {
		r->status = 0;
	} else {
		char *end;
		long st = strtol(status, &end, 10);
		if (*end || st < 100 || st > 599)
			die("%s: bad status \"%s\"", where, status);
		r->status = (int)st;
	}
	if (strcmp(body, "-"))
		r->body = read_file(body, &r->body_len);
	r->headers = strdup("");
	r->group = -1;
	for (size_t i = 0; i + 1 < nroutes; i++)
		if (!strcmp(routes[i].method, r->method) && !strcmp(routes[i].prefix, r->prefix) &&
		    routes[i].exact == r->exact)
			r->group = routes[i].group;
	if (r->group < 0)
		r->group = ngroups++;
}

static void add_header_line(const char *line, size_t len, const char *where)
{
	struct route *r;
	size_t old;
	if (!nroutes)
		die("%s: header line before any route", where);
	if (!memchr(line, ':', len))
		die("%s: bad header line \"%.*s\"", where, (int)len, line);
	r = &routes[nroutes - 1];
	old = strlen(r->headers);
	r->headers = xrealloc(r->headers, old + len + 3);
	memcpy(r->headers + old, line, len);
	memcpy(r->headers + old + len, "\r\n", 3);
}

static void add_routes(const char *text, const char *where)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		const char *e = nl ? nl : p + strlen(p), *b = p;
		int indented = (*b == ' ' || *b == '\t');
		p = nl ? nl + 1 : e;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (b == e || *b == '#')
			continue;
		if (indented)
			add_header_line(b, (size_t)(e - b), where);
		else
			add_route_line(b, (size_t)(e - b), where);
	}
}

static struct route *find_route(const char *method, const char *target)
{
	struct route *best = NULL;
	size_t best_len = 0, plen = strcspn(target, "?");
	int group;
	for (size_t i = 0; i < nroutes; i++) {
		struct route *r = &routes[i];
		size_t len = strlen(r->prefix);
		if (strcmp(r->method, "*") && strcmp(r->method, method))
			continue;
		if (r->exact ? (plen != len || strncmp(target, r->prefix, len))
		             : strncmp(target, r->prefix, len))
			continue;
		if (!best || len > best_len || (r->exact && !best->exact && len == best_len)) {
			best = r;
			best_len = len;
		}
	}
	if (!best)
		return NULL;
	/* turn-taking within the group: the first not yet used, else the last */
	group = best->group;
	best = NULL;
	for (size_t i = 0; i < nroutes; i++) {
		if (routes[i].group != group)
			continue;
		best = &routes[i];
		if (!routes[i].used)
			break;
	}
	if (!best)
		return NULL;
	best->used = 1;
	return best;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* 0: need more, 1: complete (sets *hdr_end and *body_len), -1: bad request */
static int request_complete(struct conn *c, size_t *hdr_end, size_t *body_len)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	size_t cl = 0;
	if (!end)
		return c->in_len > 65536 ? -1 : 0;
	*hdr_end = (size_t)(end - c->in) + 4;
	for (char *p = c->in; p < end;) {
		char *nl = memmem(p, (size_t)(end - p), "\r\n", 2);
		char *le = nl ? nl : end;
		if (le - p > 15 && !strncasecmp(p, "content-length:", 15)) {
			char tmp[32];
			size_t n = (size_t)(le - p - 15);
			if (n >= sizeof(tmp))
				return -1;
			memcpy(tmp, p + 15, n);
			tmp[n] = '\0';
			cl = strtoul(tmp, NULL, 10);
		}
		if (le - p > 18 && !strncasecmp(p, "transfer-encoding:", 18))
			return -1; /* chunked uploads are not supported here */
		p = nl ? nl + 2 : end;
	}
	if (cl > MAX_REQUEST)
		return -1;
	*body_len = cl;
	return c->in_len >= *hdr_end + cl ? 1 : 0;
}

static void respond(struct conn *c, int status, const char *headers, const char *body,
                    size_t body_len, int head)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (!m)
		die("open_memstream: %s", strerror(errno));
	fprintf(m, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
	        reason(status), body_len, headers ? headers : "");
	if (!head && body_len)
		fwrite(body, 1, body_len, m);
	fclose(m);
	c->out = out;
	c->out_len = len;
	c->out_pos = 0;
	c->writing = 1;
}

static void handle_request(struct conn *c, size_t hdr_end, size_t body_len)
{
	char method[16] = "", *target = NULL;
	char *line_end = memmem(c->in, hdr_end, "\r\n", 2);
	char *first = xstrndup(c->in, (size_t)(line_end - c->in));
	char *sp1 = strchr(first, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	struct route *r;
	int status;

	nrequests++;
	if (sp1 && sp2 && sp1 - first < (long)sizeof(method)) {
		memcpy(method, first, (size_t)(sp1 - first));
		method[sp1 - first] = '\0';
		target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	} else {
		target = strdup("");
	}
	r = find_route(method, target);
	status = r ? r->status : 404;

	fprintf(logfp, "=== %lu %s %s\n", nrequests, method, target);
	for (const char *h = line_end + 2; h < c->in + hdr_end - 2;) {
		const char *e = memmem(h, (size_t)(c->in + hdr_end - 2 - h), "\r\n", 2);
		fwrite(h, 1, (size_t)(e - h), logfp);
		fputc('\n', logfp);
		h = e + 2;
	}
	fputc('\n', logfp);
	fwrite(c->in + hdr_end, 1, body_len, logfp);
	fputc('\n', logfp);
	if (status)
		fprintf(logfp, "=== end %lu %d\n", nrequests, status);
	else
		fprintf(logfp, "=== end %lu close\n", nrequests);
	fflush(logfp);

	if (!r)
		respond(c, 404, "Content-Type: text/plain\r\n", "no route", 8, 0);
	else if (r->status == 0)
		conn_close(c);
	else
		respond(c, r->status, r->headers, r->body, r->body_len, !strcmp(method, "HEAD"));
	free(first);
	free(target);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void write_port_file(const char *path, int port)
{
	char tmp[4096];
	FILE *f;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die("cannot write \"%s\": %s", tmp, strerror(errno));
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		die("cannot write \"%s\": %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *log_file = NULL;
	long idle_s = 30;
	int lfd, one = 1;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct sigaction act;
	sigset_t block, empty;
	long long last_activity;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port-file") && i + 1 < argc) {
			port_file = argv[++i];
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			log_file = argv[++i];
		} else if (!strcmp(argv[i], "--idle") && i + 1 < argc) {
			char *end;
			idle_s = strtol(argv[++i], &end, 10);
			if (*end || idle_s < 1 || idle_s > 3600)
				die("--idle wants 1..3600 seconds");
		} else if (!strcmp(argv[i], "--routes") && i + 1 < argc) {
			size_t len;
			char *text = read_file(argv[++i], &len);
			text = xrealloc(text, len + 1);
			text[len] = '\0';
			add_routes(text, argv[i]);
			free(text);
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			die("unknown option \"%s\"; usage: stub-http --port-file F --log F "
			    "[--routes F] [--idle S] [ROUTE...]",
			    argv[i]);
		} else {
			add_routes(argv[i], "argument");
		}
	}
	if (!port_file || !log_file)
		die("usage: stub-http --port-file F --log F [--routes F] [--idle S] [ROUTE...]");

#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0; /* the parent is already gone */
#endif
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	sigemptyset(&act.sa_mask);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGHUP, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* signals are delivered only inside ppoll(): no race with the stop flag */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);

	logfp = fopen(log_file, "a");
	if (!logfp)
		die("cannot open log \"%s\": %s", log_file, strerror(errno));

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0)
		die("bind/listen: %s", strerror(errno));
	if (getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0)
		die("getsockname: %s", strerror(errno));
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	write_port_file(port_file, ntohs(sa.sin_port));

	last_activity = now_ms();
	while (!stop) {
		struct pollfd pfd[MAX_CONNS + 1];
		int map[MAX_CONNS + 1], n = 0, open_conns = 0, rc;
		long long now = now_ms(), wake = last_activity + idle_s * 1000;
		struct timespec ts;

		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			if (conns[i].fd < 0)
				continue;
			if (now >= conns[i].deadline) {
				conn_close(&conns[i]);
				continue;
			}
			open_conns++;
			if (conns[i].deadline < wake)
				wake = conns[i].deadline;
			pfd[n].fd = conns[i].fd;
			pfd[n].events = conns[i].writing ? POLLOUT : POLLIN;
			map[n++] = i;
		}
		if (!open_conns && now >= last_activity + idle_s * 1000)
			break; /* idle limit */
		if (wake < now)
			wake = now;
		if (wake - now > 1000)
			wake = now + 1000; /* wake each second to notice an orphaned stub */
		ts.tv_sec = (wake - now) / 1000;
		ts.tv_nsec = ((wake - now) % 1000) * 1000000;
		rc = ppoll(pfd, (nfds_t)n, &ts, &empty);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
#ifdef __linux__
		if (getppid() == 1)
			break;
#endif
		for (int k = 0; k < n; k++) {
			struct conn *c;
			if (!pfd[k].revents)
				continue;
			last_activity = now_ms();
			if (map[k] < 0) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				int slot = -1;
				if (fd < 0)
					continue;
				for (int i = 0; i < MAX_CONNS; i++)
					if (conns[i].fd < 0) {
						slot = i;
						break;
					}
				if (slot < 0) {
					close(fd);
					continue;
				}
				conns[slot].fd = fd;
				conns[slot].deadline = now_ms() + CONN_TIMEOUT_MS;
				continue;
			}
			c = &conns[map[k]];
			if (c->writing) {
				ssize_t w =
				        write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);
				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (w < 0) {
					conn_close(c);
					continue;
				}
				c->out_pos += (size_t)w;
				if (c->out_pos == c->out_len) {
					shutdown(c->fd, SHUT_WR);
					conn_close(c);
				}
			} else {
				size_t hdr_end, body_len;
				ssize_t r;
				int done;
				if (c->in_cap - c->in_len < 4096) {
					c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
					c->in = xrealloc(c->in, c->in_cap);
				}
				r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r <= 0) {
					conn_close(c);
					continue;
				}
				c->in_len += (size_t)r;
				done = request_complete(c, &hdr_end, &body_len);
				if (done < 0) {
					respond(c, 400, "", "bad request", 11, 0);
				} else if (done > 0) {
					handle_request(c, hdr_end, body_len);
				}
			}
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			conn_close(&conns[i]);
	close(lfd);
	fclose(logfp);
	for (size_t i = 0; i < nroutes; i++) {
		free(routes[i].prefix);
		free(routes[i].body);
		free(routes[i].headers);
	}
	free(routes);
	return 0;
}
