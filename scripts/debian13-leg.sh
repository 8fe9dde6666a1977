#!/bin/sh
# CI's Debian 13 leg (.ci/run), run as root on Debian 12: a fresh Debian 13 tree
# (debootstrap --variant=minbase trixie), only Debian's packages in it (the README's
# `apt-get install git make cargo`: the toolchain is Debian's 1.85, never rustup), this checkout's
# HEAD cloned into it, and `make test` there, as a new user of Debian 13 would (as root in the
# tree); then `make demo` must kick its occupant (scripts/demo-check.sh).
#
# The tree runs in its own PID and mount namespaces (unshare): the mounts it needs (proc, and a
# private /dev: a tmpfs with null, zero, full, random, urandom, tty and a new devpts instance) are
# made and undone in there and never seen outside, no host directory is bound into it, and every
# process started in it ends with the namespace's first process, on success, failure or a signal.
# The tree is then removed.
#
#   DEBIAN13_TREE=DIR   build the tree in DIR (default: a new directory under /var/tmp)
#   DEBIAN13_KEEP=1     keep the tree afterwards (DIR is printed)
#   DEBIAN13_CACHE=DIR  reuse a minbase tree under DIR, younger than a week, instead of running
#                       debootstrap again, and keep apt's downloads there
#                       (default /var/cache/mod_http_muc_kick; empty: no cache)
set -eu
checkout=$(cd "$(dirname "$0")/.." && pwd)
mirror=http://deb.debian.org/debian
cache=${DEBIAN13_CACHE-/var/cache/mod_http_muc_kick}
[ "$(id -u)" = 0 ] || { echo "debian13-leg.sh: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
for tool in debootstrap unshare; do
	command -v $tool >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $tool >/dev/null
done

tree=${DEBIAN13_TREE:-}
[ -n "$tree" ] || tree=$(mktemp -d /var/tmp/debian13-leg.XXXXXX)
mkdir -p "$tree"
tree=$(cd "$tree" && pwd)
case "$tree" in /|/var|/var/tmp|/tmp) echo "debian13-leg.sh: refusing tree $tree" >&2; exit 2 ;; esac
leg=""
cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	if [ -n "$leg" ] && kill -0 "$leg" 2>/dev/null; then
		# unshare ignores SIGTERM while it waits; SIGKILL ends it, and --kill-child then sends
		# SIGKILL to the namespace's first process, which takes every process of the tree with it
		kill -KILL "$leg" 2>/dev/null || true
		wait "$leg" 2>/dev/null || true
	fi
	if [ "${DEBIAN13_KEEP:-}" = 1 ]; then
		echo "Debian 13 tree kept: $tree"
	else
		rm -rf --one-file-system "$tree" "$tree.debootstrap.log"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Runs "$@" in new PID and mount namespaces: what it mounts is seen and undone only in there, and
# cleanup ends it with every process it started.
isolated() {
	unshare --pid --fork --kill-child --mount --propagation private "$@" &
	leg=$!
	isolated_status=0
	wait "$leg" || isolated_status=$?
	leg=""
	return "$isolated_status"
}

started=$(date +%s)
base="$cache/trixie-minbase.tar"
if [ -n "$cache" ] && [ -f "$base" ] && [ -n "$(find "$base" -mtime -7)" ]; then
	echo "Debian 13 tree from $base"
	tar -C "$tree" -xf "$base"
else
	echo "debootstrap --variant=minbase trixie $tree"
	isolated debootstrap --variant=minbase trixie "$tree" "$mirror" >"$tree.debootstrap.log" 2>&1 ||
		{ tail -20 "$tree.debootstrap.log" >&2; rm -f "$tree.debootstrap.log"; exit 1; }
	rm -f "$tree.debootstrap.log"
	if [ -n "$cache" ]; then
		mkdir -p "$cache"
		tar -C "$tree" -cf "$base.new" . && mv "$base.new" "$base"
	fi
fi
echo "Debian 13 base: $(($(date +%s) - started)) s"

# What the tree needs from the host: its network names and CA certificates (TLS to crates.io and
# PyPI may pass a proxy with its own CA); no service starts inside (policy-rc.d).
cp /etc/resolv.conf "$tree/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$(hostname)" >"$tree/etc/hosts"
mkdir -p "$tree/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$tree/usr/local/share/ca-certificates/" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$tree/usr/sbin/policy-rc.d"
chmod 755 "$tree/usr/sbin/policy-rc.d"
if [ -n "$cache" ] && [ -d "$cache/archives" ]; then
	cp "$cache"/archives/*.deb "$tree/var/cache/apt/archives/" 2>/dev/null || true
fi

git clone -q "$checkout" "$tree/root/mod_http_muc_kick"
[ -z "$(git -C "$checkout" status --porcelain --untracked-files=no)" ] ||
	echo "debian13-leg.sh: the checkout has uncommitted changes; the Debian 13 leg tests HEAD $(git -C "$checkout" rev-parse --short HEAD)" >&2

# Inside the namespaces: mounts, then the chroot; the mounts are undone when it ends.
inside='
set -eu
tree=$1
mount -t proc -o nosuid,nodev,noexec proc "$tree/proc"
mount -t tmpfs -o nosuid,noexec,mode=755,size=16m dev "$tree/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	name=${node%%:*} numbers=${node#*:}
	mknod -m 666 "$tree/dev/$name" c "${numbers%:*}" "${numbers#*:}"
done
mkdir -m 1777 "$tree/dev/shm"
mkdir "$tree/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$tree/dev/pts"
ln -s pts/ptmx "$tree/dev/ptmx"
ln -s /proc/self/fd "$tree/dev/fd"
ln -s /proc/self/fd/0 "$tree/dev/stdin"
ln -s /proc/self/fd/1 "$tree/dev/stdout"
ln -s /proc/self/fd/2 "$tree/dev/stderr"
undo() { umount "$tree/dev/pts" "$tree/dev" "$tree/proc" 2>/dev/null || true; }
trap undo EXIT
chroot "$tree" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt DEBIAN_FRONTEND=noninteractive \
	/bin/sh -euc "
		apt-get update -qq
		apt-get install -y -qq git make cargo ca-certificates >/dev/null 2>&1 ||
			apt-get install -y git make cargo ca-certificates
		update-ca-certificates >/dev/null 2>&1
		echo \"Debian 13: \$(cat /etc/debian_version), \$(cargo --version), \$(rustc --version)\"
		! command -v rustup >/dev/null
		cd /root/mod_http_muc_kick
		make test
		scripts/demo-check.sh
	"
'
status=0
isolated /bin/sh -c "$inside" sh "$tree" || status=$?
if [ -n "$cache" ]; then
	mkdir -p "$cache/archives"
	cp "$tree"/var/cache/apt/archives/*.deb "$cache/archives/" 2>/dev/null || true
fi
echo "Debian 13 leg: $(($(date +%s) - started)) s, make test exit $status"
exit "$status"
