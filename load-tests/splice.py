"""Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in a Markdown file
with the contents of another file, so generated tables live inside hand-written prose.
Usage: splice.py FILE NAME TABLE_FILE"""
import sys

path, name, table_path = sys.argv[1:4]
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
text = open(path).read()
table = open(table_path).read().strip()
if begin not in text or end not in text:
    sys.exit(f"splice: {path} lacks the {begin} ... {end} markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(f"{head}{begin}\n{table}\n{end}{tail}")
