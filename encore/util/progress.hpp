#pragma once
// Progress for long work: a bar with rate and ETA when stderr is a terminal, a plain line every few
// seconds otherwise, nothing when quiet. add() is thread-safe and cheap (one relaxed atomic add; the
// printing thread is whichever caller crosses the next report time).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace encore {

class Progress {
public:
    // total <= 0: unknown total (shows count and rate only). unit names what is counted ("rows", "MB").
    Progress(std::string label, double total, bool quiet, std::string unit = "");
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void add(double amount);
    void set(double done);
    // Extra text shown after the bar (e.g. "loss 0.0123"); thread-safe.
    void note(const std::string& text);
    // Prints the final line (elapsed, rate). Called by the destructor if not called before.
    void finish();
    bool quiet() const { return quiet_; }
    double elapsed_seconds() const;

private:
    void maybe_print(bool force);

    std::string label_, unit_, note_;
    double total_;
    bool quiet_, tty_, finished_ = false;
    std::atomic<double> done_{0.0};
    std::atomic<std::int64_t> next_print_ns_{0};
    std::chrono::steady_clock::time_point start_;
    std::mutex mutex_;
};

// A message on stderr unless quiet ("encore: ..."-style status lines).
void info(bool quiet, const std::string& message);

}  // namespace encore
