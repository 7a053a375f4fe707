# Sourced by .ci/sanitize, .ci/valgrind and .ci/no-openmp: a build of fastloss
# in a throwaway copy of the source tree and a throwaway venv, so it never
# touches the installed fastloss or the repo's build/.
#
#   work_dir NAME DIR_VAR    WORK: $DIR_VAR if set (reused), else a new
#                            /tmp/fastloss-NAME.* removed on exit unless KEEP=1
#   copy_sources             $WORK/src: the tracked and new (not ignored) files,
#                            so no stale objects or generated kernels are reused
#   build_in_venv VAR=V ...  $WORK/venv with fastloss built from $WORK/src under
#                            those environment settings; sets VPY
# Callers run the tests from $WORK/src with `"$VPY" -P -m pytest`: -P keeps
# the uncompiled source copy off sys.path, so the venv's build is imported.
#
# The venv has no system site-packages: it installs what the build and the
# tests need itself (build-system.requires, the runtime dependencies and the
# test extra, read from pyproject.toml by .ci/requirements.py), so a new
# machine whose image has an old setuptools (65.5 predates the SPDX license
# field) builds exactly as pyproject.toml asks.  pip's cache makes the second
# and third such venv of a CI run cheap.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

work_dir() {
    local name="$1" reuse="${!2:-}"
    WORK="${reuse:-$(mktemp -d "/tmp/fastloss-$name.XXXXXX")}"
    if [[ -z "$reuse" && -z "${KEEP:-}" ]]; then
        trap 'rm -rf "$WORK"' EXIT
    fi
    echo "$name: work directory $WORK"
}

copy_sources() {
    rm -rf "$WORK/src"
    mkdir -p "$WORK/src"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
        | tar --null -T - -cf -) | tar -C "$WORK/src" -xf -
}

build_in_venv() {
    if [[ ! -x "$WORK/venv/bin/python" ]]; then
        "$PY" -m venv "$WORK/venv"
        local reqs
        mapfile -t reqs < <("$PY" "$ROOT/.ci/requirements.py" build runtime test)
        "$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check "${reqs[@]}"
    fi
    VPY="$WORK/venv/bin/python"
    # A work directory shared by two scripts of one CI run (the same
    # *_DIR) builds once: the settings, sorted, and a hash of the sources
    # stamp the build, and an identical stamp skips it.
    local stamp start
    stamp="$(printf '%s\n' "$@" "FASTLOSS_ISAS=${FASTLOSS_ISAS:-}" | sort | tr '\n' ' ')$(cd "$WORK/src" \
        && find . -path ./build -prune -o -type f -print0 | sort -z | xargs -0 cat | cksum)"
    if [[ -f "$WORK/build.stamp" && "$(cat "$WORK/build.stamp")" == "$stamp" ]]; then
        echo "build ($*): reusing the build in $WORK"
        return
    fi
    rm -f "$WORK/build.stamp"
    start=$(date +%s)
    (cd "$WORK/src" && env "$@" "$VPY" -m pip install --no-build-isolation --no-deps \
        --disable-pip-version-check --force-reinstall -q .)
    echo "$stamp" > "$WORK/build.stamp"
    echo "build ($*) took $(( $(date +%s) - start )) s"
}
