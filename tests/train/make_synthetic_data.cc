// tests/train/make_synthetic_data.cc: writes the training tests' synthetic
// data set into DIR/data (for the shell tests that drive the `alro` binary).
//
//   make_synthetic_data DIR
#include <cstdio>

#include "tests/train/synthetic_data.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const absl::Status status = alro::train::testing_util::WriteSyntheticDataset(argv[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "make_synthetic_data: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
