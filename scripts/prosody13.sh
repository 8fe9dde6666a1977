#!/bin/sh
# Puts Prosody 13.0.1 (bookworm-backports) in DEST beside Debian's 0.12, without installing it:
# apt fetches the package with a private source list and state dir, dpkg -x unpacks it, and its
# launchers are pointed at the unpacked tree. It runs on the Lua 5.4 libraries 0.12 pulled in.
set -eu
dest=$(realpath -m "$1")
version="13.0.1-1~bpo12+1"
[ -x "$dest/usr/bin/prosody" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" > "$work/sources.list"
apt_private() {
	apt-get -q -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$work/lists" -o Dir::Cache="$work" -o Dir::Cache::Archives="$work/archives" \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
echo "Fetching prosody $version into $dest"
apt_private update >/dev/null
(cd "$work" && apt_private download "prosody=$version" >/dev/null)
mkdir -p "$dest"
dpkg -x "$work"/prosody_*.deb "$dest"
for launcher in prosody prosodyctl; do
	sed -i -e "s|^CFG_SOURCEDIR=.*|CFG_SOURCEDIR='$dest/usr/lib/prosody';|" \
		-e "s|^CFG_PLUGINDIR=.*|CFG_PLUGINDIR='$dest/usr/lib/prosody/modules/';|" \
		"$dest/usr/bin/$launcher"
done
echo "Prosody $version ready: $dest/usr/bin/prosody"
