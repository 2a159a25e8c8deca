#pragma once
// The CLI's rendering of library progress and status lines on stderr: a bar with rate and ETA when
// stderr is a terminal, a plain line every few seconds otherwise, and the final line of each task.
#include <chrono>
#include <mutex>
#include <string_view>

#include "encore/util/progress.hpp"

namespace encore::cli {

class TerminalReporter : public Reporter {
public:
    TerminalReporter();
    void progress(const ProgressState& state) override;
    void message(std::string_view text) override;

private:
    bool tty_;
    std::chrono::steady_clock::time_point last_line_{};  // when the last (non-final) line was drawn
    std::mutex mutex_;
};

// The process-wide TerminalReporter, or null (silent) when quiet.
Reporter* stderr_reporter(bool quiet);

// A status line on stderr unless quiet.
void info(bool quiet, std::string_view message);

}  // namespace encore::cli
