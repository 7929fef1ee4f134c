// `ppmg listen`: the MLLP listener as a subcommand of the ppmg program.
#pragma once

namespace ppmg::cli {

// Parses the listen options (argv[2..]), loads the plugin and runs the listener until SIGTERM or
// SIGINT. Returns the exit status.
int runListen(int argc, char** argv);

}  // namespace ppmg::cli
