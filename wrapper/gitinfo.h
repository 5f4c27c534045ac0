/*
 * gitinfo — what is being applied, read with libgit2 (never by running git).
 *
 * gitinfo_read() discovers the repository containing dir and fills HEAD's
 * commit, the branch (or detached), the origin remote URL with any user
 * information removed, and whether the working tree is dirty (modified,
 * staged, deleted or untracked-but-not-ignored files). Files terraform itself
 * writes are not the user's changes and are not counted (gitinfo_tf_own()).
 * dir is terraform's working directory: TF_DATA_DIR is relative to it.
 * Returns ERR_NOT_FOUND
 * when dir is not in a repository. gitinfo_relation() tells how two commits
 * relate in that repository's history. struct gitinfo owns its strings;
 * gitinfo_free() is NULL-safe.
 */
#ifndef TFLOCK_GITINFO_H
#define TFLOCK_GITINFO_H

#include "error.h"

struct gitinfo {
	char *workdir;
	char *head;            /* 40-hex commit id */
	char *branch;          /* NULL when detached */
	char *remote;          /* origin URL without credentials, or NULL */
	char *hooks_dir;       /* core.hooksPath or <gitdir>/hooks */
	int shallow;           /* a shallow clone: history is cut off */
	int dirty;             /* how many paths make it dirty */
	int tf_own;            /* terraform's own files seen and not counted */
	char dirty_paths[512]; /* the first of them, ", "-separated ("..." if cut) */
};

enum git_rel { REL_SAME, REL_DESCENDANT, REL_ANCESTOR, REL_DIVERGED, REL_UNKNOWN };

int gitinfo_read(const char *dir, struct gitinfo *g, struct tf_error *err);
void gitinfo_free(struct gitinfo *g);
/* Whether path (relative to the repository root workdir) is a file terraform
 * writes itself: anything in a directory named .terraform or in data_dir (the
 * TF_DATA_DIR, relative to workdir; NULL for none), a crash log (crash.log,
 * crash.*.log), errored.tfstate, the local backend's .terraform.tfstate.lock.info,
 * or a saved plan (a zip archive whose first entry is "tfplan", as `terraform
 * plan -out` writes). */
int gitinfo_tf_own(const char *workdir, const char *path, const char *data_dir);
/* How commit a relates to commit b: REL_DESCENDANT when a is newer than b,
 * REL_ANCESTOR when a is older, REL_DIVERGED when neither (both lines of
 * history known), REL_UNKNOWN when one is not in the repository or, in a
 * shallow clone, when no path joins them (the history between them may be
 * what is missing). */
enum git_rel gitinfo_relation(const char *dir, const char *a, const char *b);
/* The committer date of commit sha as "YYYY-MM-DD HH:MM UTC" in out; "" when
 * the commit is not in the repository. */
void gitinfo_commit_date(const char *dir, const char *sha, char out[32]);

#endif
