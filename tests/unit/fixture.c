/*
 * fixture — see fixture.h.
 */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
