#!/usr/bin/env bash
# Installs hpcluster the ways users do and checks each result (CI calls it; about 90 s on
# 2 cores from a clean target/, about 10 s when target/release is fresh):
#   1. the wheel: release build, man pages into hpcluster.data/ (maturin ships that directory as
#      the wheel's data), `maturin build`, then `pip install` of that wheel into a fresh venv;
#      `hpcluster --version` must print Cargo.toml's version and every man page must render;
#   2. `cargo install --locked --path .` into a temporary root (reuses target/release).
# maturin comes from PATH, or from PyPI into a throwaway venv when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say() { echo "install-check: $*"; }
fail() { echo "install-check: FAILED: $*" >&2; exit 1; }
pip_quiet=(--quiet --disable-pip-version-check)

# Cargo.toml's version and the target directory (CARGO_TARGET_DIR, when set).
meta=$(cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
print(meta["packages"][0]["version"])
print(meta["target_directory"])')
version=$(sed -n 1p <<<"$meta")
target=$(sed -n 2p <<<"$meta")
say "hpcluster $version"

# Pages of a previous build would otherwise ship in the wheel, and an older wheel would match the
# glob below.
rm -rf "$target/wheels" hpcluster.data
man1=hpcluster.data/data/share/man/man1
cargo build --release --locked --quiet
"$target/release/hpcluster" manpage "$man1" >/dev/null
pages=$(ls "$man1")
say "$(echo "$pages" | wc -l) man pages in $man1"

maturin=$(command -v maturin || true)
if [ -z "$maturin" ]; then
    python3 -m venv "$tmp/maturin"
    "$tmp/maturin/bin/pip" install "${pip_quiet[@]}" 'maturin>=1.9,<2'
    maturin=$tmp/maturin/bin/maturin
fi
say "$("$maturin" --version)"
"$maturin" build --release --locked --quiet --out "$target/wheels"
wheel=("$target"/wheels/hpcluster-"$version"-*.whl)
[ ${#wheel[@]} -eq 1 ] && [ -f "${wheel[0]}" ] || fail "expected one wheel, found: ${wheel[*]}"
say "built ${wheel[0]} ($(du -k "${wheel[0]}" | cut -f1) KiB)"

python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install "${pip_quiet[@]}" --no-index "${wheel[0]}"
printed=$("$tmp/venv/bin/hpcluster" --version)
[ "$printed" = "hpcluster $version" ] ||
    fail "\`hpcluster --version\` from the venv printed \`$printed\`, expected \`hpcluster $version\`"
say "venv: $printed"

# The first man page renderer found; with none, check_page parses the roff a little.
renderer=$({ command -v man groff mandoc || true; } | head -n1 | xargs -r basename)
# check_page PAGE: renders PAGE and looks for its NAME line ("hpcluster-up - Start the ...");
# without a renderer, reads the .TH line and the NAME section's line from the roff itself.
check_page() {
    local page=$1 name text warnings
    name=$(basename "$page" .1)
    case $renderer in
        man) text=$(MANWIDTH=100 man -l "$page" 2>&1) ;;
        groff) text=$(groff -man -Tutf8 -P-cbou "$page" 2>&1) ;;
        mandoc) text=$(mandoc -Tutf8 "$page" 2>&1 | sed 's/.\x08//g') ;;
        *)
            grep -q "^\.TH $name 1 " "$page" || fail "man page \`$page\` has no \`.TH $name 1\` line"
            text=$(sed -n '/^\.SH NAME/{n;p;q;}' "$page" | sed 's/\\-/-/g')
            ;;
    esac
    grep -Eq "^ *$name +- " <<<"$text" || fail "man page \`$page\` did not render its NAME line:
$text"
    # groff's warnings (-ww) name roff that renders wrongly, e.g. an unknown request.
    if command -v groff >/dev/null; then
        warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
        [ -z "$warnings" ] || fail "groff warns about \`$page\`: $warnings"
    fi
}
for page in $pages; do
    [ -f "$tmp/venv/share/man/man1/$page" ] || fail "the wheel did not install \`share/man/man1/$page\`"
    check_page "$tmp/venv/share/man/man1/$page"
done
if command -v man >/dev/null; then
    # man-db searches ../share/man beside each PATH entry: `man hpcluster` in an active venv.
    found=$(env -u MANPATH PATH="$tmp/venv/bin:$PATH" man -w hpcluster) ||
        fail "\`man hpcluster\` with the venv on PATH found no page"
    [ "$found" = "$tmp/venv/share/man/man1/hpcluster.1" ] ||
        fail "\`man -w hpcluster\` with the venv on PATH found \`$found\`, not the venv's page"
fi
say "man pages render (checked with: ${renderer:-a roff parse}$(command -v groff >/dev/null && echo ', groff -ww'))"

cargo install --locked --quiet --path . --root "$tmp/cargo"
printed=$("$tmp/cargo/bin/hpcluster" --version)
[ "$printed" = "hpcluster $version" ] ||
    fail "\`hpcluster --version\` after cargo install printed \`$printed\`, expected \`hpcluster $version\`"
say "cargo install: $printed"
say "ok"
