#!/bin/sh
# Mutation testing of the authorization policy and the money module (see README.md).
#
#   mutants/run.sh [policy|money|both] [more cargo-mutants options, e.g. -F 'to_usd_minor']
#
# Copies api/auth/policy.rs (with role.rs) and api/core/money.rs, unchanged, into a scratch crate (shim/lib.rs
# supplies the few service items they name) in a temporary directory and runs
# cargo-mutants there on their unit tests. Nothing in the work tree is mutated. The
# report is left in the printed directory (mutants.out/), not in the repository.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
which=${1:-both}
[ $# -gt 0 ] && shift
case $which in
policy) files="-f src/auth/policy.rs" ;;
money) files="-f src/core/money.rs" ;;
both) files="-f src/auth/policy.rs -f src/core/money.rs" ;;
*) echo "usage: $0 [policy|money|both] [cargo-mutants options]" >&2; exit 2 ;;
esac
work=$(mktemp -d)
mkdir -p "$work/src/auth" "$work/src/core"
cp "$repo/mutants/shim/Cargo.toml" "$repo/Cargo.lock" "$work/"
cp "$repo/mutants/shim/lib.rs" "$work/src/lib.rs"
cp "$repo/api/auth/policy.rs" "$repo/api/auth/role.rs" "$work/src/auth/"
cp "$repo/api/core/money.rs" "$work/src/core/"
cd "$work"
echo "scratch crate and report: $work" >&2
# shellcheck disable=SC2086
cargo mutants --in-place $files --timeout 60 -o "$work" "$@" -- --lib
