// train/checkpoint_reshard.h: offline resharding (`alro ckpt reshard`): a
// checkpoint rewritten as a job of another (dp, tp) shape would save it.
// Loading does not need it (CheckpointReader::LoadInto reshards on the fly);
// it makes a checkpoint whose files match a target layout one to one.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "train/checkpoint_reader.h"

namespace alro::train {

/// Writes checkpoint `src` again under `dst_root` laid out as a job of
/// data_parallel x tensor_parallel ranks would save it (single process, one
/// target rank in memory at a time). A split tensor is cut into
/// tensor_parallel slices of ceil(n / tensor_parallel) rows, the decoder's
/// layout (vocabulary padding included); target rank r's state blobs are
/// saved rank r's (rank 0's when the source had fewer ranks).
absl::StatusOr<std::string> ReshardCheckpoint(const CheckpointReader& src, const std::string& dst_root,
                                              int data_parallel, int tensor_parallel);

}  // namespace alro::train
