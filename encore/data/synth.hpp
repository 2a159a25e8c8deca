#pragma once
// A synthetic play log shaped like Last.fm 360K (user_sha1 \t artist_mbid \t artist_name \t plays,
// no header) with planted taste structure: every artist belongs to a genre and has a Zipf popularity;
// every user draws most artists from a main genre, some from two side genres, a few from global
// popularity. Lets demos and tests measure something real without shipping data.
//
// Shape: 90% of users have max_items_per_user distinct artists, the rest 1..max-1 (fewer when their
// genres are too small to fill the list); each user's rows are consecutive, most played first; plays
// are round(exp(N(4, 1.3))), at least 1; user ids are 40 lowercase hex digits (hash-like, unique);
// mbids are UUID-shaped (8-4-4-4-12 hex), empty for about 1% of artists; names are made of syllables,
// unique but for about 0.2% deliberate collisions, and some are not ASCII (UTF-8).
#include <cstdint>
#include <string>

namespace encore {

class Reporter;  // encore/util/progress.hpp

struct SynthOptions {
    std::int64_t users = 1000;
    std::int64_t items = 1000;       // artists; at most 2^31 - 1
    int genres = 16;                 // 1 .. items
    int max_items_per_user = 50;     // 1 .. items
    std::uint64_t seed = 0;
    int threads = 0;                 // 0 = all cores; the output does not depend on it
    Reporter* reporter = nullptr;  // progress in MB; null = silent
};

struct SynthReport {
    std::int64_t rows = 0;
    std::int64_t bytes = 0;
    double seconds = 0;
};

// Writes atomically (temp file + rename); progress in MB to options.reporter. Same options -> same
// bytes, whatever the thread count. Throws OptionError for options out of range, Error on I/O failure.
SynthReport write_synth(const std::string& path, const SynthOptions& options);

// The planted genre of item i / main genre of user u for those options (for tests of structure).
// Cheap (a hash each); throw OptionError for bad options and Error for an index out of range.
int synth_item_genre(const SynthOptions& options, std::int64_t item);
int synth_user_genre(const SynthOptions& options, std::int64_t user);

// How user u / artist i appear in the file for those options (cheap; same errors as above): lets tests
// and demos map rows back to the planted truth. synth_artist_mbid is "" for artists without one.
std::string synth_user_sha1(const SynthOptions& options, std::int64_t user);
std::string synth_artist_mbid(const SynthOptions& options, std::int64_t item);
std::string synth_artist_name(const SynthOptions& options, std::int64_t item);

}  // namespace encore
