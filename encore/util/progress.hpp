#pragma once
// Progress and status lines for long work, through a Reporter the caller supplies: the library never
// writes to stderr itself (the CLI's TerminalReporter draws today's bar). A null Reporter is silent.
// Progress is the cheap thread-safe counter: add() is one relaxed atomic add and a time check; whichever
// caller crosses the next report time hands the state to the Reporter (about 10 times a second).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace encore {

// One snapshot of a Progress. The views are valid only during the Reporter::progress call.
struct ProgressState {
    std::string_view label, unit, note;  // unit names what is counted ("rows", "MB"); note: e.g. "loss 0.0123"
    double done = 0, total = 0;          // total <= 0: unknown
    double elapsed_seconds = 0;
    bool finished = false;  // the last state of this Progress (sent exactly once)
};

// Receives progress and status messages; implementations must be thread-safe (several Progress objects
// may report at once). cancel() asks long work to stop; code polls cancelled() through Progress.
class Reporter {
public:
    virtual ~Reporter() = default;
    virtual void progress(const ProgressState& state) = 0;
    virtual void message(std::string_view text) = 0;
    void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
    bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> cancelled_{false};
};

class Progress {
public:
    // total <= 0: unknown total (count and rate only). reporter may be null (silent).
    Progress(std::string label, double total, Reporter* reporter, std::string unit = "");
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void add(double amount);
    void set(double done);
    // Extra text shown after the bar (e.g. "loss 0.0123"); thread-safe.
    void note(const std::string& text);
    // Sends the final state (finished = true). Called by the destructor if not called before.
    void finish();
    Reporter* reporter() const { return reporter_; }
    bool cancelled() const { return reporter_ && reporter_->cancelled(); }
    double elapsed_seconds() const;

private:
    void maybe_report(bool final);

    std::string label_, unit_, note_;
    double total_;
    Reporter* reporter_;
    bool finished_ = false;
    std::atomic<double> done_{0.0};
    std::atomic<std::int64_t> next_report_ns_{0};  // 0: the first add() reports
    std::chrono::steady_clock::time_point start_;
    std::mutex mutex_;
};

// A status line ("trained als on ...") to reporter; null = silent.
void report(Reporter* reporter, std::string_view message);

}  // namespace encore
