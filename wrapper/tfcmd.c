#include "tfcmd.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const struct {
	const char *sub;
	const char *op;
} ops[] = {
	{ "apply", "OperationTypeApply" },
	{ "destroy", "OperationTypeApply" },
	{ "plan", "OperationTypePlan" },
	{ "refresh", "OperationTypeRefresh" },
	{ "import", "OperationTypeInvalid" },
	{ "console", "OperationTypeInvalid" },
	{ "graph", "OperationTypeInvalid" },
	{ "init", "init" },
	{ "state mv", "state-mv" },
	{ "state rm", "state-rm" },
	{ "state push", "state-push" },
	{ "state replace-provider", "state-replace-provider" },
	{ "taint", "taint" },
	{ "untaint", "untaint" },
	{ "workspace new", "workspace-new" },
};

static int has_nested(const char *w)
{
	return !strcmp(w, "state") || !strcmp(w, "workspace") || !strcmp(w, "providers");
}

void tfcmd_parse(struct tfcmd *t, char *const argv[])
{
	const char *base;
	int i = 1;
	memset(t, 0, sizeof(*t));
	if (!argv || !argv[0]) {
		t->program = xstrdup("");
		t->operation = xstrdup("OperationTypeInvalid");
		return;
	}
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	t->program = xstrdup(base);
	t->is_terraform = !strcmp(base, "terraform") || !strcmp(base, "tofu");
	if (!t->is_terraform) {
		/* a script or another tool: name it; it may plan and apply */
		t->operation = xasprintf("OperationTypeApply (%s)", base);
		return;
	}
	for (; argv[i] && argv[i][0] == '-'; i++) {
		if (!strncmp(argv[i], "-chdir=", 7) && !t->chdir)
			t->chdir = xstrdup(argv[i] + 7);
	}
	if (argv[i]) {
		if (has_nested(argv[i]) && argv[i + 1] && argv[i + 1][0] != '-')
			t->sub = xasprintf("%s %s", argv[i], argv[i + 1]);
		else
			t->sub = xstrdup(argv[i]);
		for (int j = i + 1; argv[j]; j++) {
			if (!strncmp(argv[j], "-lock-timeout=", 14) && !t->lock_timeout)
				t->lock_timeout = xstrdup(argv[j] + 14);
			else if (!strncmp(argv[j], "--lock-timeout=", 15) && !t->lock_timeout)
				t->lock_timeout = xstrdup(argv[j] + 15);
		}
	}
	for (size_t k = 0; t->sub && k < sizeof(ops) / sizeof(ops[0]); k++)
		if (!strcmp(t->sub, ops[k].sub))
			t->operation = xstrdup(ops[k].op);
	if (!t->operation)
		t->operation = xstrdup("OperationTypeInvalid");
}

void tfcmd_free(struct tfcmd *t)
{
	if (!t)
		return;
	free(t->program);
	free(t->chdir);
	free(t->sub);
	free(t->operation);
	free(t->lock_timeout);
	memset(t, 0, sizeof(*t));
}
