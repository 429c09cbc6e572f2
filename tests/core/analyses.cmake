# Core analyses of issue 5: channel statistics, filter PCA, position similarity, patch
# reconstruction. numpy fixtures: tests/data/analyses, written by
# tests/reference/analyses_fixtures.py. Included from tests/core/CMakeLists.txt.
foreach(unit channel_statistics filter_analysis position_similarity patch_reconstruction)
  patchlens_add_qtest(tst_${unit} SOURCES tst_${unit}.cpp LIBS patchlens_core LABELS core)
endforeach()
