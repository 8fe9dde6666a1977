#!/bin/sh
# Prints the Lua a build is for: 5.1, 5.2, 5.3, 5.4 or luajit.
#   scripts/lua-version.sh 5.1|lua5.1|luajit|/usr/bin/lua5.3   that one (an interpreter is asked)
#   scripts/lua-version.sh                                     the Lua the installed Prosody runs
# Prosody's Lua is what `prosodyctl about` reports (PROSODYCTL selects another prosodyctl);
# LuaJIT reports "Lua 5.1" there, so the interpreter of prosodyctl's #! line tells it apart.
set -eu
if [ -n "${1:-}" ]; then
	case "$1" in
	5.[1-4] | lua5.[1-4]) echo "${1#lua}"; exit 0 ;;
	luajit) echo luajit; exit 0 ;;
	esac
	if command -v "$1" >/dev/null 2>&1; then
		"$1" -e 'print(package.loaded.jit and "luajit" or _VERSION:match("5%.[1-4]"))' && exit 0
	fi
	echo "LUA=$1: expected 5.1, 5.2, 5.3, 5.4 or luajit" >&2
	exit 1
fi
ctl=$(command -v "${PROSODYCTL:-prosodyctl}" 2>/dev/null) || ctl=""
version=""
if [ -n "$ctl" ]; then
	version=$("$ctl" about 2>/dev/null | sed -n 's/^Lua version:[[:space:]]*Lua \(5\.[1-4]\).*/\1/p') || version=""
	if [ "$version" = 5.1 ] && head -n 1 "$ctl" | grep -q luajit; then
		version=luajit
	elif [ -z "$version" ]; then
		# `about` reads Prosody's config, which only root and the prosody group may: the #! line
		# of prosodyctl (e.g. "#!/usr/bin/env lua5.4") names the same interpreter.
		version=$(head -n 1 "$ctl" | grep -o 'lua5\.[1-4]\|luajit' | head -n 1 | sed 's/^lua5/5/') || version=""
	fi
fi
if [ -z "$version" ]; then
	echo "Could not ask Prosody which Lua it runs (prosodyctl about): building for Lua 5.4; set LUA=5.1|5.2|5.3|5.4|luajit to choose" >&2
	version=5.4
fi
echo "$version"
