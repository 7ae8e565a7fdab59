// distributed/agreement.h: how ranks agree on an outcome or on values, each
// in one small collective: did any rank fail (and which one first), and do
// the ranks hold the same values (else which rank differs from which). What
// the values mean, and what to tell the user, is the caller's business.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "distributed/communicator.h"

namespace alro::dist {

/// The lowest rank of `comm` on which `failed` is true, or -1 when none.
/// Collective over `comm` (one all-reduce): every rank learns the same answer.
int FirstFailedRank(Communicator& comm, bool failed);

/// Every rank's verdict on a step some ranks may have failed: this rank's own
/// error when it failed; else, when another rank failed, an AbortedError
/// "rank R failed while <what>; see its error above" naming the first failed
/// rank (kAborted: the failed rank reports the cause, so a command may keep
/// quiet about it); else OK. Collective over `comm`.
absl::Status AgreeOnStatus(Communicator& comm, const absl::Status& local, absl::string_view what);

/// Every rank's `values` (the same count on every rank), gathered with one
/// all-gather: row r holds rank r's. Collective over `comm`.
std::vector<std::vector<uint64_t>> AllGatherValues(Communicator& comm, const std::vector<uint64_t>& values);

/// The disagreements on column `field` of a table from AllGatherValues, as
/// (rank, reference rank) pairs in rank order: rank r disagrees when its value
/// differs from that of its reference, the lowest rank whose column
/// `group_field` holds the same value as r's (group_field < 0: rank 0 for
/// every rank). Ranks of different groups may therefore differ freely.
std::vector<std::pair<int, int>> Disagreements(const std::vector<std::vector<uint64_t>>& table, size_t field,
                                               int group_field = -1);

}  // namespace alro::dist
