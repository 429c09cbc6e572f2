#!/bin/sh
# Retakes the README's screenshots (docs/screenshots/) with the release build, offscreen:
# every one at 1366 x 768 (a common laptop screen), similarity.png at 1920 x 1080.
# Usage: tools/screenshots.sh [BUILD_DIR]   (default build/release)
set -eu
cd "$(dirname "$0")/.."
bin="${1:-build/release}/bin/patchlens"
out=docs/screenshots
shot() { name=$1; shift; QT_QPA_PLATFORM=offscreen "$bin" "$@" --screenshot "$out/$name.png"; echo "$out/$name.png"; }
laptop="--size 1366x768"
shot grid_channel_inspector tests/data/chelsea.png --select 7,7 --overlay channel:5 $laptop
shot pca_rgb tests/data/chelsea.png --select 7,7 --overlay pca $laptop
shot similarity tests/data/coffee.png --select 5,9 --overlay similarity --size 1920x1080
shot original_crop_box tests/data/coffee.png --select 5,9 --overlay norm --original $laptop
shot embedding_matrix tests/data/chelsea.png --weights dct --select 7,7 --overlay argmax --dock matrix $laptop
shot filter_gallery tests/data/chelsea.png --weights dct --select 7,7 --dock filters $laptop
shot filter_pca tests/data/chelsea.png --weights dct --select 7,7 --dock filter-pca $laptop
shot reconstruction tests/data/chelsea.png --select 7,7 --colormap viridis --dock reconstruction $laptop
