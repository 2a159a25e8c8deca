#pragma once
// Wall-clock time as files and logs record it.
#include <chrono>
#include <ctime>
#include <string>

namespace encore {

// Now in UTC, ISO 8601 to the second: "2026-12-06T03:14:28Z".
inline std::string utc_now() {
    const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace encore
