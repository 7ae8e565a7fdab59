// launch/thread_policy.h: the OpenMP thread count and wait policy every
// compute command (train, eval, rank) runs with.
//
// Why: LibTorch and Debian's OpenBLAS share one OpenMP runtime (libgomp).
// By default it starts one thread per core in every rank, so `mpirun -np 2`
// on two cores runs four busy threads, and its waiting threads spin: two
// threads were measured many times slower than one on a 2-core machine.
// libgomp reads OMP_NUM_THREADS and OMP_WAIT_POLICY once, when it is loaded,
// before main() runs; so when either is unset, alro sets it and re-executes
// itself (same PID, so mpirun and Slurm see nothing), once.
//
// The rule (ThreadsPerRank):
//   - a rank the launcher bound to a set of cores (mpirun --bind-to core,
//     srun --cpu-bind) uses every core of that set;
//   - an unbound rank gets an equal share of the node's cores:
//     cores / ranks on this node (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS
//     or SLURM_NTASKS_PER_NODE), at least 1;
//   - OMP_WAIT_POLICY=PASSIVE: idle threads sleep instead of spinning, so a
//     rank waiting in MPI or on another rank does not take a core from one
//     that computes.
// A variable the user set is never changed; ALRO_THREAD_POLICY=off turns
// the whole policy off.
#pragma once

#include <string>

namespace alro::launch {

/// The threads one rank should use: `affinity_cores` (the cores this process
/// may run on) when it is fewer than `online_cores` (the launcher bound the
/// rank), else online_cores / local_ranks; at least 1.
int ThreadsPerRank(int online_cores, int affinity_cores, int local_ranks);

/// The number of ranks on this node as the launcher's environment gives it
/// (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS, the first number of
/// SLURM_NTASKS_PER_NODE), or 1 when none is set or readable.
int LocalRanksFromEnvironment();

/// Sets OMP_NUM_THREADS and OMP_WAIT_POLICY where the environment leaves
/// them unset (see the file comment) and re-executes /proc/self/exe with
/// `argv` so that the OpenMP runtime reads them; returns (without exec) when
/// both were set already, when it has run once in this process chain, or
/// when ALRO_THREAD_POLICY=off. Call at the top of main(), before anything
/// starts a thread or MPI; `argv` must be main's, null-terminated.
void ApplyThreadPolicy(char** argv);

/// One line for plans and logs: the thread count and wait policy in effect
/// and whether alro or the environment chose them.
std::string ThreadPolicySummary();

}  // namespace alro::launch
