// train/lr_schedule.cc: warmup + cosine (see lr_schedule.h).
#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace alro::train {

double LearningRate(const config::OptimizerConfig& optimizer, const config::ScheduleConfig& schedule,
                    int64_t step) {
  const double peak = optimizer.lr;
  const int64_t warmup = schedule.warmup_steps;
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double min_lr = peak * schedule.min_lr_ratio;
  const int64_t decay_steps = std::max<int64_t>(1, schedule.steps - 1 - warmup);
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(decay_steps));
  return min_lr + (peak - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace alro::train
