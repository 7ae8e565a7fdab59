// train/lr_schedule.h: the learning-rate schedule: linear warmup, then cosine
// decay to min_lr_ratio x the peak rate at the last step.
#pragma once

#include <cstdint>

#include "config/config.h"

namespace alro::train {

/// Learning rate for optimizer step `step` (0-based, 0 <= step < steps):
///   step <  warmup:  peak * (step + 1) / warmup
///   step >= warmup:  min + (peak - min) * (1 + cos(pi * progress)) / 2,
///                    progress = (step - warmup) / max(1, steps - 1 - warmup)
/// where peak = optimizer.lr and min = peak * schedule.min_lr_ratio. The first
/// warmup step is not 0 (a zero-rate step wastes a batch), the first step
/// after warmup is the peak and the last step is exactly the minimum.
double LearningRate(const config::OptimizerConfig& optimizer, const config::ScheduleConfig& schedule,
                    int64_t step);

}  // namespace alro::train
