#!/bin/sh
# Turn a debootstrap minbase rootfs into a stand-in for the official debian:bookworm-slim,
# applying the same minimizing steps debuerreotype applies to the official image.
# usage: slim.sh ROOTFS ARCHIVE_MIRROR SECURITY_MIRROR [EXTRA_CA.crt...]
set -eu
root=$1 mirror=$2 security=$3
shift 3

# The host's extra CAs (e.g. a TLS-intercepting egress proxy): any image installing
# ca-certificates on top picks them up through update-ca-certificates, as on the host.
mkdir -p "$root/usr/local/share/ca-certificates"
for ca in "$@"; do
  cp "$ca" "$root/usr/local/share/ca-certificates/"
done

# Package scripts must never start services inside an image build.
cat > "$root/usr/sbin/policy-rc.d" <<'POLICY'
#!/bin/sh
exit 101
POLICY
chmod 0755 "$root/usr/sbin/policy-rc.d"

# "slim": packages installed later leave out docs, man pages and translations.
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' \
  > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
printf 'Apt::AutoRemove::SuggestsImportant "false";\n' \
  > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"

# Same layout as the official image: deb822 sources for the suite, its updates and security.
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Drop what the official image does not ship: docs, caches, logs, host-specific files.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"*
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb
rm -rf "$root/var/log/"* "$root/tmp/"* "$root/dev/"*
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
: > "$root/etc/machine-id"
