# core/embedding_analysis: hand-computed cases + numpy fixtures (tests/reference/analysis_fixtures.py).
patchlens_add_qtest(tst_embedding_analysis
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_embedding_analysis.cpp
  LIBS patchlens_core
  LABELS core)
