#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitinfo.h"
#include "tap/basic.h"

/* libgit2 before 1.6 leaks a pcre2 match-data block per regex match in the
 * config code behind git_remote_lookup() (fixed upstream by libgit2 PR #6382).
 * libpcre2 has no frame pointers, so LeakSanitizer's fast unwinder sees only
 * libpcre2 frames: suppress by that module (tflock itself never uses pcre2),
 * so everything else is still checked. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void)
{
	return "leak:libpcre2-8.so\n";
}

static char repo[4096];

/* Run a shell command inside the repository; bail if it fails. */
static void sh(const char *fmt, ...)
{
	char cmd[8192], full[12400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s; } >/dev/null 2>&1", repo, cmd);
	if (system(full) != 0)
		bail("command failed: %s", cmd);
}

/* The commit id a revision names. */
static void rev(const char *name, char out[41])
{
	char cmd[8192];
	FILE *p;
	snprintf(cmd, sizeof(cmd), "cd '%s' && git rev-parse --verify '%s^{commit}'", repo, name);
	p = popen(cmd, "r");
	if (!p || !fgets(out, 41, p))
		bail("git rev-parse %s failed", name);
	pclose(p);
	out[40] = '\0';
}

static void write_text(const char *name, const char *text)
{
	char path[4200];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", repo, name);
	f = fopen(path, "w");
	if (!f)
		bail("fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static int gitinfo_free_null(void *unused)
{
	gitinfo_free(NULL);
	return 0;
}

int main(void)
{
	char tmpl[] = "/tmp/tflock-gitinfo-XXXXXX";
	char *base, path[4200], c1[41], c2[41], c3[41], side[41], cmd[8400];
	struct gitinfo g;
	struct tf_error err;

	plan_lazy();
	base = mkdtemp(tmpl);
	if (!base)
		bail("mkdtemp: %s", strerror(errno));
	/* isolate from the user's git configuration */
	setenv("HOME", base, 1);
	setenv("XDG_CONFIG_HOME", base, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "T", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "T", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_INDEX_FILE");

	/* not a repository */
	snprintf(repo, sizeof(repo), "%s/plain", base);
	mkdir(repo, 0700);
	err_clear(&err);
	is_int(ERR_NOT_FOUND, gitinfo_read(repo, &g, &err), "plain directory: ERR_NOT_FOUND");
	ok(strstr(err.msg, "not in a git repository") != NULL, "message: %s", err.msg);
	ok(g.head == NULL, "nothing filled");
	rmdir(repo);

	snprintf(repo, sizeof(repo), "%s/repo", base);
	mkdir(repo, 0700);
	sh("git init -q -b main .");

	/* no commit yet */
	err_clear(&err);
	is_int(ERR_USAGE, gitinfo_read(repo, &g, &err), "empty repository: ERR_USAGE");
	ok(strstr(err.msg, "no commit") != NULL, "message: %s", err.msg);

	write_text("main.tf", "# one\n");
	write_text(".gitignore", "*.log\n");
	sh("git add main.tf .gitignore && git commit -q -m one");
	rev("HEAD", c1);
	sh("git remote add origin https://user:s3cret@example.com/o/r.git");

	/* clean, on a branch, from a subdirectory */
	mkdir((snprintf(path, sizeof(path), "%s/sub", repo), path), 0700);
	err_clear(&err);
	if (!is_int(0, gitinfo_read(path, &g, &err), "read clean repository from a subdirectory"))
		diag("error: %s", err.msg);
	is_string(c1, g.head, "head is the commit");
	is_string("main", g.branch, "branch main");
	ok(!g.dirty, "clean");
	is_string("https://example.com/o/r.git", g.remote, "remote without credentials");
	snprintf(path, sizeof(path), "%s/", repo);
	is_string(path, g.workdir, "workdir is the repository root");
	snprintf(path, sizeof(path), "%s/.git/hooks", repo);
	is_string(path, g.hooks_dir, "default hooks dir");
	gitinfo_free(&g);
	ok(g.head == NULL, "free clears");

	/* ignored files do not count */
	write_text("debug.log", "x\n");
	is_int(0, gitinfo_read(repo, &g, &err), "read with an ignored file");
	ok(!g.dirty, "ignored file is not dirty");
	gitinfo_free(&g);

	/* untracked */
	write_text("new.tf", "# new\n");
	is_int(0, gitinfo_read(repo, &g, &err), "read with an untracked file");
	ok(g.dirty, "untracked file is dirty");
	is_string("new.tf", g.dirty_paths, "names the untracked file");
	gitinfo_free(&g);
	snprintf(path, sizeof(path), "%s/new.tf", repo);
	unlink(path);

	/* files terraform writes itself are not the user's changes */
	sh("mkdir -p .terraform/providers sub/.terraform tfdata && "
	   "echo x >.terraform/terraform.tfstate && echo x >.terraform/providers/p && "
	   "echo x >sub/.terraform/terraform.tfstate && echo x >errored.tfstate && "
	   "echo x >.terraform.tfstate.lock.info && echo x >tfdata/terraform.tfstate");
	/* a saved plan: a zip whose first entry is "tfplan"; another zip counts */
	sh("printf 'PK\\003\\004\\024\\0\\0\\0\\010\\0%%016d\\006\\0\\0\\0tfplan' 0 >prod.plan && "
	   "printf 'PK\\003\\004\\024\\0\\0\\0\\010\\0%%016d\\006\\0\\0\\0readme' 0 >other.zip");
	setenv("TF_DATA_DIR", "../tfdata", 1);
	snprintf(path, sizeof(path), "%s/sub", repo);
	is_int(0, gitinfo_read(path, &g, &err), "read with terraform's own files");
	is_int(1, g.dirty, "only the zip that is not a plan counts");
	is_string("other.zip", g.dirty_paths, "named");
	is_int(7, g.tf_own, "seven of terraform's own files seen and not counted");
	gitinfo_free(&g);
	setenv("TF_DATA_DIR", "elsewhere", 1); /* TF_DATA_DIR is relative to dir: sub/elsewhere */
	is_int(0, gitinfo_read(path, &g, &err), "read with TF_DATA_DIR elsewhere");
	is_int(2, g.dirty, "then tfdata/ is the user's");
	is_string("other.zip, tfdata/terraform.tfstate", g.dirty_paths, "both named");
	gitinfo_free(&g);
	unsetenv("TF_DATA_DIR");
	sh("rm -rf .terraform sub/.terraform tfdata errored.tfstate .terraform.tfstate.lock.info "
	   "prod.plan other.zip");
	write_text(".terraform.lock.hcl", "# providers\n");
	is_int(0, gitinfo_read(repo, &g, &err), "read with an uncommitted dependency lock file");
	is_int(0, g.dirty, "terraform init's dependency lock file does not count");
	gitinfo_free(&g);
	sh("git add .terraform.lock.hcl && git commit -q -m lock");
	write_text(".terraform.lock.hcl", "# providers, more hashes\n");
	is_int(0, gitinfo_read(repo, &g, &err), "read with the dependency lock file updated");
	is_int(0, g.dirty, "nor does its update by init");
	gitinfo_free(&g);
	sh("git rm -q -f .terraform.lock.hcl && git commit -q -m unlock");
	/* the hook hooks/install.sh puts into an in-tree core.hooksPath */
	sh("git config core.hooksPath ci/hooks && mkdir -p ci/hooks && echo x >ci/hooks/pre-apply "
	   "&& "
	   "echo y >ci/hooks/other");
	is_int(0, gitinfo_read(repo, &g, &err), "read with a hook in an in-tree hooks path");
	is_string("ci/hooks/other", g.dirty_paths,
	          "the pre-apply hook does not count, another file does");
	gitinfo_free(&g);
	sh("git config --unset core.hooksPath && rm -rf ci");
	/* a committed file in a .terraform directory that changed is a change */
	sh("mkdir -p .terraform && echo a >.terraform/modules.json && git add -f .terraform && "
	   "git commit -q -m tfdir && echo b >.terraform/modules.json");
	is_int(0, gitinfo_read(repo, &g, &err), "read with a committed .terraform file changed");
	is_string(".terraform/modules.json", g.dirty_paths, "a tracked file changed counts");
	gitinfo_free(&g);
	sh("git rm -q -r --cached .terraform && git commit -q -m untrack && rm -rf .terraform");
	/* many paths: the first five, then "..." */
	sh("for i in 1 2 3 4 5 6 7; do echo $i >n$i.tf; done");
	is_int(0, gitinfo_read(repo, &g, &err), "read with seven untracked files");
	is_int(7, g.dirty, "seven counted");
	is_string("n1.tf, n2.tf, n3.tf, n4.tf, n5.tf, ...", g.dirty_paths, "five named, then ...");
	gitinfo_free(&g);
	sh("rm -f n?.tf");

	ok(gitinfo_tf_own(NULL, "crash.log", NULL), "crash.log is terraform's");
	ok(gitinfo_tf_own(NULL, "env/crash.20261205.log", NULL), "so is crash.<stamp>.log");
	ok(!gitinfo_tf_own(NULL, "crash.tf", NULL), "crash.tf is not");
	ok(!gitinfo_tf_own(NULL, "my.terraform/x", NULL),
	   "nor is a directory merely ending in .terraform");
	ok(gitinfo_tf_own(NULL, "data/x", "data/"), "anything in the data directory");
	ok(!gitinfo_tf_own(NULL, "database/x", "data"), "but not in a sibling sharing its prefix");

	/* modified */
	write_text("main.tf", "# changed\n");
	is_int(0, gitinfo_read(repo, &g, &err), "read with a modified file");
	ok(g.dirty, "modified file is dirty");
	is_string("main.tf", g.dirty_paths, "names the modified file");
	gitinfo_free(&g);

	/* staged */
	sh("git add main.tf");
	is_int(0, gitinfo_read(repo, &g, &err), "read with a staged change");
	ok(g.dirty, "staged change is dirty");
	gitinfo_free(&g);
	sh("git commit -q -m two");
	rev("HEAD", c2);
	sh("git config core.hooksPath .githooks");
	write_text("main.tf", "# three\n");
	sh("git commit -q -am three");
	rev("HEAD", c3);
	is_int(0, gitinfo_read(repo, &g, &err), "read after commits");
	ok(!g.dirty, "clean again");
	is_string(c3, g.head, "head moved");
	snprintf(path, sizeof(path), "%s/.githooks", repo);
	is_string(path, g.hooks_dir, "core.hooksPath relative to the workdir");
	gitinfo_free(&g);

	/* side branch from c1 */
	sh("git checkout -q -b side %s && echo side > side.tf && git add side.tf && "
	   "git commit -q -m side",
	   c1);
	rev("HEAD", side);
	sh("git checkout -q main");

	/* detached */
	sh("git checkout -q --detach %s", c2);
	is_int(0, gitinfo_read(repo, &g, &err), "read detached HEAD");
	is_string(c2, g.head, "detached head commit");
	ok(g.branch == NULL, "no branch when detached");
	ok(!g.dirty, "detached and clean");
	gitinfo_free(&g);
	sh("git checkout -q main");

	/* relations */
	is_int(REL_SAME, gitinfo_relation(repo, c2, c2), "same");
	is_int(REL_DESCENDANT, gitinfo_relation(repo, c3, c1), "c3 descends from c1");
	is_int(REL_ANCESTOR, gitinfo_relation(repo, c1, c3), "c1 is an ancestor of c3");
	is_int(REL_DIVERGED, gitinfo_relation(repo, side, c3), "side and c3 diverged");
	is_int(REL_DIVERGED, gitinfo_relation(repo, c2, side), "c2 and side diverged");
	is_int(REL_DESCENDANT, gitinfo_relation(repo, side, c1), "side descends from c1");
	is_int(REL_UNKNOWN, gitinfo_relation(repo, c1, "0123456789abcdef0123456789abcdef01234567"),
	       "unknown commit");
	is_int(REL_UNKNOWN, gitinfo_relation(repo, "not-a-sha", c1), "not a commit id");
	snprintf(path, sizeof(path), "%s", base);
	is_int(REL_UNKNOWN, gitinfo_relation(path, c1, c2), "outside a repository");
	ok_returns(gitinfo_free_null, NULL, "gitinfo_free(NULL) returns");

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	is_int(0, system(cmd), "temp dir removed");
	return 0;
}
