#include "terminal_reporter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace encore::cli {

namespace {
std::string human(double x) {
    if (x >= 1e9) return fmt::format("{:.2f}G", x / 1e9);
    if (x >= 1e6) return fmt::format("{:.2f}M", x / 1e6);
    if (x >= 1e4) return fmt::format("{:.1f}k", x / 1e3);
    if (x == std::floor(x)) return fmt::format("{:.0f}", x);
    return fmt::format("{:.2f}", x);
}
std::string duration(double s) {
    if (!std::isfinite(s) || s < 0) return "?";
    if (s < 60) return fmt::format("{:.1f}s", s);
    int m = static_cast<int>(s / 60);
    return fmt::format("{}m{:02d}s", m, static_cast<int>(s - 60 * m));
}
}  // namespace

TerminalReporter::TerminalReporter() : tty_(isatty(STDERR_FILENO) != 0) {}

void TerminalReporter::progress(const ProgressState& s) {
    std::lock_guard lock(mutex_);
    if (!s.finished) {
        // A terminal: the first bar after 0.2 s (no flicker for quick jobs), redrawn at most every 0.1 s.
        // Otherwise a plain line every 5 s.
        const double first = tty_ ? 0.2 : 5.0, every = tty_ ? 0.1 : 5.0;
        const auto now = std::chrono::steady_clock::now();
        if (s.elapsed_seconds < first || std::chrono::duration<double>(now - last_line_).count() < every) return;
        last_line_ = now;
    }
    const double secs = s.elapsed_seconds;
    const double rate = secs > 0 ? s.done / secs : 0.0;
    const std::string unit = s.unit.empty() ? std::string() : fmt::format(" {}", s.unit);
    std::string line;
    if (s.total > 0) {
        const double frac = std::min(1.0, s.done / s.total);
        const double eta = rate > 0 ? (s.total - s.done) / rate : NAN;
        const std::string when = s.finished ? "in " + duration(secs) : "ETA " + duration(eta);
        if (tty_) {
            constexpr int width = 28;
            const int fill = static_cast<int>(frac * width);
            line = fmt::format("\r{} [{}{}] {:3.0f}% {}/{}{} {}{}/s {}", s.label, std::string(fill, '#'),
                               std::string(width - fill, '.'), frac * 100, human(s.done), human(s.total), unit,
                               human(rate), unit, when);
        } else {
            line = fmt::format("{}: {:.0f}% {}/{}{} {}{}/s {}", s.label, frac * 100, human(s.done), human(s.total),
                               unit, human(rate), unit, when);
        }
    } else {
        line = fmt::format("{}{}: {}{} {}{}/s {}", tty_ ? "\r" : "", s.label, human(s.done), unit, human(rate), unit,
                           duration(secs));
    }
    if (!s.note.empty()) line += fmt::format("  {}", s.note);
    if (tty_) line += "\x1b[K";  // clear the rest of the terminal line
    if (s.finished || !tty_) line += "\n";
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

void TerminalReporter::message(std::string_view text) {
    std::lock_guard lock(mutex_);
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fputc('\n', stderr);
}

Reporter* stderr_reporter(bool quiet) {
    static TerminalReporter reporter;
    return quiet ? nullptr : &reporter;
}

void info(bool quiet, std::string_view message) { report(stderr_reporter(quiet), message); }

}  // namespace encore::cli
