// `ppmg bench`: the benchmark harness as a subcommand of the ppmg program.
#pragma once

namespace ppmg::cli {

// Parses the bench options (argv[2..]), times documents through the C ABI and prints the figures.
// Returns the exit status.
int runBench(int argc, char** argv);

}  // namespace ppmg::cli
