// train/checkpoint.h: sharded checkpoints on shared storage, with resume and
// resharding: the whole module in one include. Each part has its own file:
//
//   checkpoint_format.h    the on-disk names and numbers (docs/checkpoint-format.md)
//   checkpoint_writer.h    the write protocol: rank files, manifest, atomic publication
//   checkpoint_dirs.h      directory policy: naming, complete ones, resume, retention
//   checkpoint_reader.h    reading any slice of a stored tensor at any shape
//   checkpoint_reshard.h   offline resharding to another (dp, tp) layout
//   checkpoint_identity.h  what a checkpoint records of the run's inputs
#pragma once

#include "train/checkpoint_dirs.h"
#include "train/checkpoint_format.h"
#include "train/checkpoint_identity.h"
#include "train/checkpoint_reader.h"
#include "train/checkpoint_reshard.h"
#include "train/checkpoint_writer.h"
