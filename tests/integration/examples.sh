#!/bin/bash
# examples.sh — the examples/ directory, checked and run as far as this machine
# allows, on loopback only:
#   - every .tf file parses (a small HCL reader, below, which rejects what
#     terraform rejects at the structural level; `terraform fmt -check` in
#     addition when terraform is installed) and says what it should (lock file
#     on, the migration's two steps, the S3-compatible settings, the bucket's
#     protections);
#   - bootstrap/aws-cli.sh runs against a stand-in `aws` that records its calls
#     (never the real AWS), and the JSON it sends parses;
#   - the DynamoDB table bootstrap declares LockID (S) as its only key and
#     PAY_PER_REQUEST, and the table it declares, created on the DynamoDB test
#     server, is the one the examples below lock in (tflock's self-test checks
#     its key schema);
#   - the IAM policies parse and are least-privilege; the DynamoDB one grants
#     exactly GetItem, PutItem, DeleteItem (this state's items) and
#     DescribeTable, as iam/README.md's table of subcommands says;
#   - each backend example, pointed at the local S3 server and the DynamoDB test
#     server (bucket, endpoint, region and table replaced, path-style on), is
#     what tflock reads after a stand-in `terraform init`: `tflock -- terraform
#     apply` locks the example's key — the lock file, the DynamoDB item, or both
#     as the backend sets — and gives terraform -lock=false; migrate.sh runs its
#     steps and checks what tflock held;
#   - with a real terraform installed, the ceph-rgw example initialises
#     against the local gateway and applies under tflock.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
command -v node >/dev/null || bail "node is needed (Debian: apt-get install nodejs)"
HCL=$TEST_TMP/hcl.cjs
cat >"$HCL" <<'JS'
// hcl.cjs — a small HCL (Terraform language) reader for tflock's example
// tests: it tokenizes and parses the structure (blocks, attributes,
// expressions with balanced brackets, strings with interpolation, heredocs,
// comments) and rejects what terraform would reject at that level (unbalanced
// brackets, unterminated strings, a duplicate attribute, a missing value). It
// evaluates literals (strings, numbers, bools, null, lists and objects of
// them); any other expression is kept as {"expr": "..."}.
//   hcl.cjs json FILE               the file as JSON
//   hcl.cjs eval FILE 'doc => expr' print a value (strings raw, else JSON)
//   hcl.cjs backend-state DIR       .terraform/terraform.tfstate for DIR's s3
//                                   backend, as terraform init writes it;
//                                   STANDIN_BUCKET, STANDIN_ENDPOINT (also sets
//                                   use_path_style), STANDIN_REGION and
//                                   STANDIN_TABLE (a dynamodb_table that is set)
//                                   override; STANDIN_UNSET names settings to
//                                   leave out
'use strict';
const fs = require('fs');
const path = require('path');

function lex(src, file) {
	const toks = [];
	let i = 0, line = 1;
	const err = (m) => { throw new Error(`${file}:${line}: ${m}`); };
	const push = (t, v, extra) => toks.push({ t, v, line, ...extra });
	// scan a template (string body or interpolation) starting at i; returns the index after it
	function template(quoted) {
		let interp = false, raw = '';
		for (;;) {
			if (i >= src.length) err(quoted ? 'unterminated string' : 'unterminated heredoc');
			const c = src[i];
			if (quoted && c === '"') { i++; return { raw, interp }; }
			if (quoted && c === '\n') err('newline in a quoted string');
			if (quoted && c === '\\') {
				const n = src[i + 1];
				if (!'nrt"\\uU'.includes(n)) err(`invalid escape \\${n}`);
				raw += c + n;
				i += 2;
				continue;
			}
			if ((c === '$' || c === '%') && src[i + 1] === '{') {
				if (src[i - 1] === c && src[i - 2] !== c) { raw += '{'; i += 2; continue; } // $${ escape
				interp = true;
				const start = i;
				i += 2;
				let depth = 1;
				while (depth > 0) {
					if (i >= src.length) err('unterminated ${ interpolation');
					const d = src[i];
					if (d === '"') { i++; template(true); continue; }
					if (d === '{') depth++;
					else if (d === '}') depth--;
					else if (d === '\n') line++;
					i++;
				}
				raw += src.slice(start, i);
				continue;
			}
			raw += c;
			i++;
		}
	}
	while (i < src.length) {
		const c = src[i];
		const rest = src.slice(i);
		if (c === '\n') { push('nl'); line++; i++; continue; }
		if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
		if (c === '#' || rest.startsWith('//')) { while (i < src.length && src[i] !== '\n') i++; continue; }
		if (rest.startsWith('/*')) {
			const e = src.indexOf('*/', i + 2);
			if (e < 0) err('unterminated /* comment');
			line += (src.slice(i, e).match(/\n/g) || []).length;
			i = e + 2;
			continue;
		}
		if (c === '"') {
			i++;
			const s = template(true);
			push('str', s.raw, { interp: s.interp });
			continue;
		}
		const h = /^<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\r?\n/.exec(rest);
		if (h) {
			const startLine = line;
			i += h[0].length;
			line++;
			const lines = [];
			for (;;) {
				if (i >= src.length) { line = startLine; err(`heredoc ${h[2]} is never closed`); }
				let e = src.indexOf('\n', i);
				if (e < 0) e = src.length;
				const l = src.slice(i, e);
				i = e;
				if (l.trim() === h[2]) break;
				lines.push(l);
				i++;
				line++;
			}
			push('str', lines.join('\n'), { interp: /[$%]\{/.test(lines.join('\n')), heredoc: true });
			continue;
		}
		let m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(rest);
		if (m) { push('num', Number(m[0])); i += m[0].length; continue; }
		m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(rest);
		if (m) { push('id', m[0]); i += m[0].length; continue; }
		m = /^(==|!=|<=|>=|&&|\|\||=>|\.\.\.|[{}[\]()=,.:?!<>+\-*/%])/.exec(rest);
		if (m) { push('op', m[0]); i += m[0].length; continue; }
		err(`unexpected character '${c}'`);
	}
	push('eof');
	return toks;
}

function parse(src, file) {
	const t = lex(src, file);
	let p = 0;
	const err = (m, tok = t[p]) => { throw new Error(`${file}:${tok.line}: ${m}`); };
	const is = (type, v) => t[p].t === type && (v === undefined || t[p].v === v);
	const skipNl = () => { while (is('nl')) p++; };
	const closer = { '{': '}', '[': ']', '(': ')' };

	// an expression: tokens up to a newline or the enclosing closer, brackets balanced
	function expression(stopAtBrace) {
		const start = p, stack = [];
		for (;;) {
			const k = t[p];
			if (k.t === 'eof') { if (stack.length) err(`'${stack[stack.length - 1]}' is never closed`, t[start]); break; }
			if (!stack.length && k.t === 'nl') break;
			if (!stack.length && stopAtBrace && k.t === 'op' && (k.v === '}' || k.v === ',')) break;
			if (k.t === 'op' && closer[k.v]) stack.push(k.v);
			else if (k.t === 'op' && ')]}'.includes(k.v)) {
				if (!stack.length) err(`unexpected '${k.v}'`, k);
				const open = stack.pop();
				if (closer[open] !== k.v) err(`'${open}' closed by '${k.v}'`, k);
			}
			p++;
		}
		const toks = t.slice(start, p).filter((k) => k.t !== 'nl');
		if (!toks.length) err('an attribute needs a value', t[start]);
		return value(toks);
	}
	function body(inBlock) {
		const attrs = {}, blocks = [];
		for (;;) {
			skipNl();
			if (is('eof')) { if (inBlock) err('a block is never closed'); break; }
			if (is('op', '}')) { if (!inBlock) err("unexpected '}'"); break; }
			if (!is('id')) err(`expected an attribute or a block, found '${t[p].v ?? t[p].t}'`);
			const name = t[p++].v;
			if (is('op', '=')) {
				p++;
				if (name in attrs) err(`attribute "${name}" is set twice`, t[p - 2]);
				attrs[name] = expression(inBlock);
				if (!is('nl') && !is('eof') && !is('op', '}')) err(`unexpected '${t[p].v}' after the value of ${name}`);
				continue;
			}
			const labels = [];
			while (is('str') || is('id')) {
				if (is('str') && t[p].interp) err('a block label cannot be interpolated');
				labels.push(t[p++].v);
			}
			if (!is('op', '{')) err(`expected '=' or '{' after ${name}`);
			p++;
			const b = body(true);
			p++; // '}'
			if (!is('nl') && !is('eof') && !is('op', '}')) err(`a block must end its line: unexpected '${t[p].v}'`);
			blocks.push({ type: name, labels, ...b });
		}
		return { attrs, blocks };
	}
	function value(toks) {
		if (toks.length === 1) {
			const k = toks[0];
			if (k.t === 'str' && !k.interp) return unescape(k.v, k.heredoc);
			if (k.t === 'num') return k.v;
			if (k.t === 'id' && k.v === 'true') return true;
			if (k.t === 'id' && k.v === 'false') return false;
			if (k.t === 'id' && k.v === 'null') return null;
		}
		const first = toks[0], last = toks[toks.length - 1];
		if (first.t === 'op' && last.t === 'op' && ((first.v === '{' && last.v === '}') || (first.v === '[' && last.v === ']')) &&
			matching(toks) === toks.length - 1) {
			const items = split(toks.slice(1, -1));
			if (first.v === '[') return items.map(value);
			const o = {};
			for (const it of items) {
				const eq = it.findIndex((k) => k.t === 'op' && (k.v === '=' || k.v === ':'));
				if (eq !== 1 || !(it[0].t === 'id' || it[0].t === 'str')) return { expr: text(toks) };
				o[it[0].v] = value(it.slice(2));
			}
			return o;
		}
		return { expr: text(toks) };
	}
	// index of the token closing toks[0]
	function matching(toks) {
		let d = 0;
		for (let j = 0; j < toks.length; j++) {
			const k = toks[j];
			if (k.t === 'op' && closer[k.v]) d++;
			else if (k.t === 'op' && ')]}'.includes(k.v)) { d--; if (d === 0) return j; }
		}
		return -1;
	}
	// split the inside of a list or object on commas and newlines at depth 0
	function split(toks) {
		const out = [];
		let cur = [], d = 0;
		for (const k of toks) {
			if (k.t === 'op' && closer[k.v]) d++;
			if (k.t === 'op' && ')]}'.includes(k.v)) d--;
			if (d === 0 && (k.t === 'nl' || (k.t === 'op' && k.v === ','))) { if (cur.length) out.push(cur); cur = []; continue; }
			cur.push(k);
		}
		if (cur.length) out.push(cur);
		return out;
	}
	const text = (toks) => toks.map((k) => (k.t === 'str' ? JSON.stringify(k.v) : String(k.v))).join(' ');
	const b = body(false);
	return b;
}
function unescape(s, heredoc) {
	if (heredoc) return s;
	return s.replace(/\\(.)/g, (_, c) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
}

// the doc as plain JSON: attributes, then each block type as a list
function toPlain(b) {
	const o = { ...b.attrs };
	for (const blk of b.blocks) {
		(o[blk.type] = o[blk.type] || []).push({ labels: blk.labels, ...toPlain(blk) });
	}
	return o;
}
function load(file) { return toPlain(parse(fs.readFileSync(file, 'utf8'), file)); }
function show(v) { return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v); }

function backendState(dir) {
	const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).map((f) => path.join(dir, f));
	let be = null;
	for (const f of files) for (const tf of load(f).terraform || [])
		for (const b of tf.backend || []) if (b.labels[0] === 's3') be = b;
	if (!be) throw new Error(`${dir}: no backend "s3" block`);
	const cfg = {};
	for (const [k, v] of Object.entries(be)) if (k !== 'labels') cfg[k] = v;
	if (process.env.STANDIN_BUCKET) cfg.bucket = process.env.STANDIN_BUCKET;
	if (process.env.STANDIN_REGION) cfg.region = process.env.STANDIN_REGION;
	if (process.env.STANDIN_TABLE && cfg.dynamodb_table !== undefined) cfg.dynamodb_table = process.env.STANDIN_TABLE;
	for (const k of (process.env.STANDIN_UNSET || '').split(/\s+/).filter(Boolean)) delete cfg[k];
	if (process.env.STANDIN_ENDPOINT) {
		cfg.endpoints = { ...(cfg.endpoints || {}), s3: process.env.STANDIN_ENDPOINT };
		cfg.use_path_style = true;
	}
	return { version: 3, terraform_version: '1.11.4', backend: { type: 's3', config: cfg, hash: 1 } };
}

const [cmd, ...rest] = process.argv.slice(2);
try {
	if (cmd === 'json') process.stdout.write(JSON.stringify(load(rest[0]), null, 1) + '\n');
	else if (cmd === 'eval') process.stdout.write(show(eval(rest[1])(load(rest[0]))) + '\n');
	else if (cmd === 'backend-state') process.stdout.write(JSON.stringify(backendState(rest[0]), null, 1) + '\n');
	else { console.error('usage: hcl.cjs json FILE | eval FILE EXPR | backend-state DIR'); process.exitCode = 64; }
} catch (e) {
	console.error('hcl: ' + e.message);
	process.exitCode = 1;
}
JS
hcl() { node "$HCL" "$@"; }
quiet() { "$@" >/dev/null; } # run a check, keeping its output out of the TAP stream
EX=$top_srcdir/examples

# ---- 1. every .tf file parses ------------------------------------------------
tf_files=$(cd "$EX" && find . -name '*.tf' | LC_ALL=C sort)
is 9 "$(printf '%s\n' "$tf_files" | grep -c .)" "the examples hold nine .tf files"
for f in $tf_files; do
	ok "parses as HCL: examples/${f#./}" quiet hcl json "$EX/$f"
done
# the reader is strict where terraform is (negative controls)
mkdir -p "$TEST_TMP/bad"
printf 'terraform {\n  backend "s3" {\n    key = "k"\n  }\n' >"$TEST_TMP/bad/1.tf"
printf 'terraform {\n  backend "s3" {\n    key = "k\n  }\n}\n' >"$TEST_TMP/bad/2.tf"
printf 'terraform {\n  backend "s3" {\n    key = "a"\n    key = "b"\n  }\n}\n' >"$TEST_TMP/bad/3.tf"
printf 'terraform {\n  backend "s3" {\n    endpoints = { s3 = "x" ]\n  }\n}\n' >"$TEST_TMP/bad/4.tf"
printf 'terraform {\n  backend "s3" {\n    key =\n  }\n}\n' >"$TEST_TMP/bad/5.tf"
for n in 1 2 3 4 5; do
	why=$(hcl json "$TEST_TMP/bad/$n.tf" 2>&1 >/dev/null | sed 's/^hcl: [^ ]* //')
	ok_not "the reader rejects broken HCL: ${why:-accepted!}" quiet hcl json "$TEST_TMP/bad/$n.tf" 2>/dev/null
done
# terraform fmt, when terraform is here (an extra: the checks above always run)
tf_fmt() { CHECKPOINT_DISABLE=1 terraform fmt -check -diff "$1" 2>/dev/null | sed 's/^/# /'; return "${PIPESTATUS[0]}"; }
if command -v terraform >/dev/null && CHECKPOINT_DISABLE=1 terraform version >/dev/null 2>&1; then
	for f in $tf_files; do
		ok "terraform fmt -check: examples/${f#./}" tf_fmt "$EX/$f"
	done
else
	skip "terraform is not installed: no terraform fmt -check (the HCL reader checked every file)"
fi

# ---- 2. what the backend examples say ----------------------------------------
B=$EX/backend
s3be() { hcl eval "$1" "d => { const b = d.terraform[0].backend.find(b => b.labels[0] === 's3'); return ($2)(b); }"; }
for d in new migrate-from-dynamodb migrate-from-dynamodb/after minio ceph-rgw cloudflare-r2; do
	is true "$(s3be "$B/$d/backend.tf" 'b => b.use_lockfile === true && typeof b.bucket === "string" && typeof b.key === "string"')" \
		"backend/$d: an s3 backend with bucket, key and use_lockfile = true"
	is 1.11 "$(hcl eval "$B/$d/backend.tf" 'd => d.terraform[0].required_version.replace(/^>= */, "")')" \
		"backend/$d: requires terraform >= 1.11 (use_lockfile without the experimental warning)"
done
is "" "$(s3be "$B/new/backend.tf" 'b => b.dynamodb_table')" "new: no DynamoDB table"
is true "$(s3be "$B/new/backend.tf" 'b => b.encrypt')" "new: encrypt = true"
is "terraform-locks|" "$(s3be "$B/migrate-from-dynamodb/before/backend.tf" 'b => b.dynamodb_table + "|" + (b.use_lockfile ?? "")')" \
	"migration step 0 (before/): dynamodb_table alone, no use_lockfile"
is terraform-locks "$(s3be "$B/migrate-from-dynamodb/backend.tf" 'b => b.dynamodb_table')" \
	"migration step 1 keeps dynamodb_table next to use_lockfile"
is "" "$(s3be "$B/migrate-from-dynamodb/after/backend.tf" 'b => b.dynamodb_table')" "migration step 2 drops it"
state_of() { s3be "$B/migrate-from-dynamodb/$1backend.tf" 'b => b.bucket + "/" + b.key'; }
is "$(state_of before/) $(state_of after/)" "$(state_of "") $(state_of "")" "steps 0, 1 and 2 name the same state"
for d in minio ceph-rgw cloudflare-r2; do
	like "$(s3be "$B/$d/backend.tf" 'b => b.endpoints.s3')" '^https://' "$d: endpoints { s3 = https://... }"
	is "true true true true true" \
		"$(s3be "$B/$d/backend.tf" 'b => [b.use_path_style, b.skip_credentials_validation, b.skip_requesting_account_id, b.skip_region_validation, b.skip_metadata_api_check].join(" ")')" \
		"$d: use_path_style and the skip_* settings a store other than AWS needs"
	is "" "$(s3be "$B/$d/backend.tf" 'b => [b.endpoint, b.force_path_style].filter(x => x !== undefined).join(",")')" \
		"$d: none of the deprecated endpoint / force_path_style"
done
is auto "$(s3be "$B/cloudflare-r2/backend.tf" 'b => b.region')" "r2: region auto"

# ---- 3. the bucket bootstrap ---------------------------------------------------
M=$EX/bootstrap/main.tf
res() { hcl eval "$M" "d => { const r = d.resource.find(r => r.labels[0] === '$1'); return r ? ($2)(r) : 'missing'; }"; }
is Enabled "$(res aws_s3_bucket_versioning 'r => r.versioning_configuration[0].status')" "bootstrap: versioning on"
like "$(res aws_s3_bucket_server_side_encryption_configuration 'r => r.rule[0].apply_server_side_encryption_by_default[0].sse_algorithm.expr')" \
	'"AES256" : "aws:kms"' "bootstrap: default encryption, SSE-S3 or SSE-KMS"
is "true true true true" "$(res aws_s3_bucket_public_access_block 'r => [r.block_public_acls, r.ignore_public_acls, r.block_public_policy, r.restrict_public_buckets].join(" ")')" \
	"bootstrap: all four public access block settings"
is BucketOwnerEnforced "$(res aws_s3_bucket_ownership_controls 'r => r.rule[0].object_ownership')" "bootstrap: ACLs disabled"
is "var.noncurrent_days var.newer_noncurrent_versions" \
	"$(res aws_s3_bucket_lifecycle_configuration 'r => { const n = r.rule[0].noncurrent_version_expiration[0]; return n.noncurrent_days.expr.replace(/ /g, "") + " " + n.newer_noncurrent_versions.expr.replace(/ /g, ""); }')" \
	"bootstrap: a lifecycle rule expires noncurrent versions (lock heartbeats) but keeps the newest"
is true "$(res aws_s3_bucket_lifecycle_configuration 'r => r.rule[0].expiration[0].expired_object_delete_marker')" \
	"bootstrap: and removes the delete markers released locks leave"
like "$(hcl eval "$M" 'd => d.data.find(x => x.labels[1] === "tls_only").statement[0].condition[0].variable')" \
	'aws:SecureTransport' "bootstrap: the bucket policy denies plain HTTP"

# the DynamoDB table bootstrap
T=$EX/bootstrap/dynamodb-table/main.tf
tres() { hcl eval "$T" "d => { const r = (d.resource || []).find(r => r.labels[0] === 'aws_dynamodb_table'); return r ? ($1)(r) : 'missing'; }"; }
is "LockID|LockID:S|PAY_PER_REQUEST|" \
	"$(tres 'r => [r.hash_key, r.attribute.map(a => a.name + ":" + a.type).join(","), r.billing_mode, r.range_key ?? ""].join("|")')" \
	"table bootstrap: hash_key LockID, its one attribute of type S, no range_key, billing_mode PAY_PER_REQUEST"
is terraform-locks "$(hcl eval "$T" 'd => d.variable.find(v => v.labels[0] === "table").default')" \
	"table bootstrap: named terraform-locks by default, the table the backend examples name"
is 3 "$(grep -E '^#' "$T" | grep -oE 'AttributeName=LockID,AttributeType=S|AttributeName=LockID,KeyType=HASH|--billing-mode PAY_PER_REQUEST' | sort -u | wc -l)" \
	"table bootstrap: its aws dynamodb create-table line declares the same table"

# aws-cli.sh with a stand-in aws that records its calls (never the real one)
mkdir -p "$TEST_TMP/awsbin"
cat >"$TEST_TMP/awsbin/aws" <<SH
#!/bin/sh
{ echo "CALL"; for a in "\$@"; do printf '%s\n' "\$a"; done; } >>"\${AWS_STANDIN_LOG:?}"
SH
chmod +x "$TEST_TMP/awsbin/aws"
awscli() { # awscli NAME ARGS...: run aws-cli.sh with the stand-in
	local n=$1
	shift
	PATH=$TEST_TMP/awsbin:$PATH AWS_STANDIN_LOG=$TEST_TMP/$n.calls bash "$EX/bootstrap/aws-cli.sh" "$@" 2>"$TEST_TMP/$n.err"
}
# arg NAME CALL-SUBCOMMAND FLAG: the value after FLAG in the call to that s3api subcommand
arg() {
	awk -v cmd="$2" -v flag="$3" '
		/^CALL$/ { want = 0; n = 0; next }
		{ n++ }
		n == 2 { in_cmd = ($0 == cmd) }
		want && in_cmd { print; exit }
		{ want = ($0 == flag) }' "$TEST_TMP/$1.calls"
}
jq_() { node -e 'const d = JSON.parse(process.argv[1]); process.stdout.write(String((eval(process.argv[2]))(d)))' "$1" "$2"; }
awscli a example-terraform-state eu-west-1
is 0 $? "aws-cli.sh runs (stand-in aws)"
is "create-bucket put-public-access-block put-bucket-ownership-controls put-bucket-versioning put-bucket-encryption put-bucket-lifecycle-configuration put-bucket-policy" \
	"$(awk '/^CALL$/ { getline; getline; printf "%s%s", sep, $0; sep = " " }' "$TEST_TMP/a.calls")" \
	"it creates the bucket, then sets each protection"
is 7 "$(grep -c '^s3api$' "$TEST_TMP/a.calls")" "every call is aws s3api"
is 7 "$(grep -cx 'eu-west-1' "$TEST_TMP/a.calls")" "every call names the region"
is LocationConstraint=eu-west-1 "$(arg a create-bucket --create-bucket-configuration)" "outside us-east-1 the bucket gets a LocationConstraint"
is Status=Enabled "$(arg a put-bucket-versioning --versioning-configuration)" "versioning on"
is BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true \
	"$(arg a put-public-access-block --public-access-block-configuration)" "public access blocked"
lc=$(arg a put-bucket-lifecycle-configuration --lifecycle-configuration)
ok "the lifecycle configuration is valid JSON" quiet jq_ "$lc" 'd => d.Rules.length'
is "Enabled 30 20 true" "$(jq_ "$lc" 'd => [d.Rules[0].Status, d.Rules[0].NoncurrentVersionExpiration.NoncurrentDays, d.Rules[0].NoncurrentVersionExpiration.NewerNoncurrentVersions, d.Rules[0].Expiration.ExpiredObjectDeleteMarker].join(" ")')" \
	"it expires noncurrent versions after 30 days, keeps 20, removes expired delete markers"
is AES256 "$(jq_ "$(arg a put-bucket-encryption --server-side-encryption-configuration)" 'd => d.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm')" \
	"default encryption SSE-S3"
pol=$(arg a put-bucket-policy --policy)
is "Deny false arn:aws:s3:::example-terraform-state/*" \
	"$(jq_ "$pol" 'd => [d.Statement[0].Effect, d.Statement[0].Condition.Bool["aws:SecureTransport"], d.Statement[0].Resource[1]].join(" ")')" \
	"the bucket policy denies non-TLS access to the bucket's objects"
KMS_KEY_ARN=arn:aws:kms:us-east-1:111111111111:key/abcd NONCURRENT_DAYS=7 awscli b other-bucket us-east-1
is 0 $? "aws-cli.sh in us-east-1 with a KMS key"
is "" "$(arg b create-bucket --create-bucket-configuration)" "us-east-1 takes no LocationConstraint"
is "aws:kms arn:aws:kms:us-east-1:111111111111:key/abcd true" \
	"$(jq_ "$(arg b put-bucket-encryption --server-side-encryption-configuration)" 'd => [d.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm, d.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID, d.Rules[0].BucketKeyEnabled].join(" ")')" \
	"SSE-KMS with the key and a bucket key"
is 7 "$(jq_ "$(arg b put-bucket-lifecycle-configuration --lifecycle-configuration)" 'd => d.Rules[0].NoncurrentVersionExpiration.NoncurrentDays')" \
	"NONCURRENT_DAYS sets the days"
awscli c 'Not_A_Bucket'
is 64 $? "an invalid bucket name is refused (64)"
ok "before any aws call" test ! -e "$TEST_TMP/c.calls"
awscli d
is 64 $? "no bucket: usage (64)"

# ---- 4. the IAM policy ---------------------------------------------------------
P=$EX/iam/tflock-policy.json
pj() { node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String((eval(process.argv[2]))(d)))' "$P" "$1"; }
ok "iam/tflock-policy.json is valid JSON" quiet pj 'd => 1'
is 2012-10-17 "$(pj 'd => d.Version')" "policy language version 2012-10-17"
acts() { pj "d => { const s = d.Statement.find(s => [].concat(s.Resource).some(r => $1)); return s ? [].concat(s.Action).sort().join(' ') : 'none'; }"; }
is "s3:DeleteObject s3:GetObject s3:PutObject" "$(acts 'r.endsWith("/network/terraform.tfstate*.tflock")')" \
	"GetObject, PutObject, DeleteObject on this state's KEY*.tflock only (lock, applied record, self-test)"
is "s3:GetBucketPublicAccessBlock s3:GetBucketVersioning s3:GetEncryptionConfiguration s3:GetLifecycleConfiguration" \
	"$(pj 'd => [].concat((d.Statement.find(s => s.Sid === "LetDoctorReadTheBucketSettings") || {}).Action || []).sort().join(" ")')" \
	"the bucket settings tflock doctor reads, in a statement of their own"
is "s3:GetObject s3:PutObject" "$(acts 'r.endsWith("/network/terraform.tfstate")')" \
	"GetObject, PutObject on the state key, no DeleteObject"
is "s3:ListBucket" "$(acts 'r === "arn:aws:s3:::example-terraform-state"')" "ListBucket on the bucket itself"
is "" "$(pj 'd => d.Statement.filter(s => s.Effect !== "Allow" || [].concat(s.Action).some(a => a.includes("*")) || [].concat(s.Resource).some(r => r === "*" || r.endsWith(":::example-terraform-state/*"))).map(s => s.Sid).join(",")')" \
	"least privilege: no wildcard action, no bucket-wide object access"
is "" "$(pj 'd => d.Statement.flatMap(s => [].concat(s.Resource)).filter(r => !r.startsWith("arn:aws:s3:::example-terraform-state")).join(",")')" \
	"every resource is in the state bucket"

# the DynamoDB policy, and iam/README.md's table of who needs which action
P=$EX/iam/tflock-dynamodb-policy.json
ok "iam/tflock-dynamodb-policy.json is valid JSON" quiet pj 'd => 1'
is 2012-10-17 "$(pj 'd => d.Version')" "policy language version 2012-10-17"
ddb_actions="dynamodb:DeleteItem dynamodb:DescribeTable dynamodb:GetItem dynamodb:PutItem"
is "$ddb_actions" "$(pj 'd => [...new Set(d.Statement.flatMap(s => [].concat(s.Action)))].sort().join(" ")')" \
	"it grants exactly GetItem, PutItem, DeleteItem and DescribeTable (no Scan, no UpdateItem, no wildcard)"
is "Allow" "$(pj 'd => [...new Set(d.Statement.map(s => s.Effect))].join(",")')" "every statement allows"
is "arn:aws:dynamodb:*:*:table/terraform-locks" "$(pj 'd => [...new Set(d.Statement.flatMap(s => [].concat(s.Resource)))].join(",")')" \
	"every resource is the table, arn:aws:dynamodb:*:*:table/terraform-locks"
is "dynamodb:DeleteItem dynamodb:GetItem dynamodb:PutItem" \
	"$(pj 'd => [].concat((d.Statement.find(s => s.Condition) || {}).Action || []).sort().join(" ")')" \
	"the item actions are in the statement limited by dynamodb:LeadingKeys"
is "dynamodb:DescribeTable" "$(pj 'd => [].concat((d.Statement.find(s => s.Sid === "LetDoctorDescribeTheTable") || {}).Action || []).join(" ")')" \
	"DescribeTable, which names no item, in a statement of its own"
# the LeadingKeys patterns (IAM StringLike: * any run, ? one character) admit
# the items terraform and tflock use for this state, and no other state's
is "yes yes yes yes no no no" "$(pj 'd => {
	const s = d.Statement.find(s => s.Condition) || { Condition: {} };
	const pats = (s.Condition["ForAllValues:StringLike"] || {})["dynamodb:LeadingKeys"] || [];
	const re = (p) => new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
	const st = "example-terraform-state/network/terraform.tfstate";
	return [st, st + "-md5", st + ".0a1b2c3d.selftest.tflock", "example-terraform-state/env:/staging/network/terraform.tfstate",
		"example-terraform-state/other/terraform.tfstate", "other-bucket/network/terraform.tfstate", "example-terraform-state/env:/staging/other/terraform.tfstate"]
		.map((k) => (pats.some((p) => re(p).test(k)) ? "yes" : "no")).join(" ");
}')" "LeadingKeys: the lock item, the state digest, the self-test items, another workspace's; not another state's or bucket's"
IR=$EX/iam/README.md
# the rows of the table that starts with "| who | actions on the table"
iam_rows() { awk '/^\| who \| actions on the table/ { t = 1; next } t && !/^\|/ { exit } t && !/^\| *---/' "$IR"; }
is "$ddb_actions" "$(iam_rows | awk -F'|' '!/status --all/ { print $3 }' | grep -oE '[A-Z][A-Za-z]+' | sort -u | sed 's/^/dynamodb:/' | paste -sd' ')" \
	"iam/README.md: the subcommands' actions are the policy's, no more, no fewer"
is 8 "$(iam_rows | grep -c .)" "iam/README.md: a row for run, status, unlock, release, doctor, check-git, terraform and status --all"
is GetItem "$(awk -F'|' '/^\| `tflock status`/ { gsub(/ /, "", $3); print $3 }' "$IR")" "iam/README.md: status needs GetItem alone"
like "$(grep -F 'status --all' "$IR" | grep -F '| Scan |')" 'not granted' "iam/README.md: Scan only for status --all, not granted to jobs"

# ---- 5. the backends with tflock, against the local S3 server ----------------
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_BUCKET TFLOCK_ENDPOINT TFLOCK_KEY # everything comes from the backend
ddb_require # the migration example's table, on the test server
# the examples' table, created from bootstrap/dynamodb-table's declaration
# (under a name of this test's own: the test server may be shared)
export STANDIN_TABLE=terraform-locks-$$
ct=$(tres "r => JSON.stringify({ TableName: '$STANDIN_TABLE', BillingMode: r.billing_mode,
	AttributeDefinitions: r.attribute.map(a => ({ AttributeName: a.name, AttributeType: a.type })),
	KeySchema: [{ AttributeName: r.hash_key, KeyType: 'HASH' }].concat(r.range_key ? [{ AttributeName: r.range_key, KeyType: 'RANGE' }] : []) })")
ddb_table call CreateTable "$ct" >/dev/null || bail "cannot create the table bootstrap/dynamodb-table declares: $ct"
table_active() { ddb_table call DescribeTable "{\"TableName\":\"$STANDIN_TABLE\"}" 2>/dev/null | grep -q '"TableStatus":"ACTIVE"'; }
wait_for "table $STANDIN_TABLE ACTIVE" 30 table_active || bail "table $STANDIN_TABLE never got ACTIVE"
# a stand-in terraform: `init` writes .terraform/terraform.tfstate from the
# directory's backend block as terraform init would, pointed at the local server;
# every call logs its arguments, TF_CLI_ARGS_*, and whether the lock is held
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/terraform" <<SH
#!/bin/bash
log=\${STANDIN_LOG:-$TEST_TMP/tf.log}
echo "args \$*" >>"\$log"
env | grep '^TF_CLI_ARGS' | sort | sed 's/^/env /' >>"\$log"
case \$1 in
init)
	mkdir -p .terraform
	STANDIN_BUCKET=$bucket STANDIN_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT STANDIN_REGION=us-east-1 \\
		STANDIN_UNSET="encrypt \${STANDIN_ALSO_UNSET:-}" \\
		node "$HCL" backend-state . >.terraform/terraform.tfstate || exit 1 ;;
plan | apply)
	st=\$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --aws-sigv4 aws:amz:us-east-1:s3 \\
		--user "$TFLOCK_TEST_ACCESS_KEY:$TFLOCK_TEST_SECRET_KEY" \\
		-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \\
		"$TFLOCK_TEST_S3_ENDPOINT/$bucket/\${STANDIN_KEY:?}.tflock")
	echo "lock \$st" >>"\$log"
	case \$("$top_srcdir/tests/helpers/ddb-table" "$TFLOCK_TEST_DDB_ENDPOINT" get "\$STANDIN_TABLE" "$bucket/\$STANDIN_KEY" 2>&1) in
	*'"Item"'*) echo "item held" ;;
	'{}') echo "item absent" ;;
	*) echo "item unknown" ;;
	esac >>"\$log" ;;
esac
exit 0
SH
chmod +x "$TEST_TMP/bin/terraform"
ORIG_PATH=$PATH
export PATH=$TEST_TMP/bin:$PATH
# what each backend makes tflock hold while terraform runs: the lock file
# (lock 200 / 404) and the DynamoDB item (held / absent)
for d in new migrate-from-dynamodb/before migrate-from-dynamodb migrate-from-dynamodb/after minio ceph-rgw cloudflare-r2; do
	w=$TEST_TMP/ex/$d
	mkdir -p "$w"
	cp "$B/$d/backend.tf" "$w/"
	export STANDIN_KEY
	STANDIN_KEY=$(s3be "$B/$d/backend.tf" 'b => b.key')
	case $d in
	*/before) want="lock 404|item held" what="the DynamoDB item alone (no lock file)" ;;
	migrate-from-dynamodb) want="lock 200|item held" what="$STANDIN_KEY.tflock and the DynamoDB item" ;;
	*) want="lock 200|item absent" what="$STANDIN_KEY.tflock alone" ;;
	esac
	: >"$TEST_TMP/tf.log"
	(cd "$w" && terraform init -input=false && "$TFLOCK" -- terraform apply -auto-approve) 2>"$TEST_TMP/ex.err"
	rc=$?
	is "0|env TF_CLI_ARGS_apply=-lock=false|$want" \
		"$rc|$(grep '^env TF_CLI_ARGS_apply=' "$TEST_TMP/tf.log")|$(grep '^lock\|^item' "$TEST_TMP/tf.log" | paste -sd'|')" \
		"backend/$d: tflock -- terraform apply holds $what from the backend alone; terraform gets -lock=false"
	[ $rc = 0 ] || sed 's/^/# /' "$TEST_TMP/ex.err"
	is "404 {}" "$(s3_status GET "/$bucket/$STANDIN_KEY.tflock") $(ddb_table get "$STANDIN_TABLE" "$bucket/$STANDIN_KEY")" \
		"backend/$d: released"
done
(cd "$TEST_TMP/ex/migrate-from-dynamodb" && "$TFLOCK" -- terraform apply -auto-approve) 2>"$TEST_TMP/ddb.err"
like "$(cat "$TEST_TMP/ddb.err")" "acquired s3://$bucket/network/terraform\.tfstate\.tflock and dynamodb://$STANDIN_TABLE/$bucket/network/terraform\.tfstate\$" \
	"during the migration (step 1) tflock holds the lock file, then the DynamoDB item (PROTOCOL B12)"
(cd "$TEST_TMP/ex/migrate-from-dynamodb/before" && "$TFLOCK" -- terraform apply -auto-approve) 2>"$TEST_TMP/ddb0.err"
like "$(cat "$TEST_TMP/ddb0.err")" "acquired dynamodb://$STANDIN_TABLE/$bucket/network/terraform\.tfstate\$" \
	"before it (step 0, the table alone) tflock holds the item alone"

# the migration script, with the stand-in terraform and the real tflock
MIG=$B/migrate-from-dynamodb/migrate.sh
STANDIN_KEY=network/terraform.tfstate
: >"$TEST_TMP/tf.log"
bash "$MIG" both "$TEST_TMP/ex/migrate-from-dynamodb" >"$TEST_TMP/m1.out" 2>&1
rc=$?
is 0 $rc "migrate.sh both: re-initialises, runs tflock doctor and a locked plan"
[ $rc = 0 ] || sed 's/^/# /' "$TEST_TMP/m1.out"
like "$(grep '^args' "$TEST_TMP/tf.log" | paste -sd'|')" '^args init -reconfigure -input=false\|args plan -input=false -detailed-exitcode$' \
	"terraform init -reconfigure, then plan"
like "$(cat "$TEST_TMP/m1.out")" "PASS +dynamodb_table: $STANDIN_TABLE: tflock holds Terraform's DynamoDB lock item and the lock file" \
	"tflock doctor says tflock holds the item and the file"
like "$(cat "$TEST_TMP/m1.out")" "WARN +dynamodb_table" "and flags the table as deprecated"
is "lock 200|item held" "$(grep '^lock\|^item' "$TEST_TMP/tf.log" | paste -sd'|')" "the plan ran under the lock file and the DynamoDB item"
like "$(cat "$TEST_TMP/m1.out")" "^migrate: tflock held: s3://$bucket/network/terraform\.tfstate\.tflock and dynamodb://$STANDIN_TABLE/" \
	"migrate.sh both says what tflock held, from its --report"
# .terraform initialised from another block than the one in DIR (the item not held): refused
STANDIN_ALSO_UNSET=dynamodb_table bash "$MIG" both "$TEST_TMP/ex/migrate-from-dynamodb" >"$TEST_TMP/m1b.out" 2>&1
is 1 $? "migrate.sh both refuses a run in which tflock did not hold the item"
like "$(cat "$TEST_TMP/m1b.out")" "did not hold both the lock file and the DynamoDB item" "saying so"
bash "$MIG" both "$TEST_TMP/ex/new" >/dev/null 2>&1
is 1 $? "step 1 on a backend without dynamodb_table is refused"
bash "$MIG" file "$TEST_TMP/ex/migrate-from-dynamodb" >/dev/null 2>&1
is 1 $? "step 2 while dynamodb_table is still there is refused"
bash "$MIG" file "$TEST_TMP/ex/migrate-from-dynamodb/after" >"$TEST_TMP/m2.out" 2>&1
is 0 $? "step 2 on the lock-file-only backend"
ok "with no dynamodb_table warning left" bash -c "! grep -q 'dynamodb_table' '$TEST_TMP/m2.out'"
like "$(cat "$TEST_TMP/m2.out")" "^migrate: tflock held: s3://$bucket/network/terraform\.tfstate\.tflock\$" "and tflock held the lock file alone"
PATH=$TEST_TMP/awsbin:$PATH AWS_STANDIN_LOG=$TEST_TMP/m3.calls bash "$MIG" drop-table terraform-locks eu-west-1 >"$TEST_TMP/m3.out" 2>&1
like "$(cat "$TEST_TMP/m3.out")" "aws dynamodb delete-table --table-name terraform-locks --region eu-west-1" \
	"drop-table shows the command"
ok "and does not run it" test ! -e "$TEST_TMP/m3.calls"
YES=1 PATH=$TEST_TMP/awsbin:$PATH AWS_STANDIN_LOG=$TEST_TMP/m4.calls bash "$MIG" drop-table terraform-locks eu-west-1 >/dev/null 2>&1
is "CALL dynamodb delete-table --table-name terraform-locks --region eu-west-1" "$(paste -sd' ' "$TEST_TMP/m4.calls" 2>/dev/null)" \
	"with YES=1 it runs it"
bash "$MIG" >/dev/null 2>&1
is 64 $? "migrate.sh without arguments: usage (64)"

# ---- 6. real terraform, when installed (an extra) -----------------------------
if PATH=$ORIG_PATH command -v terraform >/dev/null && PATH=$ORIG_PATH CHECKPOINT_DISABLE=1 terraform version >/dev/null 2>&1; then
	w=$TEST_TMP/real
	mkdir -p "$w"
	cp "$B/ceph-rgw/backend.tf" "$w/"
	echo 'output "example" { value = "ceph-rgw" }' >"$w/outputs.tf"
	(
		cd "$w" && export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 PATH=$ORIG_PATH
		terraform init -input=false -backend-config="bucket=$bucket" \
			-backend-config="endpoints={s3=\"$TFLOCK_TEST_S3_ENDPOINT\"}" >"$TEST_TMP/real-init.out" 2>&1 &&
			"$TFLOCK" -- terraform apply -input=false -auto-approve >"$TEST_TMP/real-apply.out" 2>&1
	)
	rc=$?
	is 0 $rc "real terraform: the ceph-rgw example initialises against the local gateway and applies under tflock"
	[ $rc = 0 ] || tail -n 20 "$TEST_TMP/real-init.out" "$TEST_TMP/real-apply.out" | sed 's/^/# /'
	is 200 "$(s3_status GET "/$bucket/network/terraform.tfstate")" "the state was written to the example's key"
	is 404 "$(s3_status GET "/$bucket/network/terraform.tfstate.tflock")" "and the lock released"
else
	skip "terraform is not installed: the stand-in above played its part"
fi

done_testing
