"""Benchmark: ingesting about 300 pages of real PDF manuals, the way a user brings their own.

The Network UPS Tools guides (6 PDFs, 296 pages, GPL-2+, Debian's nut-doc 2.8.0-7, fetched and
hash-checked by `bench/long_manual/fetch.sh --nut-pdf`) are ingested with the store's policies by
the installed command into a scratch data folder, cold (a new process: the embedding model is
loaded too). Measured: wall time and the process's peak memory.

    .venv/bin/python bench/ingest_pdf.py [--folder DIR]

Writes bench/results/ingest-pdf.json and .md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from store_assistant.evaluation.runner import source_commit
from store_assistant.files import write_all_atomic

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def fetch() -> Path:
    out = subprocess.run(["bash", str(HERE / "long_manual" / "fetch.sh"), "--nut-pdf"],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", type=Path, help="PDFs to ingest (default: the NUT guides)")
    args = parser.parse_args()
    folder = args.folder or fetch()
    from pypdf import PdfReader

    pdfs = sorted(folder.glob("*.pdf"))
    pages = sum(len(PdfReader(pdf).pages) for pdf in pdfs)
    command = Path(sys.executable).with_name("store-assistant")
    with tempfile.TemporaryDirectory(prefix="sa-ingest-") as data:
        started = time.perf_counter()
        out = subprocess.run([str(command), "ingest", "--manuals", str(folder),
                              "--data-dir", data], capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"ingest failed:\n{out.stderr[-2000:]}")
    summary = next(line for line in (out.stdout + out.stderr).splitlines()
                   if line.startswith("knowledge:"))
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "commit": source_commit(), "command": "python bench/ingest_pdf.py",
               "files": [pdf.name for pdf in pdfs], "pages": pages,
               "chunks": int(summary.split(";")[1].split()[0]), "seconds": round(seconds, 1),
               # ru_maxrss is in KiB on Linux; the only child is the ingest.
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}
    md = [f"# Ingesting PDF manuals ({results['when']}, commit "
          f"{(results['commit'] or 'unknown')[:12]})", "",
          f"`{results['command']}`: {len(pdfs)} PDFs of the Network UPS Tools documentation "
          f"({pages} pages; Debian nut-doc 2.8.0-7) and the store's policies, ingested cold by "
          f"`store-assistant ingest` into a new data folder: **{results['chunks']} chunks in "
          f"{results['seconds']} s**, peak memory {results['peak_rss_mb']} MB."]
    write_all_atomic(RESULTS, {"ingest-pdf.json": json.dumps(results, indent=1) + "\n",
                               "ingest-pdf.md": "\n".join(md) + "\n"})
    print("\n".join(md))


if __name__ == "__main__":
    main()
