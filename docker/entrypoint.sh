#!/bin/sh
# Entrypoint of the kubric-gen images (run under tini, which reaps children and forwards signals).
#
#   IMAGE render movi_a --seed 3 --output /out/seed_3   -> kubric-gen render ...
#   IMAGE --help                                         -> kubric-gen --help
#   IMAGE dask worker tcp://scheduler:8786               -> any program on the PATH runs as is
#   IMAGE --id=1 --provision_endpoint=... (from a Beam runner), IMAGE --worker_pool
#                                                        -> Beam's SDK harness boot, when the
#                                                           image has it (the `beam` target)
set -eu

beam_boot=/opt/apache/beam/boot

case "${1:-}" in
    -id|-id=*|--id|--id=*|-worker_pool|-worker_pool=*|--worker_pool|--worker_pool=*|\
    -*_endpoint|-*_endpoint=*)
        if [ -x "$beam_boot" ]; then
            exec "$beam_boot" "$@"
        fi
        echo "kubric-gen image: the arguments ($*) are a Beam runner's, but this image has no" \
             "Beam SDK harness ($beam_boot): build docker/Dockerfile with --target beam" >&2
        exit 2
        ;;
    "" | -*)
        exec kubric-gen "$@"
        ;;
esac

if command -v "$1" >/dev/null 2>&1; then
    exec "$@"
fi
exec kubric-gen "$@"
