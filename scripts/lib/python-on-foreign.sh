# shellcheck shell=bash disable=SC2154,SC2034 # python-on's variables, both ways
# scripts/lib/python-on-foreign.sh — sourced by scripts/python-on: CPython for another CPU,
# taken from Debian's archive and run under qemu-user on this machine.
#
# A root is that CPU's Debian packages (python3.X-dev, pytest, greenlet and what they need)
# downloaded with a private apt configuration and unpacked with `dpkg -x` into
# $cache/roots/<suite>-<cpu>-<id>: no chroot, no binfmt_misc, no root rights. Its standard
# library is byte-compiled once (dpkg -x runs no postinst, and every emulated run would
# parse it again). The interpreter runs as `qemu-<cpu> -L ROOT ROOT/usr/bin/python3.X`
# through a host shell script, ROOT/usr/local/bin/python3.X, which qemu hands the
# interpreter as its argv[0]: it becomes sys.executable, so a child started with
# sys.executable runs through qemu too (the kernel cannot run the other CPU's programs
# without binfmt_misc). The script's folder sits under ROOT/usr, where CPython's prefix
# search finds the root's own standard library.
#
# Uses from python-on: $cache, $tree, $me, die, mirror, step, enough_space.

# The interpreters: CPU, CPython version, the Debian suite and architecture that has it.
foreign_table=(
  "aarch64 3.11 bookworm arm64"
  "arm 3.11 bookworm armhf"
  "s390x 3.11 bookworm s390x"
  "ppc64le 3.11 bookworm ppc64el"
  "riscv64 3.13 trixie riscv64"
)

# foreign_suite CPU VERSION: prints "SUITE ARCH", or fails for a pair not in the table.
foreign_suite() {
  local row f
  for row in "${foreign_table[@]}"; do
    read -ra f <<<"$row"
    if [[ ${f[0]} == "$1" && ${f[1]} == "$2" ]]; then
      echo "${f[2]} ${f[3]}"
      return 0
    fi
  done
  return 1
}

# foreign_known: one "CPU VERSION foreign" line per interpreter of the table (python-on's
# list of what it runs).
foreign_known() {
  local row f
  for row in "${foreign_table[@]}"; do
    read -ra f <<<"$row"
    echo "${f[0]} ${f[1]} foreign"
  done
}

# foreign_fact CPU KEY: the value of KEY in arch/CPU/port.facts (its qemu, its triple).
foreign_fact() {
  sed -n "s/^$2=//p" "$tree/arch/$1/port.facts"
}

# The apt configuration of one root's downloads: only that suite and architecture, state
# and caches in DIR, no recommends; the archive is a frozen snapshot past Valid-Until.
foreign_apt_config() {
  local dir=$1 suite=$2 arch=$3 m=$4
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc"
  : >"$dir/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m $suite main" \
    >"$dir/etc/sources.list"
  cat >"$dir/apt.conf" <<EOF
Dir::Etc::SourceList "$dir/etc/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "/dev/null";
Dir::State::status "$dir/status";
Dir::State::Lists "$dir/lists";
Dir::Cache "$dir/cache";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
APT::Install-Recommends "false";
APT::Sandbox::User "root";
EOF
}

# foreign_unpack DIR ROOT: every downloaded package of DIR unpacked into ROOT.
foreign_unpack() {
  local deb n=0
  for deb in "$1"/cache/archives/*.deb; do
    dpkg -x "$deb" "$2" || return 1
    n=$((n + 1))
  done
  ((n > 0)) || {
    echo "no packages were downloaded"
    return 1
  }
  echo "unpacked $n packages"
}

# foreign_relative_links ROOT: a package's absolute symbolic links (ppc64el's
# /lib64/ld64.so.2, say) would name the host's files; they are made relative, so that they
# name the root's wherever it is.
foreign_relative_links() {
  local link target
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$1$target")" "$link" || return 1
  done < <(find "$1" -type l -lname '/*' -print0)
}

# foreign_merged_usr ROOT: trixie and later ship /lib, /bin and /sbin in /usr only; the
# programs still name /lib/ld-linux-*.so as their loader.
foreign_merged_usr() {
  local d
  for d in lib bin sbin; do
    [[ -e $1/$d || ! -d $1/usr/$d ]] || ln -s "usr/$d" "$1/$d"
  done
}

# foreign_wrapper ROOT QEMU VERSION: the host script that runs the root's interpreter.
foreign_wrapper() {
  local root=$1 qemu=$2 version=$3
  local w=$root/usr/local/bin/python$version
  mkdir -p "${w%/*}"
  cat >"$w" <<EOF
#!/bin/sh
# Made by scripts/python-on: CPython $version of this root under $qemu.
exec $qemu -L '$root' -0 '$w' '$root/usr/bin/python$version' "\$@"
EOF
  chmod 755 "$w"
}

# foreign_compile PARTIAL ROOT QEMU VERSION: byte-compile the root's Python code once, as
# the final ROOT will see it.
foreign_compile() {
  local partial=$1 root=$2 qemu=$3 v=$4
  env -u PYTHONDONTWRITEBYTECODE "$qemu" -L "$partial" "$partial/usr/bin/python$v" \
    -m compileall -q -s "$partial" -p "$root" \
    "$partial/usr/lib/python$v" "$partial/usr/lib/python3/dist-packages"
}

# foreign_root CPU VERSION: sets root= to that CPU's root, building it on first use. A
# failed build says which step failed and how to retry, and leaves nothing half-built.
foreign_root() {
  local cpu=$1 version=$2 suite arch qemu
  read -r suite arch < <(foreign_suite "$cpu" "$version")
  qemu=$(foreign_fact "$cpu" qemu)
  command -v "$qemu" >/dev/null || die "$qemu is missing: run scripts/bootstrap"
  local packages=("python$version-dev" libstdc++6 python3-pytest python3-greenlet)
  local id roots=$cache/roots
  id=$(printf '%s\n' "$suite" "$arch" "$qemu" "${packages[@]}" | sha256sum | cut -c1-12)
  root=$roots/$suite-$cpu-$id
  [[ -x $root/usr/local/bin/python$version ]] && return 0
  mkdir -p "$roots"
  exec 9>"$roots/.lock-$suite-$cpu"
  flock 9 # another python-on may be building the same root
  if [[ -x $root/usr/local/bin/python$version ]]; then
    exec 9>&-
    return 0
  fi
  partial=$roots/.partial-$suite-$cpu-$id
  rm -rf --one-file-system "$partial" "$root"
  # apt's state and downloads live in the partial root: a failed step removes them too.
  local apt=$partial/.apt log=$roots/$suite-$cpu-$id.log m
  mkdir -p "$partial"
  : >"$log"
  m=$(mirror)
  root_what="the $cpu root"
  echo "$me: building a root of Debian $suite's $arch CPython $version in $root (once; about a minute)" >&2
  step "free space" "$log" enough_space "$roots" 600
  foreign_apt_config "$apt" "$suite" "$arch" "$m"
  step "apt-get update ($suite $arch from $m)" "$log" env APT_CONFIG="$apt/apt.conf" apt-get update
  step "apt-get download of ${packages[*]}" "$log" env APT_CONFIG="$apt/apt.conf" \
    apt-get install -y -d "${packages[@]}"
  step "dpkg -x of the packages" "$log" foreign_unpack "$apt" "$partial"
  rm -rf --one-file-system "$apt"
  step "relative symbolic links" "$log" foreign_relative_links "$partial"
  foreign_merged_usr "$partial"
  step "byte-compiling the standard library under $qemu" "$log" \
    foreign_compile "$partial" "$root" "$qemu" "$version"
  mv -T "$partial" "$root"
  # The wrapper last: its presence marks a finished root.
  foreign_wrapper "$root" "$qemu" "$version"
  # Roots of an older package list.
  local old
  for old in "$roots/$suite-$cpu"-*; do
    [[ -d $old && $old != "$root" ]] && rm -rf --one-file-system "$old"
  done
  exec 9>&-
  echo "$me: the $cpu root is ready ($(du -sh "$root" | cut -f1))" >&2
}

# foreign_module_args CPU VERSION: the CMake arguments that cross-build the module for the
# root's interpreter (Debian's pyconfig.h includes <TRIPLE/python3.X/pyconfig.h>, hence
# -idirafter ROOT/usr/include).
foreign_module_args() {
  local cpu=$1 version=$2 triple
  triple=$(foreign_fact "$cpu" triple)
  module_cmake_args=(
    -DCMAKE_TOOLCHAIN_FILE="$tree/cmake/toolchains/cross.cmake"
    -DSLP_TARGET_TRIPLE="$triple"
    -DPython3_INCLUDE_DIR="$root/usr/include/python$version"
    -DCMAKE_C_FLAGS="-idirafter $root/usr/include"
    -DCMAKE_CXX_FLAGS="-idirafter $root/usr/include"
  )
}
