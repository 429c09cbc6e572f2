#pragma once

#include <QString>

namespace patchlens {

class MainWindow;
struct LaunchOptions;

// Applies --layer, --head, --query and --foreground (issue 12) once the image is computed;
// false (with `error`) when the weights hold no transformer or a name does not exist;
// `badUsage` is set when the option names what the model does not have (exit 2).
bool applyTransformerOptions(MainWindow& window, const LaunchOptions& options, QString* error,
                             bool* badUsage = nullptr);

// --measure for a transformer (issue 12): layer change -> image view repainted, click ->
// attention maps updated and painted, open image -> final-layer PCA on screen.
QString measureTransformer(MainWindow& window, int repetitions = 30, int reopens = 5);

}  // namespace patchlens
