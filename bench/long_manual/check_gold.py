#!/usr/bin/env python3
"""Check that every gold heading path in questions.jsonl exists in the manual.

Standard library only. Lists the h2-h4 heading paths of the manual's HTML file(s)
(h2 > h3 > h4, i.e. below the document title h1) and reports gold paths that are missing.

Usage: python3 check_gold.py [MANUAL_HTML_OR_DIR] [--list]
Default manual location: what fetch.sh prints for ~/.cache/store-assistant/long-manual.
"""
import json
import os
import re
import sys
from html.parser import HTMLParser

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.expanduser(
    "~/.cache/store-assistant/long-manual/extracted/usr/share/doc/wsjtx/wsjtx-main-2.6.1.html")
LEVELS = {"h2": 2, "h3": 3, "h4": 4}


class HeadingPaths(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = {}          # level -> heading text
        self.level = None        # level of the heading being read, or None
        self.buf = []
        self.paths = []

    def handle_starttag(self, tag, attrs):
        if tag in LEVELS:
            self.level = LEVELS[tag]
            self.buf = []

    def handle_endtag(self, tag):
        if tag in LEVELS and self.level == LEVELS[tag]:
            text = re.sub(r"\s+", " ", "".join(self.buf)).strip()
            lvl = self.level
            self.stack[lvl] = text
            for deeper in [k for k in self.stack if k > lvl]:
                del self.stack[deeper]
            if all(k in self.stack for k in range(2, lvl)):
                self.paths.append(" > ".join(self.stack[k] for k in range(2, lvl + 1)))
            self.level = None

    def handle_data(self, data):
        if self.level is not None:
            self.buf.append(data)


def heading_paths(path):
    p = HeadingPaths()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p.paths


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    target = args[0] if args else DEFAULT
    files = ([os.path.join(target, n) for n in sorted(os.listdir(target)) if n.endswith((".html", ".htm"))]
             if os.path.isdir(target) else [target])
    by_file = {os.path.basename(f): heading_paths(f) for f in files}
    if "--list" in argv:
        for name, paths in by_file.items():
            for p in paths:
                print(f"{name}\t{p}")
    all_paths = {p for paths in by_file.values() for p in paths}
    missing, ids, n = [], set(), 0
    with open(os.path.join(HERE, "questions.jsonl"), encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            q = json.loads(line)
            n += 1
            if q["id"] in ids:
                print(f"duplicate id {q['id']} (line {lineno})")
                missing.append(q["id"])
            ids.add(q["id"])
            for g in q["gold"]:
                pool = set(by_file.get(q["page"], [])) if "page" in q else all_paths
                if g not in pool:
                    missing.append(g)
                    print(f"{q['id']}: missing gold path {g!r}")
    print(f"{sum(len(v) for v in by_file.values())} heading paths in {len(files)} file(s); "
          f"{n} questions; {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
