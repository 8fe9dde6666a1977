#!/bin/sh
# `make demo` as the README tells it, unattended: start it, run the curl line it prints, and see
# it report that Bob received the kick; then Ctrl-C (SIGINT) stops it. CI's Debian 13 leg runs it.
set -eu
out=$(mktemp)
demo=""
finish() {
	if [ -n "$demo" ] && kill -0 "$demo" 2>/dev/null; then
		kill -INT "$demo" 2>/dev/null || true
		wait "$demo" 2>/dev/null || true
	fi
	rm -f "$out"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# In its own session, so that SIGINT reaches make and the demo only; a command started with & has
# SIGINT ignored, which Python would inherit (no KeyboardInterrupt): env restores it.
PYTHONUNBUFFERED=1 env --default-signal=INT setsid make --no-print-directory demo >"$out" 2>&1 &
demo=$!
wait_for() { # PATTERN SECONDS
	n=0
	until grep -q "$1" "$out"; do
		n=$((n + 1))
		if [ "$n" -gt $(($2 * 10)) ] || ! kill -0 "$demo" 2>/dev/null; then
			cat "$out" >&2
			echo "demo-check: no \"$1\" from make demo" >&2
			exit 1
		fi
		sleep 0.1
	done
}
wait_for '^  curl ' 600
line=$(sed -n 's/^  \(curl .*\)$/\1/p' "$out" | head -n 1)
echo "$line"
sh -c "$line" 2>/dev/null | tail -n 1
echo
wait_for 'Bob received the kick' 30
grep 'Bob received the kick' "$out"
kill -INT -"$demo" 2>/dev/null || kill -INT "$demo"
wait "$demo" 2>/dev/null || true
demo=""
grep -q '^Stopping' "$out" || { cat "$out" >&2; echo "demo-check: make demo did not stop on Ctrl-C" >&2; exit 1; }
echo "make demo: kicked Bob, stopped on Ctrl-C"
