// launch/convert_main.cc: `alro-convert`, the `alro convert` command in a
// binary of its own without LibTorch. `alro` maps LibTorch and some 330
// shared libraries before main() (about 0.7 s of CPU and 165 MiB resident
// before any work); a conversion needs none of them, so this binary starts
// in milliseconds at some 15 MiB, which --memory-limit then leaves to the
// conversion. `alro-convert FLAGS` and `alro-convert convert FLAGS` are
// `alro convert FLAGS`.
#include <cstring>

#include "launch/commands.h"

int main(int argc, char** argv) {
  const bool named = argc > 1 && std::strcmp(argv[1], "convert") == 0;
  return alro::launch::RunConvert(argc - (named ? 2 : 1), argv + (named ? 2 : 1));
}
