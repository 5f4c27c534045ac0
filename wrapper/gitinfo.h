/*
 * gitinfo — what is being applied, read with libgit2 (never by running git).
 *
 * gitinfo_read() discovers the repository containing dir and fills HEAD's
 * commit, the branch (or detached), the origin remote URL with any user
 * information removed, and whether the working tree is dirty (modified,
 * staged, deleted or untracked-but-not-ignored files). Returns ERR_NOT_FOUND
 * when dir is not in a repository. gitinfo_relation() tells how two commits
 * relate in that repository's history. struct gitinfo owns its strings;
 * gitinfo_free() is NULL-safe.
 */
#ifndef TFLOCK_GITINFO_H
#define TFLOCK_GITINFO_H

#include "error.h"

struct gitinfo {
	char *workdir;
	char *head;      /* 40-hex commit id */
	char *branch;    /* NULL when detached */
	char *remote;    /* origin URL without credentials, or NULL */
	char *hooks_dir; /* core.hooksPath or <gitdir>/hooks */
	int dirty;
	char dirty_example[256]; /* one path that makes it dirty */
};

enum git_rel { REL_SAME, REL_DESCENDANT, REL_ANCESTOR, REL_DIVERGED, REL_UNKNOWN };

int gitinfo_read(const char *dir, struct gitinfo *g, struct tf_error *err);
void gitinfo_free(struct gitinfo *g);
/* How commit a relates to commit b: REL_DESCENDANT when a is newer than b,
 * REL_ANCESTOR when a is older, REL_UNKNOWN when one is not in the repository. */
enum git_rel gitinfo_relation(const char *dir, const char *a, const char *b);

#endif
