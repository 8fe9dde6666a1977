#!/bin/sh
# Installs the Debian packages the tests, lint and demo need (as root), or prints the command;
# arguments add more (make rock: luarocks liblua5.x-dev). Building and installing the module need
# only cargo. Every Lua Debian has, for the busted specs under each (lua-busted serves them all);
# valgrind for make test-valgrind, lua-dbi-sqlite3 for the ban tests on SQL storage.
# Debian 12 and 13 (/etc/os-release): on 13 Rust is Debian's own (cargo, and rustfmt and
# rust-clippy for make lint, separate packages there); on 12 it comes from rustup.
set -eu
. /etc/os-release
packages="python3-venv prosody lua-dbi-sqlite3 lua5.1 lua5.2 lua5.3 lua5.4 luajit lua-busted lua-check python3-slixmpp python3-pytest curl valgrind $*"
rustup_hint="install Rust (1.85 or newer) with rustup, https://rustup.rs"
case "${VERSION_CODENAME:-}" in
bookworm) ;;
*)
	# Debian 13 and later carry Rust 1.85+: cargo, and its rustfmt and clippy
	rustup_hint="sudo apt-get install cargo"
	command -v cargo >/dev/null 2>&1 || packages="cargo $packages"
	command -v rustup >/dev/null 2>&1 || packages="$packages rustfmt rust-clippy"
	;;
esac
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ "$(id -u)" != 0 ] && ! command -v cargo >/dev/null 2>&1; then
	echo "cargo not found: $rustup_hint" >&2
	exit 1
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "Installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
	echo "Missing Debian packages. Install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: $rustup_hint" >&2; exit 1; }
