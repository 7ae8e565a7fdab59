// tests/train/make_synthetic_data.cc: writes the training tests' synthetic
// rating log into DIR/raw (ratings.csv, movies.csv) for the shell tests that
// drive the `alro` binary; they convert it with `alro convert`.
//
//   make_synthetic_data DIR
#include <cstdio>

#include "tests/train/synthetic_data.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const absl::Status status = alro::train::testing_util::WriteSyntheticRatings(argv[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "make_synthetic_data: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
