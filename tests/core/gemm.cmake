# The packed GEMM (its blocking from the cache sizes, its exactness for every blocking) and
# the queue of the batch pipeline.
foreach(unit gemm_blocking packed_gemm work_queue)
  patchlens_add_qtest(tst_${unit} SOURCES tst_${unit}.cpp LIBS patchlens_core LABELS core)
endforeach()
