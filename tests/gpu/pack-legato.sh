#!/bin/sh
# Packs the legato binary built here with the shared libraries it loads
# (FFmpeg's and the others; not glibc's, libstdc++ or libgcc_s, which the GPU
# machine has in newer versions) into .gpu-pack/, for a machine that has a
# GPU but no FFmpeg or -dev packages: tests/gpu/profile.sh runs it there.
# .gpu-pack/ is ignored by git; the device tool takes it with carry.
#
#   tests/gpu/pack-legato.sh [BINARY]     # default build/legato
set -eu
cd "$(dirname "$0")/../.."
bin=${1:-build/legato}
[ -x "$bin" ] || { echo "pack-legato: no $bin (run make first)" >&2; exit 1; }
rm -rf .gpu-pack
mkdir -p .gpu-pack/lib
cp "$bin" .gpu-pack/legato
ldd "$bin" | awk '/=> \// { print $3 }' |
    grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv|libstdc\+\+|libgcc_s)\.so' |
    while read -r lib; do cp -L "$lib" .gpu-pack/lib/; done
# xz: python3's lzma module unpacks it where no xz binary is.
tar -C .gpu-pack -cf - lib | xz -6 -T0 >.gpu-pack/lib.tar.xz
rm -rf .gpu-pack/lib
echo "pack-legato: $(du -sh .gpu-pack | cut -f1) in .gpu-pack ($(ls -1 "$bin") and its libraries)"
