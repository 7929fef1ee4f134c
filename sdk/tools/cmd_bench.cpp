// `ppmg bench`: being built (placeholder so the dispatch links; replaced by the real command).
#include "cli_common.hpp"

namespace ppmg::cli {

int runBench(int, char**) {
    printError("", "ppmg bench is not available in this build");
    return kFailure;
}

}  // namespace ppmg::cli
