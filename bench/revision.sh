# Sourced by run.sh (BASELINE) and ab.sh: building another git revision's rustyhook.
#
# build_revision REV SCRATCH: prints the path of REV's release `rustyhook`, kept in
# $CARGO_TARGET_DIR/revisions/ per commit (so a revision is built once, whichever script asks
# for it). Built from a worktree checked out at SCRATCH/revision-src (the caller's scratch
# directory, removed with it if the build is interrupted) into $CARGO_TARGET_DIR/older: a
# target directory of its own, since cargo judges freshness by modification times, and after
# a fresh checkout was built into the current tree's, the current tree's older files would
# pass for built and its binary would mix the two revisions.
build_revision() {
    local rev=$1 tree=$2/revision-src commit out
    commit=$(git rev-parse --short "$rev^{commit}")
    out=$CARGO_TARGET_DIR/revisions/rustyhook-$commit
    if [ ! -x "$out" ]; then
        printf '[bench %s] building %s (%s)\n' "$(date +%H:%M:%S)" "$rev" "$commit" >&2
        rm -rf "$tree"
        git worktree prune
        git worktree add --quiet --detach "$tree" "$commit"
        (cd "$tree" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR/older cargo build --release --quiet -p rustyhook)
        mkdir -p "$(dirname "$out")"
        cp "$CARGO_TARGET_DIR/older/release/rustyhook" "$out.tmp"
        mv "$out.tmp" "$out"
        git worktree remove --force "$tree"
    fi
    echo "$out"
}
