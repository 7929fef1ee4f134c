// The `ppmg` subcommands that live in tools/ (serve: services/cds_hooks/serve_command.hpp;
// bench: bench/bench_command.hpp).
#pragma once

namespace ppmg::cli {

int runAssess(int argc, char** argv);    // cmd_guidance.cpp
int runRender(int argc, char** argv);    // cmd_guidance.cpp
int runValidate(int argc, char** argv);  // cmd_validate.cpp

}  // namespace ppmg::cli
