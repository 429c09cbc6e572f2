# Core analyses of issue 5: channel statistics, filter PCA, position similarity, patch
# reconstruction. numpy fixtures: tests/data/analyses, written by
# tests/reference/analyses_fixtures.py. Included from tests/core/CMakeLists.txt.
foreach(unit channel_statistics filter_analysis position_similarity patch_reconstruction)
  patchlens_add_qtest(tst_${unit} SOURCES tst_${unit}.cpp LIBS patchlens_core LABELS core)
endforeach()
# Issue 12: attention rollout, attention distance, depth norms, foreground PCA. numpy
# fixture tests/data/analyses/attention.txt from tests/reference/attention_fixtures.py.
patchlens_add_qtest(tst_attention_analysis SOURCES tst_attention_analysis.cpp LIBS patchlens_core LABELS core)
# Issue 21: DINO's per-head attention masks. Fixture tests/data/dino_attention/masks.npz from
# tests/reference/dino_attention_fixtures.py (DINO's visualize_attention.py lines in torch).
patchlens_add_qtest(tst_attention_mask SOURCES tst_attention_mask.cpp LIBS patchlens_core LABELS core)
