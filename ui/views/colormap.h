#pragma once

// Moved to ui/base/ (below the session and the views); kept for code that still includes
// it here.
#include "ui/base/colormap.h"
