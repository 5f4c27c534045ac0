// citool.cjs — YAML queries and a small stand-in for GitHub's composite-action
// runner, for tflock's ci-templates tests. Needs the "yaml" npm package:
// NODE_PATH names the node_modules it is in.
//   citool.cjs eval FILE 'doc => expr'    print the value (strings raw, else JSON)
//   citool.cjs eval-all FILE 'docs => expr'  the same over every document of FILE
//   citool.cjs component FILE INPUTS.json  a GitLab CI/CD component with its
//                                         inputs interpolated (defaults filled in)
//   citool.cjs gh-run OPTIONS             run a composite action's steps
'use strict';
const fs = require('fs');
const path = require('path');
const cp = require('child_process');
const YAML = require('yaml');

function load(file) { return YAML.parse(fs.readFileSync(file, 'utf8')); }
function show(v) {
	if (v === undefined || v === null) return '';
	return typeof v === 'string' ? v : JSON.stringify(v);
}

/* ---- GitHub expressions: the subset action.yml files use ---- */
function tokenize(s) {
	const t = [];
	let i = 0;
	while (i < s.length) {
		const c = s[i];
		if (/\s/.test(c)) { i++; continue; }
		if (c === "'") {
			let v = '';
			i++;
			for (;;) {
				if (i >= s.length) throw new Error('unterminated string in ' + s);
				if (s[i] === "'" && s[i + 1] === "'") { v += "'"; i += 2; continue; }
				if (s[i] === "'") { i++; break; }
				v += s[i++];
			}
			t.push({ k: 'str', v });
			continue;
		}
		const two = s.substr(i, 2);
		if (['||', '&&', '==', '!=', '<=', '>='].includes(two)) { t.push({ k: 'op', v: two }); i += 2; continue; }
		if ('!()<>,.[]'.includes(c)) { t.push({ k: 'op', v: c }); i++; continue; }
		const m = /^[0-9]+(\.[0-9]+)?/.exec(s.slice(i));
		if (m) { t.push({ k: 'num', v: Number(m[0]) }); i += m[0].length; continue; }
		const id = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(s.slice(i));
		if (id) { t.push({ k: 'id', v: id[0] }); i += id[0].length; continue; }
		throw new Error('cannot parse expression: ' + s);
	}
	return t;
}
function truthy(v) { return !(v === '' || v === 0 || v === null || v === undefined || v === false); }
function looseEq(a, b) {
	if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
	if (a === undefined) a = null;
	if (b === undefined) b = null;
	if (typeof a !== typeof b) {
		const n = (x) => (x === null ? 0 : typeof x === 'boolean' ? Number(x) : x === '' ? 0 : Number(x));
		return n(a) === n(b);
	}
	return a === b;
}
function evaluate(src, ctx) {
	const t = tokenize(src);
	let p = 0;
	const peek = () => t[p];
	const isOp = (v) => t[p] && t[p].k === 'op' && t[p].v === v;
	const expect = (v) => { if (!isOp(v)) throw new Error(`expected ${v} in ${src}`); p++; };
	function primary() {
		const x = t[p++];
		if (!x) throw new Error('unexpected end of ' + src);
		if (x.k === 'str' || x.k === 'num') return x.v;
		if (x.k === 'op' && x.v === '(') { const v = or(); expect(')'); return v; }
		if (x.k === 'op' && x.v === '!') return !truthy(unary());
		if (x.k !== 'id') throw new Error('unexpected ' + x.v + ' in ' + src);
		if (x.v === 'true') return true;
		if (x.v === 'false') return false;
		if (x.v === 'null') return null;
		if (isOp('(')) {
			p++;
			const args = [];
			while (!isOp(')')) { args.push(or()); if (isOp(',')) p++; }
			p++;
			return call(x.v, args, ctx);
		}
		let v = ctx[x.v];
		for (;;) {
			if (isOp('.')) { p++; const n = t[p++].v; v = v == null ? null : v[n]; continue; }
			if (isOp('[')) { p++; const n = or(); expect(']'); v = v == null ? null : v[n]; continue; }
			break;
		}
		return v === undefined ? null : v;
	}
	function unary() { return primary(); }
	function cmp() {
		let a = unary();
		while (peek() && peek().k === 'op' && ['==', '!='].includes(peek().v)) {
			const op = t[p++].v;
			const b = unary();
			a = op === '==' ? looseEq(a, b) : !looseEq(a, b);
		}
		return a;
	}
	function and() { let a = cmp(); while (isOp('&&')) { p++; const b = cmp(); a = truthy(a) ? b : a; } return a; }
	function or() { let a = and(); while (isOp('||')) { p++; const b = and(); a = truthy(a) ? a : b; } return a; }
	const v = or();
	if (p !== t.length) throw new Error('trailing tokens in ' + src);
	return v;
}
function call(name, args, ctx) {
	switch (name.toLowerCase()) {
	case 'always': return true;
	case 'success': return ctx.__status === 'success';
	case 'failure': return ctx.__status === 'failure';
	case 'cancelled': return false;
	case 'format': return String(args[0]).replace(/\{(\d+)\}/g, (_, n) => show(args[Number(n) + 1]));
	case 'contains': return String(args[0]).toLowerCase().includes(String(args[1]).toLowerCase());
	case 'startswith': return String(args[0]).toLowerCase().startsWith(String(args[1]).toLowerCase());
	default: throw new Error('unsupported function ' + name);
	}
}
// "${{ a }}-${{ b }}" -> string; a value without ${{ is returned as is
function interpolate(v, ctx) {
	if (typeof v !== 'string') return v;
	return v.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, e) => show(evaluate(e, ctx)));
}
function condition(v, ctx) {
	if (v === undefined || v === null) return ctx.__status === 'success';
	if (typeof v === 'boolean') return v;
	let s = String(v).trim();
	const m = /^\$\{\{([\s\S]*)\}\}$/.exec(s);
	if (m) s = m[1];
	// GitHub adds success() unless the condition calls a status function
	if (!/\b(always|success|failure|cancelled)\s*\(/.test(s)) s = `success() && (${s})`;
	return truthy(evaluate(s, ctx));
}

// name=value and name<<DELIM ... DELIM lines of GITHUB_OUTPUT / GITHUB_ENV
function parseFileCommands(file) {
	const out = {};
	if (!fs.existsSync(file)) return out;
	const lines = fs.readFileSync(file, 'utf8').split('\n');
	for (let i = 0; i < lines.length; i++) {
		const l = lines[i];
		if (l === '') continue;
		const h = /^([^=<]+)<<(.+)$/.exec(l);
		if (h) {
			const val = [];
			for (i++; i < lines.length && lines[i] !== h[2]; i++) val.push(lines[i]);
			if (i >= lines.length) throw new Error(`unterminated ${h[1]}<<${h[2]} in ${file}`);
			out[h[1]] = val.join('\n');
			continue;
		}
		const e = l.indexOf('=');
		if (e < 0) throw new Error(`bad line in ${file}: ${l}`);
		out[l.slice(0, e)] = l.slice(e + 1);
	}
	return out;
}

function ghRun(argv) {
	const o = { inputs: {}, fake: {}, seed: {}, steps: null };
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i], v = argv[i + 1];
		if (k === '--action') o.action = v;
		else if (k === '--inputs') o.inputs = JSON.parse(fs.readFileSync(v, 'utf8'));
		else if (k === '--fake-uses') o.fake = JSON.parse(fs.readFileSync(v, 'utf8'));
		else if (k === '--seed') o.seed = JSON.parse(fs.readFileSync(v, 'utf8'));
		else if (k === '--steps') o.steps = v === '' ? [] : v.split(',');
		else if (k === '--dir') o.dir = v;
		else throw new Error('unknown option ' + k);
	}
	const dir = path.resolve(o.dir);
	fs.mkdirSync(dir, { recursive: true });
	const action = load(o.action);
	if (!action.runs || action.runs.using !== 'composite') throw new Error('not a composite action');
	const actionPath = path.dirname(path.resolve(o.action));
	const log = (s) => fs.appendFileSync(path.join(dir, 'log'), s + '\n');
	const ctx = {
		github: { action_path: actionPath, action_repository: process.env.GHRUN_ACTION_REPOSITORY || '',
			token: process.env.GHRUN_GITHUB_TOKEN || '',
			workspace: process.cwd(), server_url: process.env.GITHUB_SERVER_URL || 'https://github.com' },
		runner: { os: 'Linux', arch: 'X64', temp: process.env.RUNNER_TEMP || '/tmp',
			tool_cache: process.env.RUNNER_TOOL_CACHE || '' },
		env: process.env,
		inputs: {},
		steps: JSON.parse(JSON.stringify(o.seed)),
		__status: 'success',
	};
	for (const [name, def] of Object.entries(action.inputs || {})) {
		if (name in o.inputs) ctx.inputs[name] = String(o.inputs[name]);
		else if (def.required) throw new Error(`required input ${name} not given`);
		else ctx.inputs[name] = def.default === undefined ? '' : String(interpolate(String(def.default), ctx));
	}
	for (const name of Object.keys(o.inputs))
		if (!(name in (action.inputs || {}))) throw new Error(`input ${name} is not declared by the action`);
	const envFile = path.join(dir, 'env'), pathFile = path.join(dir, 'path');
	fs.writeFileSync(envFile, '');
	fs.writeFileSync(pathFile, '');
	let firstFailure = 0;
	const all = action.runs.steps || [];
	all.forEach((step, n) => {
		const id = step.id || `__${n}`;
		if (o.steps && !o.steps.includes(id)) return;
		ctx.env = { ...process.env, ...parseFileCommands(envFile) };
		if (!condition(step.if, ctx)) {
			log(`skip ${id}`);
			ctx.steps[id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' };
			return;
		}
		let code = 0;
		const outputs = {};
		if (step.uses) {
			const w = {};
			for (const [k, v] of Object.entries(step.with || {})) w[k] = interpolate(String(v), ctx);
			log(`uses ${id} ${step.uses} ${JSON.stringify(w)}`);
			const f = o.fake[step.uses];
			if (!f) throw new Error(`no stand-in for uses: ${step.uses}`);
			Object.assign(outputs, f.outputs || {});
			code = f.exit || 0;
		} else {
			if (!step.shell) throw new Error(`step ${id}: composite run steps need a shell`);
			if (step.shell !== 'bash') throw new Error(`step ${id}: only shell bash is supported here`);
			const stepEnv = {};
			for (const [k, v] of Object.entries(step.env || {})) stepEnv[k] = String(interpolate(String(v), ctx));
			const outFile = path.join(dir, `${id}.output`), sumFile = path.join(dir, `${id}.summary`);
			const script = path.join(dir, `${id}.sh`);
			fs.writeFileSync(outFile, '');
			fs.writeFileSync(sumFile, '');
			fs.writeFileSync(script, step.run);
			const extraPath = fs.readFileSync(pathFile, 'utf8').split('\n').filter(Boolean).reverse();
			const env = { ...ctx.env, ...stepEnv, GITHUB_ACTION_PATH: actionPath, GITHUB_OUTPUT: outFile,
				GITHUB_STEP_SUMMARY: sumFile, GITHUB_ENV: envFile, GITHUB_PATH: pathFile,
				PATH: [...extraPath, process.env.PATH].join(':') };
			const wd = path.resolve(process.cwd(), interpolate(step['working-directory'] || '.', ctx));
			// like the runner: bash --noprofile --norc -eo pipefail {0}
			const r = spawnSyncRecorded(['bash', '--noprofile', '--norc', '-eo', 'pipefail', script],
				{ cwd: wd, env }, path.join(dir, 'pids'), id);
			code = r;
			Object.assign(outputs, parseFileCommands(outFile));
			log(`run ${id} exit=${code}`);
		}
		const outcome = code === 0 ? 'success' : 'failure';
		const conclusion = code !== 0 && step['continue-on-error'] ? 'success' : outcome;
		ctx.steps[id] = { outputs, outcome, conclusion };
		if (conclusion === 'failure') {
			ctx.__status = 'failure';
			if (!firstFailure) firstFailure = code;
		}
	});
	const result = {};
	for (const [name, def] of Object.entries(action.outputs || {})) result[name] = show(interpolate(String(def.value), ctx));
	fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(result, null, 1) + '\n');
	fs.writeFileSync(path.join(dir, 'steps.json'), JSON.stringify(ctx.steps, null, 1) + '\n');
	return firstFailure;
}

// A component's second document with $[[ inputs.NAME ]] replaced, as GitLab
// does: given inputs, else defaults; an input without either is an error, and
// so is an input the spec does not declare.
function component(file, given) {
	const text = fs.readFileSync(file, 'utf8');
	const docs = YAML.parseAllDocuments(text);
	if (docs.length !== 2) throw new Error(`${file}: a component is two YAML documents (spec, then jobs)`);
	const spec = docs[0].toJS().spec.inputs;
	for (const k of Object.keys(given)) if (!(k in spec)) throw new Error(`unknown input ${k}`);
	const body = text.slice(text.indexOf('\n---\n') + 5);
	return body.replace(/\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]/g, (_, k) => {
		if (!(k in spec)) throw new Error(`the jobs use undeclared input ${k}`);
		if (k in given) return String(given[k]);
		if (spec[k].default === undefined) throw new Error(`input ${k} is required`);
		return String(spec[k].default);
	});
}

// run a step's shell, recording its pid before waiting; 128+N when killed by N
function spawnSyncRecorded(cmd, opts, pidFile, id) {
	// spawnSync cannot tell the pid before the child ends: use a tiny shell that
	// records $$ and then execs the real command (same pid, same process)
	const rec = `printf '%s %s\\n' "$1" "$$" >>"$2"; shift 2; exec "$@"`;
	const r = cp.spawnSync('sh', ['-c', rec, 'sh', id, pidFile, ...cmd], { ...opts, stdio: 'inherit' });
	if (r.error) throw r.error;
	if (r.signal) return 128 + require('os').constants.signals[r.signal];
	return r.status;
}

const [cmd, ...rest] = process.argv.slice(2);
try {
	if (cmd === 'eval') {
		const doc = load(rest[0]);
		const f = eval(rest[1]);
		process.stdout.write(show(f(doc)) + '\n');
	} else if (cmd === 'eval-all') {
		const docs = YAML.parseAllDocuments(fs.readFileSync(rest[0], 'utf8')).map((d) => d.toJS());
		process.stdout.write(show(eval(rest[1])(docs)) + '\n');
	} else if (cmd === 'component') {
		process.stdout.write(component(rest[0], JSON.parse(fs.readFileSync(rest[1], 'utf8'))));
	} else if (cmd === 'gh-run') {
		process.exitCode = ghRun(rest);
	} else {
		console.error('usage: citool.cjs eval FILE EXPR | gh-run OPTIONS');
		process.exitCode = 64;
	}
} catch (e) {
	console.error('citool: ' + e.message);
	process.exitCode = 70;
}
