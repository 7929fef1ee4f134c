// `ppmg serve`: the CDS Hooks service as a subcommand of the ppmg program.
#pragma once

namespace ppmg::cli {

// Parses the serve options (argv[2..]), loads the plugin and runs the service until SIGTERM/SIGINT.
// Returns the exit status.
int runServe(int argc, char** argv);

}  // namespace ppmg::cli
