#include "encore/util/progress.hpp"

namespace encore {

namespace {
constexpr std::int64_t kReportEveryNs = 100'000'000;  // about 10 reports a second
}

Progress::Progress(std::string label, double total, Reporter* reporter, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), reporter_(reporter),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

double Progress::elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::add(double amount) {
    done_.fetch_add(amount, std::memory_order_relaxed);
    maybe_report(false);
}

void Progress::set(double done) {
    done_.store(done, std::memory_order_relaxed);
    maybe_report(false);
}

void Progress::note(const std::string& text) {
    {
        std::lock_guard lock(mutex_);
        note_ = text;
    }
    maybe_report(false);
}

void Progress::maybe_report(bool final) {
    if (!reporter_) return;
    const std::int64_t now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
    if (!final) {
        std::int64_t due = next_report_ns_.load(std::memory_order_relaxed);
        if (now_ns < due) return;
        if (!next_report_ns_.compare_exchange_strong(due, now_ns + kReportEveryNs)) return;  // another thread reports
    }
    std::lock_guard lock(mutex_);
    if (finished_) return;  // nothing after the final state
    finished_ = final;
    reporter_->progress({.label = label_, .unit = unit_, .note = note_, .done = done_.load(std::memory_order_relaxed),
                         .total = total_, .elapsed_seconds = now_ns / 1e9, .finished = final});
}

void Progress::finish() { maybe_report(true); }

void report(Reporter* reporter, std::string_view message) {
    if (reporter) reporter->message(message);
}

}  // namespace encore
