/*
 * fixture — see fixture.h.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap/basic.h"

static char tmp[256];

void fixture_init(const char *name)
{
	char tmpl[256];
	snprintf(tmpl, sizeof(tmpl), "/tmp/tflock-%s-XXXXXX", name);
	if (!mkdtemp(tmpl))
		bail("mkdtemp failed: %s", strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s", tmpl);
	signal(SIGPIPE, SIG_IGN);
}

const char *fixture_dir(void)
{
	return tmp;
}

void fixture_done(void)
{
	char cmd[300];
	if (!tmp[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		diag("could not remove %s", tmp);
}

const char *fixture_helper(const char *name)
{
	static char paths[4][512];
	static int i;
	const char *top = getenv("top_builddir");
	char *p = paths[i++ % 4];
	snprintf(p, 512, "%s/tests/helpers/%s", top && *top ? top : ".", name);
	if (access(p, X_OK))
		bail("%s is not built (set top_builddir)", p);
	return p;
}

void fixture_static_keys(void)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDFIXTURETEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "fixture-test-secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

char *path_in(const char *name)
{
	static char bufs[8][512];
	static int i;
	char *p = bufs[i++ % 8];
	snprintf(p, 512, "%s/%s", tmp, name);
	return p;
}

char *wblob(const char *name, const void *data, size_t len)
{
	char *p = path_in(name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		bail("cannot write %s: %s", p, strerror(errno));
	return p;
}

char *wfile(const char *name, const char *content)
{
	return wblob(name, content, strlen(content));
}

char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;
	if (len)
		*len = 0;
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	if (!data)
		bail("out of memory");
	if (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n) {
		data[0] = '\0';
		n = 0;
	}
	fclose(f);
	if (len)
		*len = (size_t)(n > 0 ? n : 0);
	return data;
}

int fd_to(int fd, const char *path)
{
	int saved, f;
	fflush(stdout);
	fflush(stderr);
	saved = dup(fd);
	f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved < 0 || f < 0 || dup2(f, fd) < 0)
		bail("cannot redirect fd %d to %s", fd, path);
	close(f);
	return saved;
}

void fd_restore(int fd, int saved)
{
	fflush(stdout);
	fflush(stderr);
	dup2(saved, fd);
	close(saved);
}

int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

int contains(const char *hay, const char *needle, const char *desc)
{
	int r = ok(hay && strstr(hay, needle) != NULL, "%s", desc);
	if (!r)
		diag("wanted \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
	return r;
}

int lacks(const char *hay, const char *needle, const char *desc)
{
	int r = ok(hay && strstr(hay, needle) == NULL, "%s", desc);
	if (!r)
		diag("did not want \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
	return r;
}

/* wait (bounded: 5 s) for a started helper to write its port to pfile */
static void server_wait(struct server *s, const char *pfile, const char *what)
{
	if (s->pid < 0)
		bail("fork: %s", strerror(errno));
	for (int i = 0; i < 500; i++) {
		int status;
		char *txt;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid)
			bail("%s exited early", what);
		txt = slurp(pfile, NULL);
		s->port = atoi(txt);
		free(txt);
		if (s->port > 0)
			break;
		usleep(10000);
	}
	if (s->port <= 0)
		bail("%s did not write its port", what);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
}

static void server_files(struct server *s, const char *name, char *pfile, size_t n)
{
	memset(s, 0, sizeof(*s));
	snprintf(pfile, n, "%s/%s.port", tmp, name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", tmp, name);
	unlink(pfile);
	unlink(s->log);
}

void stub_start(struct server *s, const char *name, const char *routes)
{
	char pfile[512];
	const char *bin = fixture_helper("stub-http");
	server_files(s, name, pfile, sizeof(pfile));
	s->pid = fork();
	if (s->pid == 0) {
		execl(bin, bin, "--port-file", pfile, "--log", s->log, "--idle", "60", routes,
		      (char *)NULL);
		_exit(127);
	}
	server_wait(s, pfile, bin);
}

void proxy_start(struct server *s, const char *name, const struct server *upstream,
                 const char *rules)
{
	char pfile[512], rname[300], *rfile;
	const char *bin = fixture_helper("faultproxy");
	server_files(s, name, pfile, sizeof(pfile));
	snprintf(rname, sizeof(rname), "%s.rules", name);
	rfile = wfile(rname, rules);
	s->pid = fork();
	if (s->pid == 0) {
		execl(bin, bin, "--upstream", upstream->url, "--port-file", pfile, "--log", s->log,
		      "--rules", rfile, "--idle-exit", "60", (char *)NULL);
		_exit(127);
	}
	server_wait(s, pfile, bin);
}

char *server_stop(struct server *s, size_t *len)
{
	int status;
	kill(s->pid, SIGTERM);
	while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
		;
	return slurp(s->log, len);
}

/* ---- relay ---- */

#define RELAY_PAIRS 32
#define RELAY_ACCEPTS 512

struct relay_pair {
	int a, b; /* client side, target side; -1: free slot */
	unsigned gen;
};

struct relay_state {
	pthread_t th;
	pthread_mutex_t mu;
	int target; /* port; 0: refuse */
	unsigned gen;
	int stop;
	long long acc[RELAY_ACCEPTS];
	size_t nacc;
	struct relay_pair pairs[RELAY_PAIRS]; /* the thread's alone */
};

static long long relay_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void relay_close_pair(struct relay_pair *p)
{
	if (p->a >= 0)
		close(p->a);
	if (p->b >= 0)
		close(p->b);
	p->a = p->b = -1;
}

static int relay_connect(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* A new client connection: note its time, join it to the current target. */
static void relay_accept(struct relay *r, struct relay_state *st)
{
	int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC), port, up = -1;
	unsigned gen;
	if (fd < 0)
		return;
	pthread_mutex_lock(&st->mu);
	if (st->nacc < RELAY_ACCEPTS)
		st->acc[st->nacc++] = relay_now_ns();
	port = st->target;
	gen = st->gen;
	pthread_mutex_unlock(&st->mu);
	if (port > 0)
		up = relay_connect(port);
	for (int i = 0; up >= 0 && i < RELAY_PAIRS; i++) {
		if (st->pairs[i].a < 0) {
			st->pairs[i].a = fd;
			st->pairs[i].b = up;
			st->pairs[i].gen = gen;
			return;
		}
	}
	close(fd);
	if (up >= 0)
		close(up);
}

/* Bytes from one side to the other; 0 when the pair is done. */
static int relay_forward(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		off += w;
	}
	return 1;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct relay_state *st = r->impl;
	for (;;) {
		struct pollfd pfd[2 + 2 * RELAY_PAIRS];
		int who[2 + 2 * RELAY_PAIRS], n = 0, stop;
		unsigned gen;
		pfd[n].fd = r->wake[0];
		pfd[n].events = POLLIN;
		who[n++] = -1;
		pfd[n].fd = r->lfd;
		pfd[n].events = POLLIN;
		who[n++] = -2;
		for (int i = 0; i < RELAY_PAIRS; i++) {
			if (st->pairs[i].a < 0)
				continue;
			pfd[n].fd = st->pairs[i].a;
			pfd[n].events = POLLIN;
			who[n++] = 2 * i;
			pfd[n].fd = st->pairs[i].b;
			pfd[n].events = POLLIN;
			who[n++] = 2 * i + 1;
		}
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&st->mu);
		stop = st->stop;
		gen = st->gen;
		pthread_mutex_unlock(&st->mu);
		if (stop)
			break;
		if (pfd[0].revents) {
			char c[64];
			if (read(r->wake[0], c, sizeof(c)) < 0) {
				/* nothing to do: the state above says what changed */
			}
		}
		for (int i = 0; i < RELAY_PAIRS; i++)
			if (st->pairs[i].a >= 0 && st->pairs[i].gen != gen)
				relay_close_pair(&st->pairs[i]);
		for (int k = 2; k < n; k++) {
			struct relay_pair *p = &st->pairs[who[k] / 2];
			int from = who[k] % 2 ? p->b : p->a, to = who[k] % 2 ? p->a : p->b;
			if (!pfd[k].revents || p->a < 0 || pfd[k].fd != from)
				continue;
			if (!relay_forward(from, to))
				relay_close_pair(p);
		}
		if (pfd[1].revents)
			relay_accept(r, st);
	}
	return NULL;
}

void relay_start(struct relay *r)
{
	struct relay_state *st = calloc(1, sizeof(*st));
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	memset(r, 0, sizeof(*r));
	if (!st)
		bail("out of memory");
	for (int i = 0; i < RELAY_PAIRS; i++)
		st->pairs[i].a = st->pairs[i].b = -1;
	pthread_mutex_init(&st->mu, NULL);
	r->impl = st;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(r->lfd, 16) < 0 || getsockname(r->lfd, (struct sockaddr *)&sa, &len) < 0 ||
	    pipe2(r->wake, O_CLOEXEC) < 0)
		bail("relay: cannot listen: %s", strerror(errno));
	r->port = ntohs(sa.sin_port);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d", r->port);
	if (pthread_create(&st->th, NULL, relay_main, r))
		bail("relay: cannot start its thread");
}

static void relay_wake(struct relay *r)
{
	if (write(r->wake[1], "x", 1) < 0)
		bail("relay: cannot wake its thread: %s", strerror(errno));
}

void relay_to(struct relay *r, const struct server *s)
{
	struct relay_state *st = r->impl;
	pthread_mutex_lock(&st->mu);
	st->target = s ? s->port : 0;
	st->gen++;
	st->nacc = 0;
	pthread_mutex_unlock(&st->mu);
	relay_wake(r);
}

size_t relay_accepts(struct relay *r, long long *out, size_t max)
{
	struct relay_state *st = r->impl;
	size_t n;
	pthread_mutex_lock(&st->mu);
	n = st->nacc < max ? st->nacc : max;
	memcpy(out, st->acc, n * sizeof(*out));
	pthread_mutex_unlock(&st->mu);
	return n;
}

void relay_stop(struct relay *r)
{
	struct relay_state *st = r->impl;
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->stop = 1;
	pthread_mutex_unlock(&st->mu);
	relay_wake(r);
	pthread_join(st->th, NULL);
	for (int i = 0; i < RELAY_PAIRS; i++)
		relay_close_pair(&st->pairs[i]);
	close(r->lfd);
	close(r->wake[0]);
	close(r->wake[1]);
	pthread_mutex_destroy(&st->mu);
	free(st);
	r->impl = NULL;
}
