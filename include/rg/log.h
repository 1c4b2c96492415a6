// SPDX-License-Identifier: Apache-2.0
// Where the library's messages go (docs/library.md): warnings such as "a
// kernel runs oneDNN's slow reference implementation" or "CUDA graph capture
// failed", and debugging output asked for by environment variables. By
// default each line goes to stderr; a program sets its own callback to route
// them (a GUI, a log file, a test), or to drop the ones below a level, as ONNX
// Runtime's and ggml's logging callbacks do.
#pragma once

#include <functional>
#include <string_view>

namespace rg {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Receives one message (no trailing newline). May be called from any thread
// the library runs on; the callback must be thread-safe.
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

// Replaces the callback (an empty one restores the default: one line on
// stderr, prefixed "warning: " or "error: " for those levels). Returns the
// old one.
LogCallback set_log_callback(LogCallback callback);

// Sends a message to the current callback.
void log(LogLevel level, std::string_view message);

}  // namespace rg
