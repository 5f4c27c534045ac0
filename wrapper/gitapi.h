/*
 * gitapi — ask the CI's API how two commits relate, when the clone cannot tell.
 *
 * A shallow CI clone often lacks the commit applied last. gitapi_relation()
 * asks the forge instead, only when a token is at hand:
 *   GitHub  GET $GITHUB_API_URL/repos/$GITHUB_REPOSITORY/compare/LAST...HEAD
 *           with GITHUB_TOKEN (or GH_TOKEN): "ahead" means HEAD is newer,
 *           "behind" older, "identical", "diverged".
 *   GitLab  GET $CI_API_V4_URL/projects/$CI_PROJECT_ID/repository/merge_base
 *           ?refs[]=LAST&refs[]=HEAD with GITLAB_TOKEN (CI_JOB_TOKEN cannot
 *           read the repository API): the merge base is HEAD when HEAD is
 *           older, LAST when HEAD is newer.
 * A token goes only to an https URL (or to loopback, for tests). The answer is
 * REL_UNKNOWN when there is no API or token, or on any failure; why is then in
 * `why` (sanitised, never the token). One request, a 10 s bound.
 */
#ifndef TFLOCK_GITAPI_H
#define TFLOCK_GITAPI_H

#include <stddef.h>

#include "gitinfo.h"

/* How commit head relates to commit last, as gitinfo_relation(head, last). */
enum git_rel gitapi_relation(const char *head, const char *last, char *why, size_t whylen);

#endif
