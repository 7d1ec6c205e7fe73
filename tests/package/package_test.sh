#!/bin/sh
# The Debian packages, built by scripts/package from BUILD_DIR (configured for /usr and built:
# scripts/test's build/), installed, upgraded, removed and purged on this machine. That
# changes /usr, /etc and /var, so it runs only as root on a throwaway machine: with CI=true,
# or SKEDD_PACKAGE_TEST=1 (else it exits 77, skipped); and never where skedd's packages, or
# files they own, are already there. Whatever happens, both packages are purged at the end.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?usage: package_test.sh BUILD_DIR SOURCE_DIR}
source=${2:?usage: package_test.sh BUILD_DIR SOURCE_DIR}

if [ "$(id -u)" -ne 0 ] || { [ "${CI:-}" != true ] && [ "${SKEDD_PACKAGE_TEST:-}" != 1 ]; }; then
  echo "package_test: needs root on a throwaway machine (CI=true or SKEDD_PACKAGE_TEST=1)" >&2
  exit 77
fi
for p in skedd libskedd-dev; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
    echo "package_test: $p is installed here already; not touching it" >&2
    exit 77
  fi
done
for f in /etc/skedd /var/lib/skedd /run/skedd /usr/sbin/skedd /usr/include/skedd; do
  if [ -e "$f" ]; then
    echo "package_test: $f exists already; not touching it" >&2
    exit 77
  fi
done

work=$(mktemp -d)
chmod 0755 "$work"
daemon=""
cleanup() {
  [ -n "$daemon" ] && kill -KILL "$daemon" 2>/dev/null
  # The installed skedd and its run host, should one be left (their binaries may be gone).
  for exe in /proc/[0-9]*/exe; do
    case $(readlink "$exe" 2>/dev/null) in
      /usr/sbin/skedd | /usr/sbin/skedd-runhost | "/usr/sbin/skedd (deleted)" | "/usr/sbin/skedd-runhost (deleted)")
        pid=${exe#/proc/}
        kill -KILL "${pid%/exe}" 2>/dev/null ;;
    esac
  done
  dpkg --purge skedd libskedd-dev >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
problems=0
problem() {
  echo "package_test: $*" >&2
  problems=$((problems + 1))
}
mode_of() { stat -c '%a %U:%G' "$1" 2>/dev/null; }

# ---- build and lint: scripts/package fails on a lintian error or warning
started=$(date +%s)
"$source/scripts/package" --build-dir "$build" --out "$work/debs" >"$work/package.log" 2>&1 || {
  cat "$work/package.log" >&2
  echo "package_test: scripts/package failed" >&2
  exit 1
}
echo "== scripts/package took $(($(date +%s) - started)) s"
sed -n '/^== lintian/,/^== /p' "$work/package.log"
version=$(sed -n 's/^project(skedd VERSION \([0-9.]*\).*/\1/p' "$source/CMakeLists.txt")
skedd_deb="$work/debs/skedd_${version}_$(dpkg --print-architecture).deb"
dev_deb="$work/debs/libskedd-dev_${version}_$(dpkg --print-architecture).deb"
for deb in "$skedd_deb" "$dev_deb"; do
  [ -f "$deb" ] || { problem "no $deb"; exit 1; }
done
contents=$(dpkg-deb -c "$skedd_deb")
for f in ./usr/sbin/skedd ./usr/sbin/skedd-runhost ./usr/bin/skedctl ./lib/systemd/system/skedd.service \
  ./etc/skedd/skedd.toml ./etc/skedd/jobs.d/README ./usr/share/man/man8/skedd.8.gz \
  ./usr/share/man/man1/skedctl.1.gz ./usr/share/man/man5/skedd.toml.5.gz \
  ./usr/share/man/man5/skedd-jobs.5.gz ./usr/share/bash-completion/completions/skedctl \
  ./usr/share/zsh/vendor-completions/_skedctl ./usr/share/fish/vendor_completions.d/skedctl.fish \
  ./usr/share/doc/skedd/examples/skedd.toml ./usr/share/doc/skedd/examples/jobs.d/examples.toml \
  ./usr/share/doc/skedd/examples/jobs.d/pipeline.toml \
  ./usr/share/doc/skedd/changelog.gz ./usr/share/doc/skedd/copyright; do
  echo "$contents" | grep -q " $f\$" || problem "skedd package lacks $f"
done
dev_contents=$(dpkg-deb -c "$dev_deb")
for f in ./usr/include/skedd/embed/embedded_scheduler.h ./usr/include/skedd/version.h \
  "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libskedd.a" \
  "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig/skedd.pc" \
  "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/cmake/skedd/skeddConfig.cmake" \
  ./usr/share/man/man3/libskedd.3.gz; do
  echo "$dev_contents" | grep -q " $f\$" || problem "libskedd-dev package lacks $f"
done
[ "$(dpkg-deb -f "$skedd_deb" Version)" = "$version" ] || problem "skedd's version is not $version"

# ---- install
dpkg -i "$skedd_deb" "$dev_deb" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  problem "dpkg -i failed"
  exit 1
}
[ "$(mode_of /var/lib/skedd)" = "700 root:root" ] || problem "/var/lib/skedd is $(mode_of /var/lib/skedd)"
[ "$(mode_of /etc/skedd/skedd.toml)" = "644 root:root" ] || problem "skedd.toml is $(mode_of /etc/skedd/skedd.toml)"
[ "$(mode_of /usr/sbin/skedd)" = "755 root:root" ] || problem "/usr/sbin/skedd is $(mode_of /usr/sbin/skedd)"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' skedd)
for f in /etc/skedd/skedd.toml /etc/skedd/jobs.d/README; do
  echo "$conffiles" | grep -q "^ $f " || problem "$f is not a conffile"
done
if [ ! -d /run/systemd/system ]; then
  grep -q "no systemd here, so skedd was not started" "$work/install.log" ||
    problem "postinst did not say that skedd was not started"
fi
/usr/sbin/skedd --config /etc/skedd/skedd.toml --check-config || problem "skedd --check-config failed"
/usr/bin/skedctl --version >/dev/null || problem "skedctl --version failed"
man -w skedd.8 >/dev/null 2>&1 || problem "man skedd.8 not found"

# ---- libskedd-dev: an out-of-tree program, with find_package(skedd) and with pkg-config
cmake -S "$source/tests/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  >"$work/consumer.log" 2>&1 && cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 &&
  "$work/consumer/consumer" >>"$work/consumer.log" 2>&1 || {
  cat "$work/consumer.log" >&2
  problem "find_package(skedd) against the package failed"
}
# shellcheck disable=SC2046 # the flags are words
c++ -O1 -o "$work/consumer-pc" "$source/tests/consumer/consumer.cpp" $(pkg-config --cflags --libs skedd) &&
  "$work/consumer-pc" >/dev/null || problem "pkg-config skedd against the package failed"

# ---- upgrade to a bumped version: the edited conffile is kept, the state too
echo "# edited by the administrator" >>/etc/skedd/skedd.toml
touch /var/lib/skedd/kept
dpkg-deb -R "$skedd_deb" "$work/next"
sed -i "s/^Version: .*/Version: $version+1/" "$work/next/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip -b "$work/next" "$work/skedd-next.deb" >/dev/null
dpkg -i "$work/skedd-next.deb" >"$work/upgrade.log" 2>&1 || {
  cat "$work/upgrade.log" >&2
  problem "the upgrade failed"
}
[ "$(dpkg-query -W -f='${Version}' skedd)" = "$version+1" ] || problem "not upgraded"
grep -q "edited by the administrator" /etc/skedd/skedd.toml || problem "the upgrade lost the edit"
[ -e /var/lib/skedd/kept ] || problem "the upgrade lost the state"

# ---- remove: a running skedd (started by hand: no systemd) stops; config and state stay
/usr/sbin/skedd --config /etc/skedd/skedd.toml >"$work/skedd.log" 2>&1 &
daemon=$!
n=0
while [ ! -S /run/skedd/skedd.sock ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ -S /run/skedd/skedd.sock ] || problem "the installed skedd did not start: $(cat "$work/skedd.log")"
/usr/bin/skedctl --socket /run/skedd/skedd.sock status >/dev/null || problem "skedctl status failed"
dpkg -r skedd >"$work/remove.log" 2>&1 || problem "dpkg -r failed: $(cat "$work/remove.log")"
if [ ! -d /run/systemd/system ]; then
  wait "$daemon" 2>/dev/null
  kill -0 "$daemon" 2>/dev/null && problem "skedd still runs after dpkg -r"
fi
daemon=""
# The run host outlives skedd (as it must, for the runs) and exits once idle for
# run_host_idle_exit (60 s): not waited for here; cleanup ends it.
[ -e /usr/sbin/skedd ] && problem "/usr/sbin/skedd is left after remove"
[ -e /etc/skedd/skedd.toml ] || problem "remove took the conffile (only purge may)"
[ -d /var/lib/skedd ] || problem "remove took the state (only purge may)"

# ---- purge: nothing of skedd's is left
files=$(dpkg -L libskedd-dev 2>/dev/null)
dpkg --purge skedd libskedd-dev >"$work/purge.log" 2>&1 || problem "purge failed: $(cat "$work/purge.log")"
for f in /etc/skedd /var/lib/skedd /run/skedd /usr/include/skedd; do
  [ -e "$f" ] && problem "$f is left after purge"
done
for f in $files; do
  case $f in /usr/include/skedd* | /usr/lib/*/libskedd.a | /usr/lib/*/cmake/skedd*) [ -e "$f" ] && problem "$f is left after purge" ;; esac
done

[ "$problems" -eq 0 ] || exit 1
echo "package_test: OK"
