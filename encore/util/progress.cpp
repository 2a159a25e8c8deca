#include "encore/util/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace encore {

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

Progress::Progress(std::string label, double total, bool quiet, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), quiet_(quiet),
      tty_(isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()) {
    // first report after 0.2 s on a terminal (no flicker for quick jobs), 5 s otherwise
    next_print_ns_ = tty_ ? 200'000'000 : 5'000'000'000;
}

Progress::~Progress() { finish(); }

double Progress::elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::add(double amount) {
    done_.fetch_add(amount, std::memory_order_relaxed);
    maybe_print(false);
}

void Progress::set(double done) {
    done_.store(done, std::memory_order_relaxed);
    maybe_print(false);
}

void Progress::note(const std::string& text) {
    {
        std::lock_guard lock(mutex_);
        note_ = text;
    }
    maybe_print(false);
}

void Progress::maybe_print(bool force) {
    if (quiet_) return;
    auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start_).count();
    std::int64_t due = next_print_ns_.load(std::memory_order_relaxed);
    if (!force) {
        if (now_ns < due) return;
        if (!next_print_ns_.compare_exchange_strong(due, now_ns + (tty_ ? 100'000'000 : 5'000'000'000)))
            return;  // another thread prints this round
    }
    std::lock_guard lock(mutex_);
    double done = done_.load(std::memory_order_relaxed);
    double secs = now_ns / 1e9;
    double rate = secs > 0 ? done / secs : 0.0;
    std::string unit = unit_.empty() ? "" : " " + unit_;
    std::string line;
    if (total_ > 0) {
        double frac = std::min(1.0, done / total_);
        double eta = rate > 0 ? (total_ - done) / rate : NAN;
        if (tty_) {
            constexpr int width = 28;
            int fill = static_cast<int>(frac * width);
            line = fmt::format("\r{} [{}{}] {:3.0f}% {}/{}{} {}{}/s {}", label_, std::string(fill, '#'),
                               std::string(width - fill, '.'), frac * 100, human(done), human(total_),
                               unit, human(rate), unit, force ? "in " + duration(secs) : "ETA " + duration(eta));
        } else {
            line = fmt::format("{}: {:.0f}% {}/{}{} {}{}/s {}", label_, frac * 100, human(done),
                               human(total_), unit, human(rate), unit,
                               force ? "in " + duration(secs) : "ETA " + duration(eta));
        }
    } else {
        line = fmt::format("{}{}: {}{} {}{}/s {}", tty_ ? "\r" : "", label_, human(done), unit, human(rate),
                           unit, duration(secs));
    }
    if (!note_.empty()) line += "  " + note_;
    if (tty_) line += "\x1b[K";  // clear the rest of the terminal line
    if (force || !tty_) line += "\n";
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    maybe_print(true);
}

void info(bool quiet, const std::string& message) {
    if (quiet) return;
    std::fputs(message.c_str(), stderr);
    std::fputc('\n', stderr);
}

}  // namespace encore
