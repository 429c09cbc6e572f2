# Image reading below the loader: header sizing (channels, depth, TIFF tags, JPEG scans), the
# libjpeg-turbo decoder's parity with PIL and OpenCV, and the escaping of messages.
# Fixtures: tests/data/images/jpeg (tests/reference/jpeg_fixtures.py) and tests/data/bad
# (tests/reference/make_bad_files.py). Included from tests/core/CMakeLists.txt.
foreach(unit image_header jpeg_decoder png_decoder error model_input_reader)
  patchlens_add_qtest(tst_${unit} SOURCES tst_${unit}.cpp LIBS patchlens_core LABELS core)
endforeach()
