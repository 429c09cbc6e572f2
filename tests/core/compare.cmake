# Issue 23: correspondences and the joint PCA of two images against numpy
# (tests/data/compare from tests/reference/compare_fixtures.py).
patchlens_add_qtest(tst_compare_analysis SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_compare_analysis.cpp
  LIBS patchlens_core LABELS core)
