#pragma once
// A synthetic play log shaped like Last.fm 360K (user_sha1 \t artist_mbid \t artist_name \t plays,
// no header) with planted taste structure: every artist belongs to a genre and has a Zipf popularity;
// every user draws most artists from a main genre, some from two side genres, a few from global
// popularity. Lets demos and tests measure something real without shipping data.
#include <cstdint>
#include <string>

namespace encore {

struct SynthOptions {
    std::int64_t users = 1000;
    std::int64_t items = 1000;
    int genres = 16;
    int max_items_per_user = 50;
    std::uint64_t seed = 0;
    int threads = 0;
    bool quiet = false;
};

struct SynthReport {
    std::int64_t rows = 0;
    std::int64_t bytes = 0;
    double seconds = 0;
};

// Writes atomically. Same options -> same bytes (independent of threads).
SynthReport write_synth(const std::string& path, const SynthOptions& options);

// The planted genre of item i / main genre of user u for those options (for tests of structure).
int synth_item_genre(const SynthOptions& options, std::int64_t item);
int synth_user_genre(const SynthOptions& options, std::int64_t user);

}  // namespace encore
