#include "gitinfo.h"

#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static const char *git_msg(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown libgit2 error";
}

/* https://user:token@host/x → https://host/x */
static char *strip_userinfo(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *slash;
	if (!scheme)
		return xstrdup(url);
	slash = strchr(scheme + 3, '/');
	at = strchr(scheme + 3, '@');
	if (!at || (slash && at > slash))
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(scheme + 3 - url), url, at + 1);
}

/* the zip local file header of a saved plan: "PK\3\4", the name at offset 30
 * with its length at 26; terraform writes the "tfplan" entry first */
static int is_plan_file(const char *file)
{
	unsigned char h[36];
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return 0;
	n = read(fd, h, sizeof(h));
	close(fd);
	return n == (ssize_t)sizeof(h) && !memcmp(h, "PK\3\4", 4) && h[26] == 6 && h[27] == 0 &&
	       !memcmp(h + 30, "tfplan", 6);
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n && dir[n - 1] == '/')
		n--;
	return n && !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

int gitinfo_tf_own(const char *workdir, const char *path, const char *data_dir)
{
	const char *base = strrchr(path, '/'), *p;
	char *file;
	int own;
	base = base ? base + 1 : path;
	for (p = path; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (!strncmp(p, ".terraform/", 11) || !strcmp(p, ".terraform"))
			return 1;
	}
	if (data_dir && under(path, data_dir))
		return 1;
	if (!strcmp(base, "crash.log") || !strcmp(base, "errored.tfstate") ||
	    !strcmp(base, ".terraform.tfstate.lock.info"))
		return 1;
	if (!strncmp(base, "crash.", 6) && strlen(base) > 10 &&
	    !strcmp(base + strlen(base) - 4, ".log"))
		return 1;
	file = xasprintf("%s%s", workdir ? workdir : "", path);
	own = is_plan_file(file);
	free(file);
	return own;
}

/* TF_DATA_DIR as a path relative to the repository's workdir (NULL when unset,
 * absent or outside it); it is relative to terraform's working directory dir */
static char *data_dir_in(const char *workdir, const char *dir)
{
	const char *d = getenv("TF_DATA_DIR");
	char *joined, real[PATH_MAX], wreal[PATH_MAX], *rel = NULL;
	size_t n;
	if (!d || !*d || !workdir || !realpath(workdir, wreal))
		return NULL;
	joined = d[0] == '/' ? xstrdup(d) : xasprintf("%s/%s", dir, d);
	n = strlen(wreal);
	if (realpath(joined, real) && !strncmp(real, wreal, n) && real[n] == '/' && real[n + 1])
		rel = xstrdup(real + n + 1);
	free(joined);
	return rel;
}

static int is_dep_lock(const char *path)
{
	const char *base = strrchr(path, '/');
	return !strcmp(base ? base + 1 : path, ".terraform.lock.hcl");
}

/* path (relative to the workdir) is the pre-apply hook in an in-tree hooks dir */
static int is_hook(const struct gitinfo *g, const char *path)
{
	size_t n = g->workdir ? strlen(g->workdir) : 0, h;
	const char *rel;
	if (!n || !g->hooks_dir || strncmp(g->hooks_dir, g->workdir, n))
		return 0;
	rel = g->hooks_dir + n;
	h = strlen(rel);
	while (h && rel[h - 1] == '/')
		h--;
	return h && !strncmp(path, rel, h) && !strcmp(path + h, "/pre-apply");
}

static void add_dirty(struct gitinfo *g, const char *path)
{
	size_t len = strlen(g->dirty_paths), room = sizeof(g->dirty_paths) - len;
	g->dirty++;
	if (len >= 3 && !strcmp(g->dirty_paths + len - 3, "..."))
		return;
	if (strlen(path) + (len ? 2 : 0) + 4 < room && g->dirty <= 5)
		snprintf(g->dirty_paths + len, room, "%s%s", len ? ", " : "", path);
	else
		snprintf(g->dirty_paths + len, room, "%s...", len ? ", " : "");
}

int gitinfo_read(const char *dir, struct gitinfo *g, struct tf_error *err)
{
	git_buf root = { NULL, 0, 0 };
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_status_list *st = NULL;
	git_config *cfg = NULL;
	git_status_options so;
	const git_oid *oid;
	char hex[GIT_OID_HEXSZ + 1];
	char *data_dir = NULL;
	int ret = 0;

	memset(g, 0, sizeof(*g));
	git_libgit2_init(); /* paired with the shutdown below: nothing stays allocated */
	if (git_repository_discover(&root, dir, 0, NULL) != 0) {
		ret = err_set(err, ERR_NOT_FOUND, "'%s' is not in a git repository", dir);
		goto out;
	}
	if (git_repository_open(&repo, root.ptr) != 0) {
		ret = err_set(err, ERR_USAGE, "cannot open the git repository at %s: %s", root.ptr,
		              git_msg());
		goto out;
	}
	if (git_repository_workdir(repo))
		g->workdir = xstrdup(git_repository_workdir(repo));
	g->shallow = git_repository_is_shallow(repo) == 1;
	if (git_repository_head(&head, repo) != 0) {
		ret = err_set(err, ERR_USAGE, "git repository %s has no commit at HEAD: %s",
		              root.ptr, git_msg());
		goto out;
	}
	oid = git_reference_target(head);
	if (!oid) {
		ret = err_set(err, ERR_USAGE, "HEAD of %s does not point at a commit", root.ptr);
		goto out;
	}
	git_oid_tostr(hex, sizeof(hex), oid);
	g->head = xstrdup(hex);
	if (!git_repository_head_detached(repo) && git_reference_shorthand(head))
		g->branch = xstrdup(git_reference_shorthand(head));

	if (git_repository_config_snapshot(&cfg, repo) == 0) {
		git_buf hp = { NULL, 0, 0 }, url = { NULL, 0, 0 };
		/* read the config value directly: git_remote_lookup() matches url.*.insteadOf
		 * with regular expressions and libgit2 1.5 leaks their match data */
		if (git_config_get_string_buf(&url, cfg, "remote.origin.url") == 0 && url.ptr)
			g->remote = strip_userinfo(url.ptr);
		git_buf_dispose(&url);
		if (git_config_get_path(&hp, cfg, "core.hooksPath") == 0 && hp.ptr && *hp.ptr) {
			if (hp.ptr[0] == '/' || !g->workdir)
				g->hooks_dir = xstrdup(hp.ptr);
			else
				g->hooks_dir = xasprintf("%s%s", g->workdir, hp.ptr);
		}
		git_buf_dispose(&hp);
	}
	/* as git does: hooks live in the common directory, shared by linked worktrees */
	if (!g->hooks_dir)
		g->hooks_dir = xasprintf("%shooks", git_repository_commondir(repo));

	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
	           GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(&st, repo, &so) != 0) {
		ret = err_set(err, ERR_USAGE, "cannot read the status of %s: %s", root.ptr,
		              git_msg());
		goto out;
	}
	data_dir = data_dir_in(g->workdir, dir);
	for (size_t i = 0; i < git_status_list_entrycount(st); i++) {
		const git_status_entry *e = git_status_byindex(st, i);
		const char *path = NULL;
		if (!e || e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
			continue;
		if (e->index_to_workdir)
			path = e->index_to_workdir->new_file.path;
		else if (e->head_to_index)
			path = e->head_to_index->new_file.path;
		/* terraform's own files, but only while untracked (a committed one that
		 * changed is a change like any other); the dependency lock file that
		 * terraform init rewrites; the pre-apply hook hooks/install.sh put in
		 * an in-tree core.hooksPath */
		if (path && ((e->status == GIT_STATUS_WT_NEW &&
		              (gitinfo_tf_own(g->workdir, path, data_dir) || is_hook(g, path))) ||
		             (!(e->status & ~(GIT_STATUS_WT_NEW | GIT_STATUS_WT_MODIFIED)) &&
		              is_dep_lock(path)))) {
			g->tf_own++;
			continue;
		}
		add_dirty(g, path ? path : "?");
	}
out:
	free(data_dir);
	git_status_list_free(st);
	git_config_free(cfg);
	git_reference_free(head);
	git_repository_free(repo);
	git_buf_dispose(&root);
	git_libgit2_shutdown();
	if (ret)
		gitinfo_free(g);
	return ret;
}

void gitinfo_free(struct gitinfo *g)
{
	if (!g)
		return;
	free(g->workdir);
	free(g->head);
	free(g->branch);
	free(g->remote);
	free(g->hooks_dir);
	memset(g, 0, sizeof(*g));
}

enum git_rel gitinfo_relation(const char *dir, const char *a, const char *b)
{
	git_buf root = { NULL, 0, 0 };
	git_repository *repo = NULL;
	git_oid oa, ob;
	git_commit *ca = NULL, *cb = NULL;
	enum git_rel rel = REL_UNKNOWN;

	git_libgit2_init();
	if (git_repository_discover(&root, dir, 0, NULL) || git_repository_open(&repo, root.ptr))
		goto out;
	if (git_oid_fromstr(&oa, a) || git_oid_fromstr(&ob, b))
		goto out;
	if (git_commit_lookup(&ca, repo, &oa) || git_commit_lookup(&cb, repo, &ob))
		goto out; /* not in this clone's history (shallow clone?) */
	if (git_oid_equal(&oa, &ob))
		rel = REL_SAME;
	else if (git_graph_descendant_of(repo, &oa, &ob) == 1)
		rel = REL_DESCENDANT;
	else if (git_graph_descendant_of(repo, &ob, &oa) == 1)
		rel = REL_ANCESTOR;
	else if (git_repository_is_shallow(repo) != 1)
		rel = REL_DIVERGED;
out:
	git_commit_free(ca);
	git_commit_free(cb);
	git_repository_free(repo);
	git_buf_dispose(&root);
	git_libgit2_shutdown();
	return rel;
}

void gitinfo_commit_date(const char *dir, const char *sha, char out[32])
{
	git_buf root = { NULL, 0, 0 };
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_oid oid;
	out[0] = '\0';
	git_libgit2_init();
	if (!git_repository_discover(&root, dir, 0, NULL) &&
	    !git_repository_open(&repo, root.ptr) && !git_oid_fromstr(&oid, sha) &&
	    !git_commit_lookup(&c, repo, &oid)) {
		time_t t = (time_t)git_commit_time(c);
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
	}
	git_commit_free(c);
	git_repository_free(repo);
	git_buf_dispose(&root);
	git_libgit2_shutdown();
}
