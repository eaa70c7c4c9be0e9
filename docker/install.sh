#!/usr/bin/env bash
# Install kubric_gen with pip. The one install recipe shared by the Makefile (and so CI), the
# README and the container images (docker/Dockerfile runs it), so an image holds what a user's
# `pip install` gives.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: docker/install.sh [OPTIONS] [SOURCE] [-- PIP_ARGS...]

Install kubric_gen from SOURCE (a source tree or a wheel; default: the repository that holds
this script) with pip, into the virtual environment --venv DIR or else into --python's
environment.

  --venv DIR             install into the virtual environment DIR (created if missing)
  --python PYTHON        the Python to use (with --venv: the one that creates DIR);
                         default: python3.11 when found, else python3
  --extras LIST          extras, comma-separated: all, dev, beam, dask, tfds, torch, docs (default: none)
  --editable             editable (development) install: pip install -e
  --beam-version V       also require apache-beam==V (Beam workers must run the driver's Beam)
  --wheelhouse DIR       take wheels from DIR (--find-links), if DIR exists; a speed-up only.
                         pip first installs from DIR alone (--no-index: no request to the
                         index, whose retries cost minutes where the network is slow or
                         filtered); if DIR lacks something, it installs again with the index
  --packages "A B"       more packages to install alongside, whitespace-separated
                         (e.g. "gcsfs s3fs"; the same as giving them after --)
  --upgrade-pip          upgrade pip in the target environment first
  --deps-only            install only kubric_gen's requirements (SOURCE's setup.cfg, with the
                         extras), not kubric_gen: an image installs them in a layer of their
                         own, which a change to the code alone then reuses
  --no-deps              install kubric_gen alone (its requirements installed before, e.g. by
                         --deps-only); pip check then proves nothing is missing
  --fill-wheelhouse DIR  do not install: build or download into DIR wheels of everything the
                         same command would install (plus pip, setuptools and wheel), to be
                         used later with --wheelhouse DIR (e.g. bind-mounted into an image build)
  -q, --quiet            quieter pip
  -h, --help             this text

Arguments after "--" go to pip unchanged, e.g. more packages: -- gcsfs s3fs.
Examples:
  docker/install.sh --venv .venv --editable --extras all          # development (make test)
  docker/install.sh --venv ~/kg --extras dask                     # a user's install
  docker/install.sh --venv /opt/kubric-gen --beam-version 2.77.0 --wheelhouse /srv /src
EOF
}

die() {
    echo "install.sh: error: $*" >&2
    exit 2
}

run() {
    echo "+ $*" >&2
    "$@"
}

# pip install ARGS: from the wheelhouse alone first when there is one (pip resolves before it
# installs, so a wheel it lacks fails that try with nothing installed), else or then with the index.
pip_install() {
    if [ -n "${PIP_FIND_LINKS:-}" ] && [ -z "${PIP_NO_INDEX:-}" ]; then
        echo "+ $python -m pip install --no-index $*" >&2
        if offline=$("$python" -m pip install --no-index "$@" 2>&1); then
            [ -z "$offline" ] || printf '%s\n' "$offline"
            return 0
        fi
        echo "install.sh: the wheelhouse lacks some of it ($(printf '%s\n' "$offline" | grep -m1 'ERROR' || true));" \
            "asking the index too" >&2
    fi
    run "$python" -m pip install "$@"
}

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=""
python=""
extras=""
editable=0
beam_version=""
wheelhouse=""
upgrade_pip=0
fill=""
deps="all"
quiet=()
source=""
packages=()
pip_args=()

while [ $# -gt 0 ]; do
    case "$1" in
        --venv) venv=${2:?--venv needs a directory}; shift 2 ;;
        --python) python=${2:?--python needs an interpreter}; shift 2 ;;
        --extras) extras=${2?--extras needs a list}; shift 2 ;;
        --editable) editable=1; shift ;;
        --beam-version) beam_version=${2:?--beam-version needs a version}; shift 2 ;;
        --wheelhouse) wheelhouse=${2:?--wheelhouse needs a directory}; shift 2 ;;
        --packages) read -ra more <<< "${2?--packages needs a list}"; packages+=("${more[@]}"); shift 2 ;;
        --upgrade-pip) upgrade_pip=1; shift ;;
        --deps-only) deps="only"; shift ;;
        --no-deps) deps="none"; shift ;;
        --fill-wheelhouse) fill=${2:?--fill-wheelhouse needs a directory}; shift 2 ;;
        -q|--quiet) quiet=(--quiet); shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; pip_args=("$@"); break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [ -z "$source" ] || die "more than one SOURCE: $source, $1"; source=$1; shift ;;
    esac
done

source=${source:-$source_dir}
[ -e "$source" ] || die "SOURCE $source does not exist"
if [ -z "$python" ]; then
    if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi

# pip reads PIP_* variables; a container build passes some as build arguments, which arrive
# empty when not given. An empty or unreadable setting would break pip, so drop it.
for name in PIP_CERT PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_NO_INDEX PIP_TRUSTED_HOST; do
    if [ -z "${!name:-}" ]; then unset "$name"; fi
done
if [ -n "${PIP_CERT:-}" ] && [ ! -r "$PIP_CERT" ]; then
    echo "install.sh: PIP_CERT=$PIP_CERT is not readable; using the default CA bundle" >&2
    unset PIP_CERT
fi
if [ -n "$wheelhouse" ]; then
    if [ -d "$wheelhouse" ] && [ -n "$(ls -A "$wheelhouse")" ]; then
        export PIP_FIND_LINKS="$wheelhouse${PIP_FIND_LINKS:+ $PIP_FIND_LINKS}"
        echo "install.sh: taking wheels from $wheelhouse when it has them" >&2
    else
        echo "install.sh: no wheels in $wheelhouse; pip downloads what it needs" >&2
    fi
fi

if [ -n "$venv" ]; then
    if [ ! -x "$venv/bin/python" ]; then
        run "$python" -m venv "$venv"
    fi
    python="$venv/bin/python"
fi
command -v "$python" >/dev/null 2>&1 || die "no Python $python (give --python)"

target="$source"
if [ -n "$extras" ]; then target="${source}[${extras}]"; fi
requirements=("$target")
if [ "$deps" = only ]; then
    [ -f "$source/setup.cfg" ] || die "--deps-only needs a source tree with setup.cfg, not $source"
    # setup.cfg's install_requires and the extras' requirements, as pip would read them.
    listed=$("$python" - "$source/setup.cfg" "$extras" <<'EOF'
import configparser
import sys

cfg = configparser.ConfigParser()
cfg.read(sys.argv[1])
lines = cfg["options"]["install_requires"].splitlines()
for extra in filter(None, sys.argv[2].split(",")):
    if extra not in cfg["options.extras_require"]:
        sys.exit(f"install.sh: error: no extra {extra!r} in {sys.argv[1]}")
    lines += cfg["options.extras_require"][extra].splitlines()
print("\n".join(sorted({line.strip() for line in lines if line.strip() and not line.strip().startswith("#")})))
EOF
) || exit 2
    mapfile -t requirements <<< "$listed"
fi
if [ -n "$beam_version" ]; then requirements+=("apache-beam==$beam_version"); fi
requirements+=("${packages[@]}")

if [ -n "$fill" ] && [ "$deps" != all ]; then die "--fill-wheelhouse takes everything: no --deps-only or --no-deps"; fi
if [ -n "$fill" ]; then
    mkdir -p "$fill"
    # pip wheel builds SOURCE in place; remove the build/ folder that leaves, unless it was there.
    own_build=""
    if [ -d "$source" ] && [ ! -e "$source/build" ]; then own_build="$source/build"; fi
    # setuptools and wheel: the build backend that pyproject.toml names, for building SOURCE.
    run "$python" -m pip wheel "${quiet[@]}" --wheel-dir "$fill" "${requirements[@]}" \
        pip "setuptools>=68" wheel "${pip_args[@]}"
    # kubric_gen itself is always installed from SOURCE, never from the wheelhouse.
    rm -f "$fill"/kubric_gen-*.whl
    if [ -n "$own_build" ]; then rm -rf "$own_build"; fi
    echo "install.sh: $(find "$fill" -name '*.whl' | wc -l) wheels in $fill" >&2
    exit 0
fi

if [ "$upgrade_pip" = 1 ]; then
    pip_install "${quiet[@]}" --upgrade pip
fi
if [ "$editable" = 1 ]; then
    [ "$deps" = all ] || die "--editable installs everything: no --deps-only or --no-deps"
    requirements=(--editable "${requirements[@]}")
fi
if [ "$deps" = none ]; then
    pip_install "${quiet[@]}" --no-deps "${requirements[@]}" "${pip_args[@]}"
    # pip check, but for its platform-tag check: bpy's wheel records the tag cp39 for a cp311 build
    if ! checked=$("$python" -m pip check 2>&1); then
        problems=$(printf '%s\n' "$checked" | grep -v ' is not supported on this platform$' || true)
        if [ -n "$problems" ]; then
            printf '%s\n' "$problems" >&2
            die "kubric_gen's requirements are missing or conflict (pip check); install them first (--deps-only)"
        fi
    fi
else
    pip_install "${quiet[@]}" "${requirements[@]}" "${pip_args[@]}"
fi
