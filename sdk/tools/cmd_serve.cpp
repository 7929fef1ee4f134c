// `ppmg serve`: being built (placeholder so the dispatch links; replaced by the real command).
#include "cli_common.hpp"

namespace ppmg::cli {

int runServe(int, char**) {
    printError("", "ppmg serve is not available in this build");
    return kFailure;
}

}  // namespace ppmg::cli
