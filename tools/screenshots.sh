#!/bin/sh
# Retakes the README's screenshots (docs/screenshots/) with the release build, offscreen:
# every one at 1366 x 768 (a common laptop screen), similarity.png at 1920 x 1080.
# Usage: tools/screenshots.sh [BUILD_DIR] [transformer]   (default build/release; with
# "transformer" only the transformer views are retaken)
set -eu
cd "$(dirname "$0")/.."
bin="${1:-build/release}/bin/patchlens"
out=docs/screenshots
shot() { name=$1; shift; QT_QPA_PLATFORM=offscreen "$bin" "$@" --screenshot "$out/$name.png"; echo "$out/$name.png"; }
laptop="--size 1366x768"
if [ "${2:-all}" != transformer ]; then
shot grid_channel_inspector tests/data/chelsea.png --select 7,7 --overlay channel:5 $laptop
shot pca_rgb tests/data/chelsea.png --select 7,7 --overlay pca $laptop
shot similarity tests/data/coffee.png --select 5,9 --overlay similarity --size 1920x1080
shot original_crop_box tests/data/coffee.png --select 5,9 --overlay norm --original $laptop
shot embedding_matrix tests/data/chelsea.png --weights dct --select 7,7 --overlay argmax --dock matrix $laptop
shot filter_gallery tests/data/chelsea.png --weights dct --select 7,7 --dock filters $laptop
shot filter_pca tests/data/chelsea.png --weights dct --select 7,7 --dock filter-pca $laptop
shot reconstruction tests/data/chelsea.png --select 7,7 --colormap viridis --dock reconstruction $laptop
# A model over --max-memory-mb: the refusal in the error banner (taken by the GUI test that
# checks it, at 1366 x 768).
PATCHLENS_BANNER_SCREENSHOT="$PWD/$out/budget_refusal_banner.png" QT_QPA_PLATFORM=offscreen \
  "${1:-build/release}/bin/tst_gui_hostile_files" budgetRefusalInBanner >/dev/null
echo "$out/budget_refusal_banner.png"
fi

# The transformer views (issue 12), at 1366 x 768 and 1920 x 1080, with a randomly
# initialised ViT-B/16 in timm's layout (no trained checkpoint can be downloaded here).
vit=${PATCHLENS_RANDOM_VIT:-/tmp/vit_b16_random}
[ -f "$vit/model.safetensors" ] || /usr/bin/python3 tests/reference/make_random_vit.py "$vit"
for size in 1366x768 1920x1080; do
  w=${size%x*}
  t="tests/data/chelsea.png --weights $vit/model.safetensors --size $size"
  shot transformer_deep_pca_$w $t --layer 9 --overlay pca --foreground 0.5 --dock foreground-pca
  shot transformer_attention_heads_$w $t --layer 6 --select 6,5 --overlay attention --dock attention
  shot transformer_rollout_$w $t --layer 6 --query cls --overlay rollout --dock attention
  shot transformer_attention_distance_$w $t --layer 6 --head 3 --query cls --overlay attention \
    --dock attention-distance
  shot transformer_token_norms_$w $t --layer 11 --overlay norm --dock token-norms
  # DINO's key-feature PCA: the block's keys in every token view (strip "cls key", inspector
  # "key of patch 119 = k_4 token 120", PCA dock "…, Keys, block 4").
  shot transformer_key_pca_$w $t --layer 4 --source keys --select 7,7 --overlay pca \
    --dock foreground-pca
done
# DINO's per-head masks (Attention dock, Mass threshold 0.6, class token, block 6) beside the
# DINOv2 PCA dock without its foreground step (issue 21), at 1366 x 768 and 1920 x 1080,
# through tst_laptop_layout, with the same random ViT-B/16 (its masks mean nothing).
QT_QPA_PLATFORM=offscreen PATCHLENS_MASK_SCREENSHOT="$PWD/$out" \
  PATCHLENS_MASK_WEIGHTS="$vit/model.safetensors" \
  "${1:-build/release}/bin/tst_laptop_layout" maskScreenshots >/dev/null
ls $out/transformer_attention_mask_*.png

# The compare window (issue 23) at 1366 x 768 through tst_compare_window: two images
# (chelsea.png and its mirrored crop) through the random ViT-B/16, and chelsea.png through the
# random ViT-B/16 (A) and a random ViT-S/16 of 6 blocks (B). Random weights: nothing trained.
vits=${PATCHLENS_RANDOM_VIT_SMALL:-/tmp/vit_s16_random}
[ -f "$vits/model.safetensors" ] || /usr/bin/python3 tests/reference/make_random_vit.py "$vits" small
mirror=/tmp/patchlens_chelsea_mirror.png
/usr/bin/python3 -c "from PIL import Image, ImageOps; im = Image.open('tests/data/chelsea.png'); \
w, h = im.size; ImageOps.mirror(im).crop((w // 8, 0, w, h * 7 // 8)).save('$mirror')"
QT_QPA_PLATFORM=offscreen PATCHLENS_COMPARE_SCREENSHOT=$out PATCHLENS_COMPARE_A=tests/data/chelsea.png \
  PATCHLENS_COMPARE_B=$mirror PATCHLENS_COMPARE_WEIGHTS=$vit/model.safetensors \
  PATCHLENS_COMPARE_WEIGHTS_B=$vits/model.safetensors \
  "${1:-build/release}/bin/tst_compare_window" screenshots
ls $out/compare_*.png
# Why the model decides (issue 22): the Prediction dock with the Grad-CAM and relevance
# overlays, with a random ViT-B/16 classifier (make_random_vit.py --head: 1000 random classes,
# labelled with the ImageNet-1k names; its predictions mean nothing).
clf=${PATCHLENS_RANDOM_VIT_CLASSIFIER:-/tmp/vit_b16_random_in1k}
[ -f "$clf/model.safetensors" ] || /usr/bin/python3 tests/reference/make_random_vit.py --head "$clf"
c="tests/data/chelsea.png --weights $clf/model.safetensors --dock prediction"
shot explain_gradcam_1366 $c --overlay gradcam --size 1366x768
shot explain_relevance_1366 $c --overlay relevance --size 1366x768
shot explain_gradcam_1920 $c --overlay gradcam --size 1920x1080
# DINOv3 (issue 20) at 1366 x 768: a random ViT-S/16 in Meta's .pth layout (4 storage tokens,
# RoPE, LayerScale), made by Meta's own constructor (tests/reference/make_random_dinov3.py needs a
# checkout of facebookresearch/dinov3 in DINOV3_SRC); skipped without one. Random weights.
dino=${PATCHLENS_RANDOM_DINOV3:-/tmp/dinov3_s16_random.pth}
if [ -n "${DINOV3_SRC:-}" ] && [ ! -f "$dino" ]; then
  /usr/bin/python3 tests/reference/make_random_dinov3.py "$DINOV3_SRC" "$dino" small
fi
if [ -f "$dino" ]; then
  for size in 1366x768 1920x1080; do
    w=${size%x*}
    d="tests/data/chelsea.png --weights $dino --size $size"
    shot dinov3_pca_$w $d --layer 12 --overlay pca --foreground 0.5 --dock foreground-pca
    shot dinov3_attention_$w $d --layer 6 --query cls --overlay attention --dock attention
    shot dinov3_token_norms_$w $d --layer 12 --overlay norm --dock token-norms
    shot dinov3_posembed_$w $d --dock posembed
  done
fi
# SigLIP 2 NaFlex in Hugging Face's layout with Siglip2ImageProcessor's preprocessor_config.json
# (issue 20): the image keeps its aspect, at most max_num_patches patches (the tiny random test
# model of tests/data/siglip2_hf: patch 8, width 32, 24 patches: 451x300 -> a 4 x 6 grid).
s2=$(mktemp -d)
cp tests/data/siglip2_hf/vision/model.safetensors tests/data/siglip2_hf/vision/config.json \
  tests/data/siglip2_hf/processor/preprocessor_config.json "$s2/"
shot siglip2_naflex_1366 tests/data/chelsea.png --weights "$s2/model.safetensors" --layer 2 \
  --layout transformer --size 1366x768
rm -r "$s2"
