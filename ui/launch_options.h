#pragma once

#include <QSize>
#include <QString>
#include <QStringList>
#include <optional>

#include "ui/session/session.h"

namespace patchlens {

class MainWindow;

// What `patchlens [IMAGE] [options]` asks for.
struct LaunchOptions {
  QString image;
  QString weights;
  std::optional<PatchPos> select;
  std::optional<PatchPos> hover;  // a synthetic mouse move there (shows the tooltip)
  QString overlay;                // channel:K | norm | mean | argmax | pca | similarity | none
  QString colormap;
  QString screenshot;
  QSize size;
  bool original = false;
  QString layout;  // a dock layout preset: "transformer" (View > Transformer Layout)
  QString dock;    // dock to raise: inspector | channel | model | matrix | filters | filter-pca |
                   // posembed | reconstruction
  bool measure = false;
  // A transformer's view (issue 12): --layer L|final|patch (tokens_L as in `forward`),
  // --head H (-1: the mean), --query cls|dist|reg N (a prefix token as the attention query),
  // --foreground T (the DINOv2 PCA dock's foreground step at threshold T).
  QString layer;
  std::optional<int> head;
  QString query;
  std::optional<double> foreground;
  // --source tokens|queries|keys|values (issue 21): the token views' feature source.
  QString source;
  // --heads N: the attention heads of the weight file's transformer, as the CLI's --heads
  // (overrides metadata, sidecar and the guess from the width; 0: no override).
  int heads = 0;
  bool fastDecode = false;  // the model panel's "Fast JPEG decode (approximate)"
  bool resetSettings = false;
};

// Parses the arguments (argv[0] first). On bad usage returns nullopt and sets `error`;
// --help / --version are handled by QCommandLineParser and exit.
std::optional<LaunchOptions> parseLaunchOptions(const QStringList& arguments, QString* error);

// Loads what the options name into the window, waits for the worker, applies selection
// and overlay. Returns false (with `error`) when loading failed. `openToPaintMs`, when
// given, receives the time from the image's open request to the image view painted with it.
// The names --dock accepts.
QStringList dockNames();

// `badUsage` is set when an option asks for what the image or model does not have
// (--select outside the grid, --head 12 of 12 heads, --layer 13 of 12 blocks): exit 2.
bool applyLaunchOptions(MainWindow& window, const LaunchOptions& options, QString* error,
                        double* openToPaintMs = nullptr, bool* badUsage = nullptr);

// Milliseconds from an open request to the image view painted with its first result (a
// preview, for a large JPEG) and with its exact result (the same when there is no preview).
struct OpenTiming {
  double firstMs = 0.0;
  double exactMs = 0.0;
};

// Opens `path` the way File > Open does, waits for the outcome and repaints the image view
// at once for the first and for the exact result. The bound is generous: a ViT-B's layers on a
// machine whose cores are shared with compilers take over a minute (--screenshot gave up).
OpenTiming openAndPaint(MainWindow& window, const QString& path, int timeoutMs = 300000);

// This process's peak and current resident memory ("VmHWM 123 MB, VmRSS 100 MB"), from
// /proc/self/status; empty where that does not exist.
QString memoryUsage();

// Waits (processing events) until the session has no work in flight.
bool waitForSession(const Session& session, int timeoutMs = 300000);

// Sleeps until an event arrives or maxMs pass, then processes the events. Unlike
// processEvents(flags, maxtime), which drops WaitForMoreEvents and spins, it leaves the cores
// to the worker a measurement is waiting for.
void waitForEvents(int maxMs);

// Channel change -> repaint and click -> updated inspector, timed with QElapsedTimer; then
// `reopens` more opens of the current image (open request -> painted overlay).
QString measureInteraction(MainWindow& window, int repetitions = 50, int reopens = 5);

}  // namespace patchlens
