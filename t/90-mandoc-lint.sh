#!/bin/sh
# 90-mandoc-lint.sh - every man page in man/ passes mandoc -T lint -W warning.
# One TAP test point per page; skipped when there are no pages or no mandoc.

mandir=${srcdir:-.}/man
pages=
for f in "$mandir"/*.[1-9]; do
	test -f "$f" && pages="$pages $f"
done

if test -z "$pages"; then
	echo "1..0 # SKIP no man pages in man/ yet"
	exit 0
fi
if ! command -v mandoc >/dev/null 2>&1; then
	echo "1..0 # SKIP mandoc not installed (apt-get install mandoc)"
	exit 0
fi

set -- $pages
echo "1..$#"
n=0
for f; do
	n=$((n + 1))
	if out=$(mandoc -T lint -W warning "$f" 2>&1); then
		echo "ok $n - ${f##*/}"
	else
		echo "not ok $n - ${f##*/}"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done
exit 0
