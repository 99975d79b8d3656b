#!/usr/bin/env bash
# Fetch a pinned Debian documentation package into a directory, verify its SHA-256, extract it,
# and print the path of its manual:
#   wsjtx (default)  the WSJT-X User Guide's HTML file (wsjtx-doc), for run.py and answers.py
#   nut-pdf          the folder of Network UPS Tools PDF guides (nut-doc, 6 files, 296 pages),
#                    for bench/ingest_pdf.py
#
# Usage: bash bench/long_manual/fetch.sh [--nut-pdf] [DEST]
#        (default DEST: ~/.cache/store-assistant/long-manual)
# Needs apt-get with Debian bookworm sources (run `apt-get update` once first).
set -euo pipefail

if [ "${1:-}" = "--nut-pdf" ]; then
    shift
    PKG="nut-doc"
    VER="2.8.0-7"
    DEB="nut-doc_2.8.0-7_all.deb"
    SHA256="d9b7ad56a6635a973a3b92cdb979755d5595264bcd0f5399886351cc9b994542"
    MANUAL_REL="usr/share/doc/nut-doc/pdf"
    EXTRACTED="extracted-nut-doc"
else
    PKG="wsjtx-doc"
    VER="2.6.1+repack-1"
    DEB="wsjtx-doc_2.6.1+repack-1_all.deb"
    SHA256="2fd5c687f4218f419ed183baf493effc5b4c90f7ccc092ec6dc6cc7cd871500c"
    MANUAL_REL="usr/share/doc/wsjtx/wsjtx-main-2.6.1.html"
    EXTRACTED="extracted"
fi

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

EXTRACT="$DEST/$EXTRACTED"
if [ ! -e "$EXTRACT/$MANUAL_REL" ]; then
    rm -rf "$EXTRACT"
    mkdir -p "$EXTRACT"
    dpkg-deb -x "$DEST/$DEB" "$EXTRACT"
fi
if [ ! -e "$EXTRACT/$MANUAL_REL" ]; then
    echo "fetch.sh: manual not found at $EXTRACT/$MANUAL_REL after extraction" >&2
    exit 3
fi
echo "$EXTRACT/$MANUAL_REL"
