// launch/commands.h: the entry point of each `alro` subcommand.
//
// Each RunX receives the arguments after "alro X" and returns the process
// exit code. Each lives in its own cmd_X.cc; alro_main.cc dispatches.
#pragma once

namespace alro::launch {

int RunTrain(int argc, char** argv);    ///< alro train: fine-tune under mpirun
int RunEval(int argc, char** argv);     ///< alro eval: ranking metrics of a checkpoint
int RunRank(int argc, char** argv);     ///< alro rank: rank JSONL requests
int RunConvert(int argc, char** argv);  ///< alro convert: rating logs -> record shards
int RunData(int argc, char** argv);     ///< alro data inspect|verify
int RunCkpt(int argc, char** argv);     ///< alro ckpt inspect|reshard|export
int RunMetrics(int argc, char** argv);  ///< alro metrics: metrics of rankings JSONL

}  // namespace alro::launch
