// `ppmg audit`: the AuditEvents and feedback of `ppmg serve`'s store, as NDJSON.
#pragma once

namespace ppmg::cli {

// ppmg audit --store S [--since D] [--patient ID]. Returns the exit status.
int runAudit(int argc, char** argv);

}  // namespace ppmg::cli
