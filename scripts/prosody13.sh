#!/bin/sh
# Puts the second Prosody of this system's matrix in DEST beside Debian's, without installing it:
# apt fetches the package with a private source list and state dir, dpkg -x unpacks it, and its
# launchers are pointed at the unpacked tree. It runs on the Lua 5.4 libraries Debian's Prosody
# pulled in. Which one, by /etc/os-release:
#   Debian 12: 13.0.1 from bookworm-backports (beside Debian's 0.12.3)
#   Debian 13: the newest 13.0.x of trixie-backports (beside Debian's 13.0.1); bookworm-backports'
#              13.0.1 needs ICU 72 and does not start there
# DEST/VERSION names what is unpacked; a DEST unpacked on another system is fetched again.
set -eu
dest=$(realpath -m "$1")
. /etc/os-release
case "${VERSION_CODENAME:-}" in
bookworm) suite=bookworm-backports want="13.0.1-1~bpo12+1" ;;
trixie) suite=trixie-backports want="13.0.*" ;;
*)
	echo "scripts/prosody13.sh: no Prosody matrix for ${PRETTY_NAME:-this system} (Debian 12 or 13)" >&2
	exit 1
	;;
esac
[ -x "$dest/usr/bin/prosody" ] && [ "$(sed -n 2p "$dest/VERSION" 2>/dev/null)" = "$suite" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" > "$work/sources.list"
apt_private() {
	apt-get -q -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$work/lists" -o Dir::Cache="$work" -o Dir::Cache::Archives="$work/archives" \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
apt_private update >/dev/null
# The newest version of the suite that matches (apt-cache madison lists the newest first).
version=$(apt-cache -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
	-o Dir::State::Lists="$work/lists" -o Dir::Cache="$work" madison prosody |
	awk -F' *[|] *' -v suite="$suite/" 'index($3, suite) { print $2 }' |
	while read -r v; do case "$v" in $want) echo "$v"; break ;; esac; done)
if [ -z "$version" ]; then
	echo "scripts/prosody13.sh: $suite has no prosody $want" >&2
	exit 1
fi
echo "Fetching prosody $version ($suite) into $dest"
(cd "$work" && apt_private download "prosody=$version" >/dev/null)
rm -rf "$dest/etc" "$dest/lib" "$dest/usr" "$dest/var" "$dest/VERSION"  # an older unpacked tree
mkdir -p "$dest"
dpkg -x "$work"/prosody_*.deb "$dest"
for launcher in prosody prosodyctl; do
	sed -i -e "s|^CFG_SOURCEDIR=.*|CFG_SOURCEDIR='$dest/usr/lib/prosody';|" \
		-e "s|^CFG_PLUGINDIR=.*|CFG_PLUGINDIR='$dest/usr/lib/prosody/modules/';|" \
		"$dest/usr/bin/$launcher"
done
printf '%s\n%s\n' "$version" "$suite" > "$dest/VERSION"
echo "Prosody $version ready: $dest/usr/bin/prosody"
