/*
 * invocation — what one invocation of tflock has found and decided, from
 * main()'s parsing to the subcommand's end: the configuration, the lock's
 * target (the backend found, its PUT headers), and for a run the wrapped
 * command (parsed once), the outer tflock's lock it may re-enter, the git
 * repository as the pre-apply checks read it, the CI identity and the report
 * context.
 *
 * main() owns it: it initialises it, fills it in this order (config, tf,
 * target, ci; the run fills re, gi and xr) and frees every part when the
 * subcommand returns; each part's own free function is NULL-safe and may run
 * twice, so a subcommand frees a part early when its end is observable (the
 * run directory of re goes before a re-raised signal).
 */
#ifndef TFLOCK_INVOCATION_H
#define TFLOCK_INVOCATION_H

#include "ci.h"
#include "config.h"
#include "gitinfo.h"
#include "outcome.h"
#include "reentry.h"
#include "target.h"
#include "tfcmd.h"

struct invocation {
	struct config c;       /* final after config_finish(): read-only from then on */
	struct target t;       /* the lock's store and key, the backend they came from */
	struct tfcmd tf;       /* run: the wrapped command, parsed once (zero otherwise) */
	struct reentry re;     /* run: the outer tflock's lock, when re-entered (B7) */
	struct gitinfo gi;     /* run: the repository the pre-apply checks read */
	struct ci_identity ci; /* who runs us (ci_detect()) */
	struct outcome xr;     /* run: what its exits report */
	int hold;              /* the run is `tflock hold`: it parks (B14.4) */
};

#endif
