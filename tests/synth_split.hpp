#pragma once
// A planted-structure play log for model tests: encore's generator writes it, ingest reads it (as a
// Last.fm 360K file), and a seeded 80/20 split per interaction gives the training set.
#include <cstdint>
#include <string>

#include "encore/data/ingest.hpp"
#include "encore/data/synth.hpp"
#include "encore/eval/split.hpp"

namespace encore::testing {

struct SynthSplit {
    Dataset all;
    Split split;
    Dataset train;  // all, with the split's training interactions in both orientations
};

// Writes the synthetic log to `plays` (a path the caller keeps) and splits it with split_seed.
inline SynthSplit synth_split(const std::string& plays, const SynthOptions& options, std::uint64_t split_seed) {
    write_synth(plays, options);
    IngestOptions io;
    io.format = InputFormat::lastfm360k;
    io.threads = 2;
    SynthSplit out;
    out.all = ingest({plays}, io);
    out.split = random_split(out.all.by_user, 0.2, split_seed, 2);
    out.train = out.all;
    out.train.by_user = out.split.train;
    out.train.by_item = out.split.train.transpose(2);
    return out;
}

}  // namespace encore::testing
