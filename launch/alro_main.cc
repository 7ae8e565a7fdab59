// launch/alro_main.cc: the `alro` command: dispatches to a subcommand.
#include <cstdio>
#include <cstring>
#include <string>

#include "common/allocator.h"
#include "launch/commands.h"
#include "launch/thread_policy.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
  bool computes;  // runs the model: gets the OpenMP thread policy (launch/thread_policy.h)
};

constexpr Subcommand kSubcommands[] = {
    {"train", alro::launch::RunTrain, "fine-tune a model into a list-wise ranker (under mpirun)", true},
    {"eval", alro::launch::RunEval, "ranking metrics of a checkpoint on a data split", true},
    {"rank", alro::launch::RunRank, "rank candidates for JSONL requests with a trained model", true},
    {"convert", alro::launch::RunConvert, "convert rating logs (MovieLens, Amazon, JSONL) to record shards", false},
    {"data", alro::launch::RunData, "inspect or verify a converted data set", false},
    {"ckpt", alro::launch::RunCkpt, "inspect, reshard or export a checkpoint", false},
    {"metrics", alro::launch::RunMetrics, "ranking metrics of a rankings JSONL file", false},
};

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: alro <command> [flags]   (alro <command> --help for its flags)\n\ncommands:\n");
  for (const Subcommand& s : kSubcommands) std::fprintf(out, "  %-8s %s\n", s.name, s.summary);
}

}  // namespace

int main(int argc, char** argv) {
  alro::ConfigureAllocator();
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Subcommand& s : kSubcommands) {
    if (std::strcmp(argv[1], s.name) != 0) continue;
    // Before anything starts a thread or MPI: it may re-execute the process.
    if (s.computes) alro::launch::ApplyThreadPolicy(argv);
    return s.run(argc - 2, argv + 2);
  }
  std::fprintf(stderr, "alro: unknown command '%s'\n\n", argv[1]);
  PrintUsage(stderr);
  return 2;
}
