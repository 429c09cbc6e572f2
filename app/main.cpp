#include <malloc.h>

#include <QApplication>
#include <QCoreApplication>
#include <QSettings>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ui/launch_options.h"
#include "ui/main_window.h"
#include "ui/transformer_launch.h"

namespace {

void setApplicationIdentity() {
  QCoreApplication::setApplicationName(QStringLiteral("PatchLens"));
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLens"));
  QCoreApplication::setApplicationVersion(QStringLiteral(PATCHLENS_VERSION));
}

// --help and --version need no display: they are answered by a QCoreApplication, before the
// QApplication would load a platform plugin (and abort without one).
bool asksForHelpOrVersion(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    for (const char* name : {"-h", "--help", "-?", "--help-all", "-v", "--version"}) {
      if (std::strcmp(argv[i], name) == 0) return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // As patchlens-cli: libzip's per-member mktime re-reads /etc/localtime while TZ is unset.
  ::setenv("TZ", ":/etc/localtime", 0);
  if (asksForHelpOrVersion(argc, argv)) {
    QCoreApplication core(argc, argv);
    setApplicationIdentity();
    QString error;
    // Prints the help or version text and exits 0; returns only on bad usage.
    if (!patchlens::parseLaunchOptions(QCoreApplication::arguments(), &error)) {
      std::fprintf(stderr, "patchlens: error: %s\n", qPrintable(error));
      return 2;
    }
    return 0;
  }
  // Photos, tensors and embeddings (MBs each) get their own mappings, returned to the system
  // when freed: glibc's adaptive threshold would keep a replaced 12 MP image in the heap
  // (peak RSS over two 12 MP opens: 213 MB with it, 180 MB without).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  QApplication app(argc, argv);
  setApplicationIdentity();
  QApplication::setDesktopFileName(QStringLiteral("patchlens"));

  QString error;
  const auto options = patchlens::parseLaunchOptions(QApplication::arguments(), &error);
  if (!options) {
    std::fprintf(stderr, "patchlens: error: %s\n", qPrintable(error));
    return 2;
  }
  if (options->resetSettings) QSettings().clear();

  // Screenshots and measurements start from the defaults and leave the user's settings alone.
  const bool batch = !options->screenshot.isEmpty() || options->measure;
  patchlens::MainWindow window(nullptr, batch ? patchlens::MainWindow::SettingsMode::Ephemeral
                                              : patchlens::MainWindow::SettingsMode::Persistent);
  if (options->size.isValid()) window.resize(options->size);
  window.show();
  double openToPaintMs = 0.0;
  bool badUsage = false;
  const bool loaded =
      patchlens::applyLaunchOptions(window, *options, &error, &openToPaintMs, &badUsage);
  // An option that asks for what the image or model does not have (--head 12 of 12 heads,
  // --select outside the grid) is refused as bad usage, on screen or not.
  if (badUsage) {
    std::fprintf(stderr, "patchlens: error: %s\n", qPrintable(error));
    return 2;
  }
  if (!batch) return QApplication::exec();

  if (!loaded) {
    std::fprintf(stderr, "patchlens: error: %s\n", qPrintable(error));
    return 1;
  }
  patchlens::waitForSession(*window.session());
  QApplication::processEvents();
  if (options->measure) {
    const auto& result = window.session()->result();
    const auto& t = result->timings;
    std::printf(
        "%dx%d image: open -> image view painted with the overlay: %.1f ms (decode %.1f ms, "
        "weights + preprocess "
        "%.1f ms, embed %.1f ms, analyses + display images %.1f ms; then PCA %.1f ms); memory "
        "after the first "
        "image: %s\n",
        result->sourceSize.width(), result->sourceSize.height(), openToPaintMs, t.decodeMs,
        t.preprocessMs, t.embedMs, t.analysisMs, t.pcaMs, qPrintable(patchlens::memoryUsage()));
    std::printf("%s\n", qPrintable(patchlens::measureInteraction(window)));
    std::printf("%s\n", qPrintable(patchlens::measureTransformer(window)));
    std::printf("memory at the end: %s\n", qPrintable(patchlens::memoryUsage()));
  }
  if (!options->screenshot.isEmpty()) {
    QApplication::processEvents();
    if (!window.grab().save(options->screenshot)) {
      std::fprintf(stderr, "patchlens: error: %s: cannot write the screenshot\n",
                   qPrintable(options->screenshot));
      return 1;
    }
  }
  return 0;
}
