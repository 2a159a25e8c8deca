#include "encore/util/memory.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace encore {

namespace {

// Resident memory from /proc/self/status ("VmRSS" now, "VmHWM" the high-water mark), in bytes; -1 when
// unavailable (not Linux).
double proc_status_bytes(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) {
            std::istringstream s(line.substr(key.size()));
            double kb = 0;
            s >> kb;
            return kb * 1024.0;
        }
    return -1;
}

// Resets the high-water mark to the current RSS (Linux >= 4.0: "5" > /proc/self/clear_refs).
bool reset_peak_rss() {
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = std::fputs("5", f) >= 0;
    ok = (std::fclose(f) == 0) && ok;
    return ok;
}

}  // namespace

PeakMemoryMeter::PeakMemoryMeter() : start_bytes_(proc_status_bytes("VmRSS")) {
    ok_ = reset_peak_rss() && start_bytes_ >= 0;
}

double PeakMemoryMeter::peak_bytes_above_start() const {
    if (!ok_) return -1;
    const double peak = proc_status_bytes("VmHWM");
    return peak >= 0 ? std::max(0.0, peak - start_bytes_) : -1;
}

}  // namespace encore
