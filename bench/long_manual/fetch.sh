#!/usr/bin/env bash
# Fetch the pinned WSJT-X User Guide (Debian package wsjtx-doc) into a directory,
# verify the package's SHA-256, extract it, and print the path of the manual's HTML file.
#
# Usage: bash bench/long_manual/fetch.sh [DEST]   (default: ~/.cache/store-assistant/long-manual)
# Needs apt-get with Debian bookworm sources (run `apt-get update` once first).
set -euo pipefail

PKG="wsjtx-doc"
VER="2.6.1+repack-1"
DEB="wsjtx-doc_2.6.1+repack-1_all.deb"
SHA256="2fd5c687f4218f419ed183baf493effc5b4c90f7ccc092ec6dc6cc7cd871500c"
MANUAL_REL="usr/share/doc/wsjtx/wsjtx-main-2.6.1.html"

DEST="${1:-$HOME/.cache/store-assistant/long-manual}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

if [ ! -f "$DEST/$DEB" ]; then
    # apt-get download writes into the current directory.
    if ! (cd "$DEST" && apt-get download "$PKG=$VER" >&2); then
        echo "fetch.sh: could not download $PKG=$VER with apt-get (run 'apt-get update' first;" \
             "the pinned version is in Debian 12 bookworm main)" >&2
        exit 2
    fi
fi

actual="$(sha256sum "$DEST/$DEB" | cut -d' ' -f1)"
if [ "$actual" != "$SHA256" ]; then
    echo "fetch.sh: SHA-256 MISMATCH for $DEST/$DEB" >&2
    echo "  expected $SHA256" >&2
    echo "  got      $actual" >&2
    echo "  (delete the file and retry; if it persists the archive changed: do not use it)" >&2
    exit 1
fi

EXTRACT="$DEST/extracted"
if [ ! -f "$EXTRACT/$MANUAL_REL" ]; then
    rm -rf "$EXTRACT"
    mkdir -p "$EXTRACT"
    dpkg-deb -x "$DEST/$DEB" "$EXTRACT"
fi
if [ ! -f "$EXTRACT/$MANUAL_REL" ]; then
    echo "fetch.sh: manual not found at $EXTRACT/$MANUAL_REL after extraction" >&2
    exit 3
fi
echo "$EXTRACT/$MANUAL_REL"
