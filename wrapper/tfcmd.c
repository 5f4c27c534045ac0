#include "tfcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/*
 * Every subcommand tflock knows something about. `lock`: it defines -lock (and
 * -lock-timeout) in every Terraform 1.10+ and OpenTofu 1.10+ release, read from
 * internal/command (arguments/extended.go extendedFlagSet with a State for
 * apply/destroy/plan/refresh/import; arguments/init.go; taint/untaint;
 * state_mv/rm/push/replace_provider; workspace_new/delete.go). `inject`: it
 * locks the current workspace's state, the one tflock holds. workspace
 * new/delete define -lock but lock the workspace named on the command line,
 * never the current one (delete refuses the current one), so they keep their
 * own locking. Not listed, so never injected: console (Terraform has no -lock
 * on it; OpenTofu added -lock/-lock-timeout only in 2026, PR 3800, so older
 * tofu would fail with "flag provided but not defined"), graph, output, show,
 * validate, test, query, providers, get, fmt, force-unlock, workspace select
 * (PROTOCOL A3), state list/pull/show/identities.
 */
static const struct {
	const char *sub;
	const char *op;       /* the Operation Terraform writes; NULL: OperationTypeInvalid */
	unsigned char lock;   /* defines -lock */
	unsigned char inject; /* and locks the held (current) state */
} subs[] = {
	{ "apply", "OperationTypeApply", 1, 1 },
	{ "destroy", "OperationTypeApply", 1, 1 },
	{ "plan", "OperationTypePlan", 1, 1 },
	{ "refresh", "OperationTypeRefresh", 1, 1 },
	{ "import", "OperationTypeInvalid", 1, 1 },
	{ "init", "init", 1, 1 },
	{ "state mv", "state-mv", 1, 1 },
	{ "state rm", "state-rm", 1, 1 },
	{ "state push", "state-push", 1, 1 },
	{ "state replace-provider", "state-replace-provider", 1, 1 },
	{ "taint", "taint", 1, 1 },
	{ "untaint", "untaint", 1, 1 },
	{ "workspace new", "workspace-new", 1, 0 },
	/* workspace_delete.go locks the doomed workspace as "state-replace-provider" */
	{ "workspace delete", "state-replace-provider", 1, 0 },
	{ "env new", "workspace-new", 1, 0 }, /* the legacy alias of workspace new */
	{ "env delete", "state-replace-provider", 1, 0 },
	/* console takes the state lock itself and has no -lock in Terraform (checked
	 * against 1.11.4: of the commands without -lock, only console locks) */
	{ "console", "OperationTypeInvalid", 0, 0 },
	{ "graph", "OperationTypeInvalid", 0, 0 },
};

/* Nested commands: the second word makes a command only when it is one of these. */
static const struct {
	const char *parent;
	const char *children[9];
} nested[] = {
	{ "state",
	  { "identities", "list", "mv", "pull", "push", "replace-provider", "rm", "show" } },
	{ "workspace", { "delete", "list", "new", "select", "show" } },
	{ "env", { "delete", "list", "new", "select" } },
	{ "providers", { "lock", "mirror", "schema" } },
	{ "metadata", { "functions" } },
};

static char *subcommand(char *const argv[], int i)
{
	const char *first = argv[i], *second = argv[i + 1];

	for (size_t k = 0; second && k < sizeof(nested) / sizeof(nested[0]); k++) {
		if (strcmp(first, nested[k].parent))
			continue;
		for (size_t c = 0; nested[k].children[c]; c++)
			if (!strcmp(second, nested[k].children[c]))
				return xasprintf("%s %s", first, second);
	}
	return xstrdup(first);
}

/* Go's strconv.ParseBool: 1 true, 0 false, -1 invalid. */
static int parse_bool(const char *v)
{
	static const char *t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *f[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < 6; i++) {
		if (!strcmp(v, t[i]))
			return 1;
		if (!strcmp(v, f[i]))
			return 0;
	}
	return -1;
}

/* A -lock flag in Go's flag syntax: TFCMD_LOCK_TRUE/FALSE, or TFCMD_LOCK_UNSET
 * when arg is not one (or has a value Go would reject). */
static int lock_flag_of(const char *arg)
{
	const char *p;
	int v;

	if (arg[0] != '-')
		return TFCMD_LOCK_UNSET;
	p = arg[1] == '-' ? arg + 2 : arg + 1;
	if (strncmp(p, "lock", 4) || (p[4] != '\0' && p[4] != '='))
		return TFCMD_LOCK_UNSET;
	if (p[4] == '\0')
		return TFCMD_LOCK_TRUE;
	v = parse_bool(p + 5);
	return v < 0 ? TFCMD_LOCK_UNSET : v;
}

char *tfcmd_cli_args_var(const char *sub)
{
	char *v = xasprintf("TF_CLI_ARGS_%s", sub);

	for (char *p = v + 12; *p; p++)
		if (*p == ' ' || *p == '-')
			*p = '_';
	return v;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

/* Is a an option word "-x"/"--name" among the names (each "x" or "-name")? With
 * a value: "-x V", "-xV", "--name=V", "--name V". Returns how many argv words
 * the option takes (1 or 2), or 0 when a is not one of them. */
static int option_words(char *const argv[], int i, const char *with_value, const char *flags)
{
	const char *a = argv[i];
	char name[32];
	const char *p;
	if (a[0] != '-' || !a[1])
		return 0;
	if (a[1] == '-') { /* long */
		size_t n = strcspn(a + 2, "=");
		if (n + 2 >= sizeof(name))
			return 0;
		snprintf(name, sizeof(name), " -%.*s ", (int)n, a + 2);
		if (strstr(flags, name))
			return 1;
		if (strstr(with_value, name))
			return a[2 + n] == '=' ? 1 : argv[i + 1] ? 2 : 0;
		return 0;
	}
	snprintf(name, sizeof(name), " %c ", a[1]);
	if (strstr(with_value, name))
		return a[2] ? 1 : argv[i + 1] ? 2 : 0;
	for (p = a + 1; *p; p++) { /* bundled flags: -fw */
		snprintf(name, sizeof(name), " %c ", *p);
		if (!strstr(flags, name))
			return 0;
	}
	return 1;
}

/*
 * Step over one command that runs another (with its options): returns the
 * index of the command it runs, or -1 when argv[i] is not such a command or
 * its form runs nothing (ionice -p, a missing operand). Options as in coreutils
 * and util-linux.
 */
static int skip_prefix(struct tfcmd *t, char *const argv[], int i)
{
	const char *name = base_name(argv[i]);
	int j = i + 1, k;
	static const struct {
		const char *name, *with_value, *flags;
		int operand; /* words after the options before the command (timeout's DURATION) */
	} pre[] = {
		{ "env", " u C -unset -chdir ", " i 0 v -ignore-environment -null -debug ", 0 },
		{ "timeout", " k s -kill-after -signal ",
		  " v -foreground -preserve-status -verbose ", 1 },
		{ "nice", " n -adjustment ", " ", 0 },
		{ "ionice", " c n -class -classdata ", " t -ignore ", 0 },
		{ "stdbuf", " i o e -input -output -error ", " ", 0 },
		{ "time", " o f -output -format ", " p v a q -portability -verbose -append -quiet ",
		  0 },
		{ "setsid", " ", " c f w -ctty -fork -wait ", 0 },
		{ "nohup", " ", " ", 0 },
	};
	for (k = 0; k < (int)(sizeof(pre) / sizeof(pre[0])); k++)
		if (!strcmp(name, pre[k].name))
			break;
	if (k == (int)(sizeof(pre) / sizeof(pre[0])))
		return -1;
	if (!strcmp(name, "setsid"))
		t->setsid_nowait = 1;
	while (argv[j] && argv[j][0] == '-' && argv[j][1]) {
		int w;
		if (!strcmp(argv[j], "--")) {
			j++;
			break;
		}
		/* nice -10: an adjustment written as a bare number */
		if (!strcmp(name, "nice") &&
		    ((argv[j][1] >= '0' && argv[j][1] <= '9') ||
		     (argv[j][1] == '-' && argv[j][2] >= '0' && argv[j][2] <= '9'))) {
			j++;
			continue;
		}
		w = option_words(argv, j, pre[k].with_value, pre[k].flags);
		if (!w)
			return -1; /* an option we do not know: do not guess */
		if (!strcmp(name, "env") &&
		    (!strcmp(argv[j], "-i") || !strcmp(argv[j], "--ignore-environment")))
			t->env_cleared = 1;
		if (!strcmp(name, "setsid") && (strchr(argv[j], 'w') && argv[j][1] != '-'))
			t->setsid_nowait = 0;
		if (!strcmp(argv[j], "--wait"))
			t->setsid_nowait = 0;
		j += w;
	}
	if (!strcmp(name, "env")) {
		if (argv[j] && !strcmp(argv[j], "-")) { /* "env -": as -i */
			t->env_cleared = 1;
			j++;
		}
		for (; argv[j] && strchr(argv[j], '=') && argv[j][0] != '='; j++)
			if (!strncmp(argv[j], "TF_CLI_ARGS", 11) && t->nenv_kv < 8) {
				t->env_kv[t->nenv_kv++] = xstrdup(argv[j]);
				if (!t->env_sets)
					t->env_sets = xstrndup(argv[j], strcspn(argv[j], "="));
			}
	}
	j += pre[k].operand;
	for (int o = j - pre[k].operand; o < j; o++)
		if (!argv[o])
			return -1;
	return argv[j] ? j : -1;
}

void tfcmd_parse(struct tfcmd *t, char *const argv_in[])
{
	const char *base;
	char *const *argv = argv_in;
	int i = 1;

	memset(t, 0, sizeof(*t));
	t->lock_flag = t->env_lock_flag = t->sub_lock_flag = TFCMD_LOCK_UNSET;
	if (!argv || !argv[0]) {
		t->program = xstrdup("");
		t->operation = xstrdup("OperationTypeInvalid");
		return;
	}
	/* look through env, timeout, nice ... to the command they run */
	for (int at = 0, next; (next = skip_prefix(t, argv_in, at)) > 0; at = next) {
		if (!t->prefix)
			t->prefix = xstrdup(base_name(argv_in[at]));
		t->argi = next;
	}
	argv = argv_in + t->argi;
	base = base_name(argv[0]);
	t->program = xstrdup(base);
	t->is_tofu = !strcmp(base, "tofu");
	t->is_terraform = !strcmp(base, "terraform") || t->is_tofu;
	if (!t->is_terraform) {
		/* a script or another tool: name it; it may plan and apply */
		t->operation = xasprintf("OperationTypeApply (%s)", base);
		return;
	}
	/* global options before the subcommand */
	for (; argv[i] && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *dir = NULL;
		int sep = 0;

		if (!strncmp(a, "-chdir=", 7))
			dir = a + 7;
		else if (t->is_tofu && !strncmp(a, "--chdir=", 8))
			dir = a + 8;
		else if (t->is_tofu && (!strcmp(a, "-chdir") || !strcmp(a, "--chdir")) &&
		         argv[i + 1])
			dir = argv[i + 1], sep = 1;
		if (dir && *dir && (!t->is_tofu || !t->chdir)) {
			free(t->chdir); /* Terraform: the last one; OpenTofu: the first one */
			t->chdir = xstrdup(dir);
		}
		i += sep;
	}
	if (argv[i]) {
		t->sub = subcommand(argv, i);
		i += strchr(t->sub, ' ') ? 2 : 1;
		/* Go's flag package keeps the last value of a flag; "--" ends the flags */
		for (; argv[i] && strcmp(argv[i], "--"); i++) {
			int lf = lock_flag_of(argv[i]);
			if (lf != TFCMD_LOCK_UNSET)
				t->lock_flag = lf;
			if (!strncmp(argv[i], "-lock-timeout=", 14)) {
				free(t->lock_timeout);
				t->lock_timeout = xstrdup(argv[i] + 14);
			} else if (!strncmp(argv[i], "--lock-timeout=", 15)) {
				free(t->lock_timeout);
				t->lock_timeout = xstrdup(argv[i] + 15);
			} else if ((!strcmp(argv[i], "-lock-timeout") ||
			            !strcmp(argv[i], "--lock-timeout")) &&
			           argv[i + 1]) {
				/* Go's flag package also takes "-flag value" */
				free(t->lock_timeout);
				t->lock_timeout = xstrdup(argv[++i]);
			}
		}
		t->cli_args_var = tfcmd_cli_args_var(t->sub);
	}
	for (size_t k = 0; t->sub && k < sizeof(subs) / sizeof(subs[0]); k++) {
		if (strcmp(t->sub, subs[k].sub))
			continue;
		t->operation = xstrdup(subs[k].op ? subs[k].op : "OperationTypeInvalid");
		t->defines_lock = subs[k].lock;
		t->inject_lock = subs[k].lock && subs[k].inject;
	}
	if (!t->operation)
		t->operation = xstrdup("OperationTypeInvalid");
	t->locks_without_flag = t->sub && !strcmp(t->sub, "console");
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
	free(t->cli_args_var);
	free(t->prefix);
	free(t->env_sets);
	for (int i = 0; i < t->nenv_kv; i++)
		free(t->env_kv[i]);
	memset(t, 0, sizeof(*t));
	t->lock_flag = t->env_lock_flag = t->sub_lock_flag = TFCMD_LOCK_UNSET;
}

/*
 * Split a value as Terraform does (mattn/go-shellwords, no $VAR, no backticks):
 * blanks separate words, '...' is literal, "..." and a bare backslash escape,
 * and an unquoted ; & | < > ends the parse (the rest is silently dropped).
 * Calls fn for each word; returns 0 when the whole value was read, 1 when a
 * terminator cut it short, -1 when it is invalid (open quote, final backslash:
 * Terraform refuses the value).
 */
static int shell_words(const char *s, void (*fn)(const char *word, void *arg), void *arg)
{
	struct buf w = BUF_INIT;
	int esc = 0, sq = 0, dq = 0, got = 0, ret = 0;

	for (; *s; s++) {
		char c = *s;
		if (esc) {
			buf_addc(&w, c);
			esc = 0;
			got = 1;
			continue;
		}
		if (c == '\\' && !sq) {
			esc = 1;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (sq || dq) {
				buf_addc(&w, c);
			} else if (got) {
				fn(w.data, arg);
				buf_reset(&w);
				got = 0;
			}
			continue;
		}
		if (c == '"' && !sq) {
			dq = !dq;
			got = 1;
			continue;
		}
		if (c == '\'' && !dq) {
			sq = !sq;
			got = 1;
			continue;
		}
		if (strchr(";&|<>", c) && !sq && !dq) {
			ret = 1;
			break;
		}
		buf_addc(&w, c);
		got = 1;
	}
	if (esc || sq || dq)
		ret = -1;
	else if (got)
		fn(w.data, arg);
	buf_free(&w);
	return ret;
}

static void ignore_word(const char *word, void *arg)
{
	(void)word;
	(void)arg;
}

int tfcmd_lock_injection(const struct tfcmd *t, char **var_name, char **value, const char *existing)
{
	int blank = 1;

	*var_name = NULL;
	*value = NULL;
	if (!t->is_terraform || !t->sub || !t->cli_args_var || !t->inject_lock ||
	    t->lock_flag != TFCMD_LOCK_UNSET || t->env_lock_flag != TFCMD_LOCK_UNSET)
		return 0;
	for (const char *p = existing; p && *p; p++)
		if (!strchr(" \t\r\n", *p))
			blank = 0;
	*var_name = xstrdup(t->cli_args_var);
	if (blank)
		*value = xstrdup("-lock=false");
	else if (shell_words(existing, ignore_word, NULL) == 0)
		*value = xasprintf("%s -lock=false", existing);
	else
		/* a value whose parse stops early (an unquoted ';' ...) or fails would
		 * swallow an appended flag: put it first, where it is always read */
		*value = xasprintf("-lock=false %s", existing);
	return 1;
}

/* The last -lock and -lock-timeout among a value's words. */
struct flag_scan {
	int lock;
	char *timeout;
	int want_value;
};

static void scan_word(const char *word, void *arg)
{
	struct flag_scan *f = arg;
	int lf;
	if (f->want_value) {
		free(f->timeout);
		f->timeout = xstrdup(word);
		f->want_value = 0;
		return;
	}
	lf = lock_flag_of(word);
	if (lf != TFCMD_LOCK_UNSET)
		f->lock = lf;
	if (!strncmp(word, "-lock-timeout=", 14) || !strncmp(word, "--lock-timeout=", 15)) {
		free(f->timeout);
		f->timeout = xstrdup(strchr(word, '=') + 1);
	} else if (!strcmp(word, "-lock-timeout") || !strcmp(word, "--lock-timeout")) {
		f->want_value = 1;
	}
}

/* A variable's value as the terraform child will see it: an env prefix's
 * assignment, nothing after env -i, else the environment. */
static const char *child_value(const struct tfcmd *t, const char *name,
                               const char *(*get)(const char *name))
{
	size_t n = strlen(name);
	const char *v = NULL;
	for (int i = 0; i < t->nenv_kv; i++)
		if (!strncmp(t->env_kv[i], name, n) && t->env_kv[i][n] == '=')
			v = t->env_kv[i] + n + 1;
	if (v || t->env_cleared)
		return v;
	return get(name);
}

int tfcmd_apply_env(struct tfcmd *t, const char *(*get)(const char *name))
{
	struct flag_scan spec = { TFCMD_LOCK_UNSET, NULL, 0 }, gen = { TFCMD_LOCK_UNSET, NULL, 0 };
	const char *vs, *vg;
	int ret = 0;

	if (!t->is_terraform || !t->sub || !t->cli_args_var)
		return 0;
	vs = child_value(t, t->cli_args_var, get);
	vg = child_value(t, "TF_CLI_ARGS", get);
	if ((vs && shell_words(vs, scan_word, &spec) < 0) ||
	    (vg && shell_words(vg, scan_word, &gen) < 0)) {
		ret = -1;
		goto out;
	}
	t->sub_lock_flag = spec.lock;
	t->env_lock_flag = gen.lock;
	/* terraform's order: TF_CLI_ARGS_<sub>, then TF_CLI_ARGS, then the command line */
	if (!t->lock_timeout && (gen.timeout || spec.timeout))
		t->lock_timeout = xstrdup(gen.timeout ? gen.timeout : spec.timeout);
out:
	free(spec.timeout);
	free(gen.timeout);
	return ret;
}

int tfcmd_effective_lock(const struct tfcmd *t)
{
	if (t->lock_flag != TFCMD_LOCK_UNSET)
		return t->lock_flag;
	if (t->env_lock_flag != TFCMD_LOCK_UNSET)
		return t->env_lock_flag;
	return t->sub_lock_flag;
}
