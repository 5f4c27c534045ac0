#!/bin/bash
# install-release.sh — the install path of the GitHub Action and the GitLab
# templates: a released binary, pinned by SHA-256, downloaded from a local
# HTTP server that serves a release (nothing leaves the machine).
#
# 1. ci-templates/install-release.sh itself (dash, and busybox's sh and wget
#    as on Alpine when busybox is here): the newest pinned version, a cache
#    hit without a download, a tampered cache, a checksum mismatch (refused,
#    nothing kept), an unpinned version, unreachable assets (exit 3: the
#    caller builds instead), the GitLab job token sent to GitLab's API alone.
# 2. The action's steps (the runner stand-in of tests/helpers/citool.cjs): the
#    release installed and run under the lock; a mismatch fails without
#    building; an unreachable release falls back to the source build;
#    version "source" and no pin build from source; fallback to another
#    version's tag.
# 3. GitLab: the generated parts of the templates are in sync; the hidden
#    job's before_script installs the release, refuses a mismatch, falls back;
#    the component's inputs mirror the action's and its job, interpolated as
#    GitLab would, runs a command under the lock with the release binary.
# 4. The release recipe: pins.sh pins a build and is the workflows' gate (a
#    binary that is not the pinned one is not published); the GitHub workflow
#    passes action-validator; both upload where the templates download from.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy

command -v python3 >/dev/null || bail "python3 is needed (Debian: apt-get install python3)"
ci_tools_require
CITOOL=$top_srcdir/tests/helpers/citool.cjs

# ---- a tree of the templates with a release pinned, and a server for it -----
T=$TEST_TMP/tree
mkdir -p "$T"
(cd "$top_srcdir" && tar -cf - configure.ac Makefile.am bootstrap wrapper ci-templates templates) | tar -C "$T" -xf -
V=$(sed -n 's/^AC_INIT(\[tflock\], \[\([^]]*\)\].*/\1/p' "$T/configure.ac")
A=$(uname -m)
case $A in amd64) A=x86_64 ;; arm64) A=aarch64 ;; esac
W=$TEST_TMP/www
mkdir -p "$W"
cp "$TFLOCK" "$W/tflock-$V-linux-$A"
good=$(sha256sum "$W/tflock-$V-linux-$A" | cut -d' ' -f1)
# 0.0.9 is served with other bytes than its pin: a tampered release
printf 'not tflock\n' >"$W/tflock-0.0.9-linux-$A"
# the sources' pin of the test tree (what a fallback build of a tag must match)
SRCPIN=$(TFLOCK_SRC=$T bash "$T/ci-templates/install-tflock.sh" source-hash | sed -n 's/^source=//p')
pin() { # pin: the test tree's pins (V good, 0.0.9 pinned to other bytes, another arch)
	{
		echo '# test pins'
		printf '%s  tflock-%s-linux-%s\n' "$good" "$V" "$A"
		printf '%s  tflock-%s-source\n' "$SRCPIN" "$V"
		printf '%064d  tflock-0.0.9-linux-%s\n' 7 "$A"
		printf '%s  tflock-0.0.9-source\n' "$SRCPIN"
		printf '%064d  tflock-%s-linux-riscv64\n' 9 "$V"
		printf '%064d  tflock-0.0.5-linux-riscv64\n' 5
	} >"$T/ci-templates/release/versions.txt"
}
pin
cat >"$TEST_TMP/server.py" <<'PY'
# a release server: the files of a directory, by name whatever the path;
# logs "METHOD PATH token=yes|no"
import http.server, os, sys
root, log = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write("GET %s token=%s\n" % (self.path, "yes" if self.headers.get("JOB-TOKEN") else "no"))
        # /redirect/NAME: to http://localhost:PORT/NAME (another host)
        name = os.path.basename(self.path.split("?")[0])
        if "/redirect/" in self.path:
            self.send_response(302)
            self.send_header("Location", "http://localhost:%d/%s" % (self.server.server_address[1], name))
            self.end_headers()
            return
        # served by name: the log tells which path was asked for
        p = os.path.join(root, name)
        if not os.path.isfile(p):
            self.send_response(404); self.end_headers(); return
        data = open(p, "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
: >"$TEST_TMP/requests"
python3 -u "$TEST_TMP/server.py" "$W" "$TEST_TMP/requests" >"$TEST_TMP/port" 2>"$TEST_TMP/server.err" &
srv_pid=$!
trap 'kill $srv_pid 2>/dev/null; test_cleanup' EXIT
wait_for "the release server" 5 test -s "$TEST_TMP/port" || bail "the release server did not start: $(cat "$TEST_TMP/server.err")"
PORT=$(cat "$TEST_TMP/port")
URL="http://127.0.0.1:$PORT/v{version}/{asset}"
nreq() { wc -l <"$TEST_TMP/requests" | tr -d ' '; }

# ---- 1. the installer -------------------------------------------------------
IR=$T/ci-templates/install-release.sh
# ir NAME [VAR=VALUE...] MODE: run it with dash; output in NAME.out, NAME.err
ir() {
	local name=$1
	shift
	env TFLOCK_CACHE_ROOT="$TEST_TMP/cache" TFLOCK_RELEASE_URL="$URL" "$@" \
		>"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err"
}
sh "$top_srcdir/ci-templates/install-release.sh" plan >/dev/null 2>"$TEST_TMP/nopin.err"
is 3 $? "the tree as shipped pins no release yet: exit 3 (the caller builds from source)"
like "$(cat "$TEST_TMP/nopin.err")" "no released version is pinned here" "(said)"

ir plan dash "$IR" plan
is 0 $? "plan: exit 0"
is "version=$V asset=tflock-$V-linux-$A sha256=$good source=$SRCPIN prefix=$TEST_TMP/cache/release-$V-linux-$A" \
	"$(tr '\n' ' ' <"$TEST_TMP/plan.out" | sed 's/ $//')" \
	"plan: the newest pinned version, its asset, its pin, its sources' pin, its cache directory"
ir plan2 TFLOCK_VERSION=v0.0.9 dash "$IR" plan
like "$(cat "$TEST_TMP/plan2.out")" "^version=0\.0\.9" "a given version (a leading v allowed) is that version"

: >"$TEST_TMP/gh-path"
n0=$(nreq)
ir inst GITHUB_PATH="$TEST_TMP/gh-path" dash "$IR" install
is 0 $? "install: downloads, verifies, installs"
bin=$TEST_TMP/cache/release-$V-linux-$A/bin/tflock
is "bin=$bin" "$(cat "$TEST_TMP/inst.out")" "it prints bin="
is "$((n0 + 1))" "$(nreq)" "one request"
is "GET /v$V/tflock-$V-linux-$A token=no" "$(tail -n 1 "$TEST_TMP/requests")" "for the asset, without a token"
is "$good" "$(sha256sum "$bin" | cut -d' ' -f1)" "the installed binary is the pinned one"
ok "and runs" "$bin" --version
is "$TEST_TMP/cache/release-$V-linux-$A/bin" "$(cat "$TEST_TMP/gh-path")" "on later steps' PATH (\$GITHUB_PATH)"
like "$(cat "$TEST_TMP/inst.err")" "tflock $V installed, checksum verified" "(said)"

ir hit dash "$IR" install
is 0 $? "a second install uses the cache"
is "$((n0 + 1))" "$(nreq)" "without a request"
like "$(cat "$TEST_TMP/hit.err")" "found in the cache, checksum verified" "after verifying it again"

cp "$bin" "$TEST_TMP/bin.saved"
printf 'x' >>"$bin"
ir tamper dash "$IR" install
is 1 $? "a cached binary that is not the pinned one is refused (exit 1)"
like "$(cat "$TEST_TMP/tamper.err")" "is not tflock $V's binary .*refusing it" "(said, with both checksums)"
is "$((n0 + 1))" "$(nreq)" "and not replaced by a download"
cp "$TEST_TMP/bin.saved" "$bin"

mkdir -p "$TEST_TMP/cache/release-$V-linux-$A/bin/x"
ir extra dash "$IR" install
is 1 $? "a cached release directory holding more than the binary is refused (its bin/ goes on PATH)"
like "$(cat "$TEST_TMP/extra.err")" "holds files besides bin/tflock: refusing it" "(said)"
rmdir "$TEST_TMP/cache/release-$V-linux-$A/bin/x"

# not Linux, or another architecture: exit 3 naming the version and its
# sources' pin (the caller builds that tag); an unpinned version is refused first
mkdir -p "$TEST_TMP/uname"
printf '#!/bin/sh\ncase $1 in -s) echo "${FAKE_S:-Linux}" ;; *) echo "${FAKE_M:-armv7l}" ;; esac\n' >"$TEST_TMP/uname/uname"
chmod +x "$TEST_TMP/uname/uname"
PATH=$TEST_TMP/uname:$PATH ir arm dash "$IR" plan
is 3 $? "armv7l: no binary for this machine: exit 3"
is "version=$V source=$SRCPIN" "$(tr '\n' ' ' <"$TEST_TMP/arm.out" | sed 's/ $//')" \
	"naming the newest pinned version and its sources' pin"
PATH=$TEST_TMP/uname:$PATH ir mac FAKE_S=Darwin FAKE_M=arm64 dash "$IR" plan
is 3 $? "macOS (arm64): exit 3 too, not the Linux aarch64 asset"
PATH=$TEST_TMP/uname:$PATH ir armun TFLOCK_VERSION=9.9.9 dash "$IR" plan
is 1 $? "armv7l with an unpinned version: refused (exit 1), not built"
PATH=$TEST_TMP/uname:$PATH ir riscv FAKE_M=riscv64 dash "$IR" plan
like "$(cat "$TEST_TMP/riscv.out")" "^version=$V\$" "riscv64: the newest version pinned for this architecture (not 0.0.9, which has none)"

ir mism TFLOCK_VERSION=0.0.9 dash "$IR" install
is 1 $? "a download whose checksum differs from the pin is refused (exit 1)"
like "$(cat "$TEST_TMP/mism.err")" "checksum mismatch for tflock-0.0.9-linux-$A .*not building from source instead" "(said)"
ok "nothing of it is kept in the cache" test ! -e "$TEST_TMP/cache/release-0.0.9-linux-$A"
is "" "$(find "$TEST_TMP/cache" -maxdepth 1 -name '.dl.*')" "no partial download left"

ir unpinned TFLOCK_VERSION=7.7.7 dash "$IR" install
is 1 $? "a version with no pin is refused (exit 1), never downloaded unverified"
like "$(cat "$TEST_TMP/unpinned.err")" "7\.7\.7 has no pinned checksum here \(pinned: 0\.0\.5 0\.0\.9 $V \)" "(said, naming the pinned versions)"
ir badver 'TFLOCK_VERSION=1.2.3;x' dash "$IR" plan
is 1 $? "a version that is not X.Y.Z is refused"
rm -rf "$TEST_TMP/cache"
ir http TFLOCK_RELEASE_URL=http://example.invalid/{asset} dash "$IR" install
is 1 $? "a release URL neither https nor loopback is refused"
ir closed TFLOCK_RELEASE_URL="http://127.0.0.1:9/{asset}" dash "$IR" install
is 3 $? "an unreachable server: exit 3 (the caller builds instead)"
like "$(cat "$TEST_TMP/closed.err")" "cannot download http://127\.0\.0\.1:9/tflock-$V-linux-$A: building from source instead" "(said)"
mv "$W/tflock-$V-linux-$A" "$W/gone"
ir missing dash "$IR" install
is 3 $? "an asset missing on the server (404): exit 3 too"
mv "$W/gone" "$W/tflock-$V-linux-$A"
ok "neither left a binary" test ! -e "$bin"

# GitLab's generic package registry: the job token goes to $CI_API_V4_URL only
api=http://127.0.0.1:$PORT/api/v4
ir gl CI_API_V4_URL="$api" CI_JOB_TOKEN=secret-job-token \
	TFLOCK_RELEASE_URL="$api/projects/tools%2Ftflock/packages/generic/tflock/{version}/{asset}" dash "$IR" install
is 0 $? "GitLab: installed from the generic package registry"
like "$(tail -n 1 "$TEST_TMP/requests")" "^GET /api/v4/projects/tools%2Ftflock/packages/generic/tflock/$V/tflock-$V-linux-$A token=yes" \
	"with the job token"
rm -rf "$TEST_TMP/cache"
ir gl2 CI_API_V4_URL="$api" CI_JOB_TOKEN=secret-job-token dash "$IR" install
like "$(tail -n 1 "$TEST_TMP/requests")" "^GET /v$V/.* token=no" "the job token is not sent to a URL outside \$CI_API_V4_URL"
ok_not "and never printed" grep -q secret-job-token "$TEST_TMP/gl.err" "$TEST_TMP/gl.out" "$TEST_TMP/gl2.err"
rm -rf "$TEST_TMP/cache"
ir glr CI_API_V4_URL="$api" CI_JOB_TOKEN=secret-job-token \
	TFLOCK_RELEASE_URL="$api/redirect/{version}/{asset}" dash "$IR" install
is 0 $? "GitLab: a redirect from the API (to object storage) is followed"
is "GET /api/v4/redirect/$V/tflock-$V-linux-$A token=yes|GET /tflock-$V-linux-$A token=no" \
	"$(tail -n 2 "$TEST_TMP/requests" | cut -d' ' -f1-3 | paste -sd'|')" "without the job token past the API"
rm -rf "$TEST_TMP/cache"
ir prune1 TFLOCK_PRUNE=1 dash "$IR" install
mkdir -p "$TEST_TMP/cache/release-0.0.1-linux-$A/bin" "$TEST_TMP/cache/keep"
ir prune2 TFLOCK_PRUNE=1 dash "$IR" install
ok "TFLOCK_PRUNE=1: the other releases go" test ! -e "$TEST_TMP/cache/release-0.0.1-linux-$A" -a -d "$TEST_TMP/cache/keep" -a -x "$bin"

# Alpine: busybox's sh, wget and sha256sum alone
if command -v busybox >/dev/null 2>&1; then
	mkdir -p "$TEST_TMP/bb"
	for a in sh wget sha256sum sed awk grep sort tail cut tr mkdir rm mv chmod cat uname dirname printf env; do
		ln -s "$(command -v busybox)" "$TEST_TMP/bb/$a"
	done
	rm -rf "$TEST_TMP/cache"
	PATH=$TEST_TMP/bb ir bb sh "$IR" install
	is 0 $? "busybox (sh, wget, sha256sum, as on Alpine): installed"
	is "bin=$bin" "$(cat "$TEST_TMP/bb.out")" "(bin=)"
	PATH=$TEST_TMP/bb ir bbm TFLOCK_VERSION=0.0.9 sh "$IR" install
	is 1 $? "busybox: a mismatch is refused too"
	rm -rf "$TEST_TMP/cache"
	PATH=$TEST_TMP/bb ir bbt CI_API_V4_URL="$api" CI_JOB_TOKEN=secret-job-token \
		TFLOCK_RELEASE_URL="$api/projects/tools%2Ftflock/packages/generic/tflock/{version}/{asset}" sh "$IR" install
	like "$(tail -n 1 "$TEST_TMP/requests")" "token=no" \
		"busybox wget (no curl): the job token is not sent (wget would pass it on through redirects)"
	like "$(cat "$TEST_TMP/bbt.err")" "no curl here: downloading without the job token" "(said)"
else
	for i in 1 2 3 4 5; do skip "busybox is not installed (tests/install-deps.sh installs it)"; done
fi

# ---- 2. the action ----------------------------------------------------------
ACTION=$T/ci-templates/github/action.yml
keyof() { TFLOCK_SRC=$1 TFLOCK_REF= TFLOCK_VERSION= bash "$T/ci-templates/install-tflock.sh" source 2>/dev/null | sed -n 's/^key=//p'; }
export RUNNER_TEMP=$TEST_TMP/rt GITHUB_SERVER_URL=http://127.0.0.1:$PORT
mkdir -p "$RUNNER_TEMP"
# a restored build of the action's own checkout: the fallback finds it and does not build
k=$(keyof "$T")
printf '{"actions/cache/restore@v4":{"outputs":{"cache-hit":"false"}},"actions/cache/save@v4":{}}\n' >"$TEST_TMP/fake.json"
# gh NAME JSON-INPUTS [VAR=VALUE...]: the action's steps up to the run step
gh() {
	local name=$1 inputs=$2
	shift 2
	printf '%s\n' "$inputs" >"$TEST_TMP/$name.json"
	mkdir -p "$TEST_TMP/tc-$name"
	seed_build "$TEST_TMP/tc-$name/tflock" "$k"
	env RUNNER_TOOL_CACHE="$TEST_TMP/tc-$name" GITHUB_ACTION_PATH= "$@" node "$CITOOL" gh-run --action "$ACTION" \
		--inputs "$TEST_TMP/$name.json" --fake-uses "$TEST_TMP/fake.json" --dir "$TEST_TMP/gh-$name" \
		--steps release,release-cache,release-install,release-save,source,cache,install,save \
		>"$TEST_TMP/$name.out" 2>&1
}
st() { node "$CITOOL" eval "$TEST_TMP/gh-$1/steps.json" "d => $2"; }
gh rel '{"command":"true","repository":"owner/tflock"}'
is 0 $? "action: the release path succeeds"
is "$TEST_TMP/tc-rel/tflock/release-$V-linux-$A/bin/tflock" "$(st rel 'd["release-install"].outputs.bin')" \
	"the newest pinned release is installed in the tool cache"
is "skipped skipped" "$(st rel 'd.source.outcome + " " + d.install.outcome')" "and nothing is built"
like "$(tail -n 1 "$TEST_TMP/requests")" "^GET /owner/tflock/releases/download/v$V/tflock-$V-linux-$A " \
	"downloaded from the repository's release (GITHUB_SERVER_URL/OWNER/NAME/releases/download/vX/ASSET)"
like "$(grep '^uses release-cache' "$TEST_TMP/gh-rel/log")" "\"key\":\"tflock-tflock-$V-linux-$A-$good\"" \
	"cached under a key that holds the pin"

gh mism '{"command":"true","repository":"owner/tflock","version":"0.0.9"}'
ok "action: a checksum mismatch fails the step" test "$(st mism 'd["release-install"].outcome')" = failure
is "skipped skipped" "$(st mism 'd.source.outcome + " " + d.install.outcome')" "and never builds from source instead"
like "$(cat "$TEST_TMP/mism.out")" "checksum mismatch" "(said)"

gh down '{"command":"true","repository":"owner/tflock"}' GITHUB_SERVER_URL=http://127.0.0.1:9
is 0 $? "action: an unreachable release falls back"
like "$(cat "$TEST_TMP/down.out")" "::warning title=tflock::the tflock $V release could not be downloaded: building it from source" \
	"with a warning"
is "$TEST_TMP/tc-down/tflock/$k/bin/tflock" "$(st down 'd.install.outputs.bin')" \
	"to the source build of the same version (the action's own checkout; here a cached one)"

gh src '{"command":"true","version":"source"}'
is "skipped $TEST_TMP/tc-src/tflock/$k/bin/tflock" "$(st src 'd.release.outcome + " " + d.install.outputs.bin')" \
	"version: source builds the action's own checkout"
# another version than the checkout's: the fallback builds that version's tag
srv=$TEST_TMP/git
mkdir -p "$srv/owner"
(cd "$T" && git init -q . && git add -A && git -c user.email=t@example.invalid -c user.name=t commit -qm src &&
	git tag v0.0.9 && git tag "v$V" && git clone -q --bare . "$srv/owner/tflock.git") ||
	bail "cannot make the test repository"
# tagsrc NAME [VAR=VALUE...]: install-tflock.sh source for version 0.0.9
tagsrc() {
	local name=$1
	shift
	env GITHUB_SERVER_URL="file://$srv" TFLOCK_VERSION=0.0.9 TFLOCK_REPOSITORY=owner/tflock \
		TFLOCK_FETCH_DIR="$TEST_TMP/fetched" "$@" bash "$T/ci-templates/install-tflock.sh" source \
		>"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err"
}
tagsrc tag TFLOCK_SOURCE_PIN="$SRCPIN"
is 0 $? "installer: the fallback for another version than the checkout's builds its tag"
like "$(cat "$TEST_TMP/tag.err")" "fetching v0\.0\.9 from file://$srv/owner/tflock\.git" "(fetched)"
tagsrc tagnopin TFLOCK_SOURCE_PIN=
is 1 $? "not without a pin of the tag's sources"
like "$(cat "$TEST_TMP/tagnopin.err")" "no pinned sources .*not building tag v0\.0\.9" "(said)"
(cd "$T" && echo '/* moved */' >>wrapper/main.c && git -c user.email=t@example.invalid -c user.name=t commit -qam moved &&
	git tag -f v0.0.9 >/dev/null && git push -q -f "$srv/owner/tflock.git" v0.0.9 && git reset -q --hard HEAD~1) ||
	bail "cannot move the test tag"
tagsrc tagmoved TFLOCK_SOURCE_PIN="$SRCPIN"
is 1 $? "a moved tag (other sources than the pinned ones) is not built"
like "$(cat "$TEST_TMP/tagmoved.err")" "sources of v0\.0\.9 from .* are not the pinned ones" "(said)"
tagsrc tagsrc TFLOCK_VERSION=source TFLOCK_SOURCE_PIN=
is "0 src=$T" "$? $(sed -n 's/^src=//p' "$TEST_TMP/tagsrc.out" | sed 's/^/src=/')" "TFLOCK_VERSION=source builds this tree"
rm -rf "$T/.git"
mv "$T/ci-templates/release/versions.txt" "$T/versions.saved"
gh nopin '{"command":"true","repository":"owner/tflock"}'
is "$TEST_TMP/tc-nopin/tflock/$k/bin/tflock" "$(st nopin 'd.install.outputs.bin')" "no pinned release: builds from source as before"
mv "$T/versions.saved" "$T/ci-templates/release/versions.txt"

# the whole action, run step included, against the local S3 server
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_BUCKET TFLOCK_ENDPOINT
printf '{"command":"sh -c \\"echo held >%s\\"","bucket":"%s","key":"rel/terraform.tfstate","endpoint":"%s","repository":"owner/tflock"}\n' \
	"$TEST_TMP/held" "$bucket" "$TFLOCK_TEST_S3_ENDPOINT" >"$TEST_TMP/full.json"
mkdir -p "$TEST_TMP/tc-full"
GITHUB_ACTIONS=true GITHUB_REPOSITORY=owner/infra GITHUB_RUN_ID=1 GITHUB_RUN_ATTEMPT=1 GITHUB_JOB=deploy \
	RUNNER_TOOL_CACHE=$TEST_TMP/tc-full node "$CITOOL" gh-run --action "$ACTION" --inputs "$TEST_TMP/full.json" \
	--fake-uses "$TEST_TMP/fake.json" --dir "$TEST_TMP/gh-full" >"$TEST_TMP/full.out" 2>&1
is 0 $? "action: the command ran under the lock with the released binary"
is held "$(cat "$TEST_TMP/held" 2>/dev/null)" "(the command's mark)"
is released "$(node "$CITOOL" eval "$TEST_TMP/gh-full/outputs.json" 'd => d["outcome-kind"]')" "and the lock was released"

# ---- 3. GitLab --------------------------------------------------------------
"$top_srcdir/ci-templates/release/sync-templates.sh" --check 2>"$TEST_TMP/sync.err"
is 0 $? "the templates' generated parts are in sync with install-release.sh and versions.txt"
[ -s "$TEST_TMP/sync.err" ] && diag "$(cat "$TEST_TMP/sync.err")"
"$T/ci-templates/release/sync-templates.sh" 2>/dev/null
is 0 $? "the test tree's templates take its pins"
HID=$T/ci-templates/gitlab/tflock.gitlab-ci.yml
like "$(cat "$HID")" "$good  tflock-$V-linux-$A" "the hidden job carries the pin inline"
node "$CITOOL" eval "$HID" 'd => d[".tflock"].before_script.join("\n")' >"$TEST_TMP/before.sh"
# glj NAME [VAR=VALUE...]: the hidden job's before_script in a job directory
glj() {
	local name=$1
	shift
	mkdir -p "$TEST_TMP/job-$name"
	(cd "$TEST_TMP/job-$name" && env CI_SERVER_URL=http://127.0.0.1:9 CI_API_V4_URL="$api" CI_JOB_TOKEN=tok \
		TFLOCK_PROJECT=tools/tflock "$@" sh -e "$TEST_TMP/before.sh") >"$TEST_TMP/$name.out" 2>&1
}
glj gl
is 0 $? "GitLab: before_script installs the release from TFLOCK_PROJECT's package registry"
like "$(cat "$TEST_TMP/gl.out")" "tflock $V" "and runs it (tflock --version)"
is "$TEST_TMP/job-gl/.tflock-cache/release-$V-linux-$A/bin/tflock" "$(cat "$TEST_TMP/job-gl/.tflock-cache/.job-bin.0")" \
	"after_script's binary is the release"
glj glm TFLOCK_VERSION=0.0.9
ok "a mismatch fails the job" test $? != 0
like "$(cat "$TEST_TMP/glm.out")" "was refused \(above\): not building it from source instead" "without building"
glj gld CI_API_V4_URL=http://127.0.0.1:9/api/v4
ok "an unreachable release with no source to build fails the job" test $? != 0
like "$(cat "$TEST_TMP/gld.out")" "building v$V from source" "after trying the fallback"
like "$(cat "$TEST_TMP/gld.out")" "cannot fetch v$V from http://127\.0\.0\.1:9/tools/tflock\.git" \
	"from TFLOCK_PROJECT's repository, at the version's tag"
# the fallback with a repository: the tag's sources are the pinned ones, and
# their build is found in the job's cache
mkdir -p "$TEST_TMP/job-glf/.tflock-cache"
seed_build "$TEST_TMP/job-glf/.tflock-cache" "$k"
glj glf CI_API_V4_URL=http://127.0.0.1:9/api/v4 TFLOCK_REPO="file://$srv/owner/tflock.git"
is 0 $? "GitLab: an unreachable release falls back to its tag, whose sources are the pinned ones"
is "$TEST_TMP/job-glf/.tflock-cache/$k/bin/tflock" "$(cat "$TEST_TMP/job-glf/.tflock-cache/.job-bin.0" 2>/dev/null)" \
	"and uses that build"
cp "$T/wrapper/main.c" "$TEST_TMP/main.c.saved"
(cd "$T" && echo '/* moved */' >>wrapper/main.c && git init -q . && git add -A &&
	git -c user.email=t@example.invalid -c user.name=t commit -qm moved &&
	git push -q -f "$srv/owner/tflock.git" "HEAD:refs/tags/v$V") || bail "cannot move the test tag"
rm -rf "$T/.git"
cp "$TEST_TMP/main.c.saved" "$T/wrapper/main.c"
mkdir -p "$TEST_TMP/job-glm2/.tflock-cache"
seed_build "$TEST_TMP/job-glm2/.tflock-cache" "$k"
glj glm2 CI_API_V4_URL=http://127.0.0.1:9/api/v4 TFLOCK_REPO="file://$srv/owner/tflock.git"
ok "a moved tag (other sources) fails the job" test $? != 0
like "$(cat "$TEST_TMP/glm2.out")" "the sources of v$V are not the pinned ones" "(said)"
ok "before anything of it ran" test ! -e "$TEST_TMP/job-glm2/.tflock-cache/.job-bin.0"

# after_script runs what before_script chose, never a cached binary it refused
mkdir -p "$TEST_TMP/job-gla/.tflock-cache/release-$V-linux-$A/bin"
printf '#!/bin/sh\necho ran >>"%s"\n' "$TEST_TMP/refused-ran" >"$TEST_TMP/job-gla/.tflock-cache/release-$V-linux-$A/bin/tflock"
chmod +x "$TEST_TMP/job-gla/.tflock-cache/release-$V-linux-$A/bin/tflock"
glj gla
ok "a tampered cached release fails before_script" test $? != 0
node "$CITOOL" eval "$HID" 'd => d[".tflock"].after_script.join("\n")' >"$TEST_TMP/after.sh"
(cd "$TEST_TMP/job-gla" && sh "$TEST_TMP/after.sh") >"$TEST_TMP/gla-after.out" 2>&1
ok "and after_script does not run it" test ! -e "$TEST_TMP/refused-ran"

# the component: its inputs mirror the action's; its job is the hidden job's scripts
COMP=$T/templates/tflock.yml
same=$(node -e '
	const Y = require("yaml"), fs = require("fs");
	const h = Y.parse(fs.readFileSync(process.argv[1], "utf8"))[".tflock"];
	const c = Y.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8"))[1].toJS()["$[[ inputs.job-name ]]"];
	console.log(JSON.stringify([h.before_script, h.after_script]) === JSON.stringify([c.before_script, c.after_script]));
' "$HID" "$COMP")
is true "$same" "component: its before_script and after_script are the hidden job's"
missing=$(node -e '
	const Y = require("yaml"), fs = require("fs");
	const a = Object.keys(Y.parse(fs.readFileSync(process.argv[1], "utf8")).inputs);
	const c = Object.keys(Y.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8"))[0].toJS().spec.inputs);
	console.log(a.filter((k) => !c.includes(k) && !["github-token", "repository"].includes(k)).join(" "));
' "$ACTION" "$COMP")
is "" "$missing" "component: every input of the action (but github-token, repository) is an input"
printf '{"project":"tools/tflock","command":"sh -c \\"echo held >%s\\"","bucket":"%s","key":"gl/terraform.tfstate","endpoint":"%s"}\n' \
	"$TEST_TMP/glheld" "$bucket" "$TFLOCK_TEST_S3_ENDPOINT" >"$TEST_TMP/comp-in.json"
node "$CITOOL" component "$COMP" "$TEST_TMP/comp-in.json" >"$TEST_TMP/comp.yml" 2>"$TEST_TMP/comp.err"
is 0 $? "component: interpolated as GitLab would"
node "$CITOOL" eval "$TEST_TMP/comp.yml" 'd => [...d.tflock.before_script, ...d.tflock.script].join("\n")' >"$TEST_TMP/comp.sh"
mkdir -p "$TEST_TMP/job-comp"
(cd "$TEST_TMP/job-comp" && env CI_SERVER_URL=http://127.0.0.1:9 CI_API_V4_URL="$api" CI_JOB_TOKEN=tok \
	CI_PROJECT_DIR="$TEST_TMP/job-comp" TFLOCK_PROJECT=tools/tflock TF_ROOT=. sh -e "$TEST_TMP/comp.sh") \
	>"$TEST_TMP/comp.out" 2>&1
is 0 $? "component: its job installs the release and runs the command under the lock"
is held "$(cat "$TEST_TMP/glheld" 2>/dev/null)" "(the command's mark)"
is 404 "$(s3_status GET "/$bucket/gl/terraform.tfstate.tflock")" "and the lock is gone after"

# ---- 4. the release recipe --------------------------------------------------
P=$T/ci-templates/release/pins.sh
D=$TEST_TMP/dist
mkdir -p "$D"
printf 'binary 1.2.3 x86\n' >"$D/tflock-1.2.3-linux-x86_64"
printf 'binary 1.2.3 arm\n' >"$D/tflock-1.2.3-linux-aarch64"
(cd "$D" && for f in tflock-1.2.3-linux-*; do sha256sum "$f" >"$f.sha256"; done)
"$P" verify 1.2.3 "$D" 2>"$TEST_TMP/pv0.err"
is 1 $? "pins verify: a version not pinned yet stops the release"
like "$(cat "$TEST_TMP/pv0.err")" "tflock 1\.2\.3 is not pinned in versions.txt: pin it" "(said)"
"$P" pin 1.2.3 "$D" 2>"$TEST_TMP/pin.err"
is 0 $? "pins pin: pins a build"
is 2 "$(grep -c -- '-1\.2\.3-linux-' "$T/ci-templates/release/versions.txt")" "both architectures"
ok "keeping the other versions' pins" grep -q "^$good  tflock-$V-linux-$A\$" "$T/ci-templates/release/versions.txt"
"$T/ci-templates/release/sync-templates.sh" --check 2>/dev/null
is 0 $? "and writes the GitLab templates"
ir plan3 dash "$IR" plan
like "$(cat "$TEST_TMP/plan3.out")" "^version=1\.2\.3" "1.2.3 is now the newest pinned version"
"$P" verify 1.2.3 "$D" 2>"$TEST_TMP/pv1.err"
is 0 $? "pins verify: the same binaries pass"
printf 'rebuilt differently\n' >"$D/tflock-1.2.3-linux-aarch64"
(cd "$D" && sha256sum tflock-1.2.3-linux-aarch64 >tflock-1.2.3-linux-aarch64.sha256)
"$P" verify 1.2.3 "$D" 2>"$TEST_TMP/pv2.err"
is 1 $? "a binary that is not the pinned one stops the release"
like "$(cat "$TEST_TMP/pv2.err")" "not the pinned ones: not publishing them" "(said)"
rm "$D"/tflock-1.2.3-linux-aarch64*
"$P" verify 1.2.3 "$D" 2>/dev/null
is 1 $? "so does a pinned architecture missing from the build"
printf 'x\n' >"$D/tflock-1.2.3-linux-x86_64.sha256"
"$P" verify 1.2.3 "$D" 2>"$TEST_TMP/pv3.err"
like "$(cat "$TEST_TMP/pv3.err")" "does not match tflock-1\.2\.3-linux-x86_64" "and a .sha256 file that is not its binary's"
"$P" pin 1.2.3.4 "$D" 2>/dev/null
is 1 $? "a version that is not X.Y.Z is refused"

GR=$top_srcdir/ci-templates/release/github-release.yml
"$AV" "$GR" >"$TEST_TMP/av.out" 2>&1
is 0 $? "the GitHub release workflow passes action-validator"
[ -s "$TEST_TMP/av.out" ] && diag "$(head -n 20 "$TEST_TMP/av.out")"
is "portable deb publish" "$(node "$CITOOL" eval "$GR" 'd => Object.keys(d.jobs).join(" ")')" \
	"it builds the binaries and the package, then publishes"
like "$(node "$CITOOL" eval "$GR" 'd => d.jobs.publish.steps.map(s => (s.run || s.uses || "").split("\n")[0]).join("|")')" \
	'download-artifact@v4\|ci-templates/release/pins\.sh verify [^|]* dist\|cd dist' \
	"publishing, once every binary is there, only binaries that match their pins"
is "x86_64 aarch64" "$(node "$CITOOL" eval "$GR" 'd => d.jobs.portable.strategy.matrix.include.map(m => m.arch).join(" ")')" \
	"for x86_64 and aarch64"
GLR=$top_srcdir/ci-templates/release/gitlab-release.gitlab-ci.yml
like "$(node "$CITOOL" eval "$GLR" 'd => d["release:upload"].script.join("\n")')" \
	'/projects/\$CI_PROJECT_ID/packages/generic/tflock/\$\{CI_COMMIT_TAG#v\}/\$f' \
	"the GitLab release uploads to the generic package registry, tflock/VERSION/FILE"
like "$(node "$CITOOL" eval "$GLR" 'd => d["release:upload"].script.join("|")')" \
	'pins\.sh verify [^|]* dist\|cd dist' "after checking every binary against its pin"
like "$(cat "$HID")" 'packages/generic/tflock/\{version\}/\{asset\}' "where the templates download from"
is "release:portable:x86_64 release:portable:aarch64 release:deb" \
	"$(node "$CITOOL" eval "$GLR" 'd => d["release:upload"].needs.join(" ")')" "after both binaries and the package"
ok "and creates the release (which versions the catalog component)" \
	test "$(node "$CITOOL" eval "$GLR" 'd => d["release:create"].release.tag_name')" = '$CI_COMMIT_TAG'
done_testing
