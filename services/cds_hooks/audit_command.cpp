// `ppmg audit`: reads the store `ppmg serve` writes (SQLite or PostgreSQL) and prints one JSON
// object per line: the AuditEvents ({"type":"AuditEvent","resource":{...}}), then the feedback
// ({"type":"feedback",...}), each oldest first.
#include "audit_command.hpp"

#include <iostream>

#include "cds_audit.hpp"
#include "cds_store.hpp"
#include "cli_common.hpp"

namespace ppmg::cli {

namespace {

const char* kAuditUsage =
    "usage: ppmg audit --store sqlite:PATH|postgresql://... [--since YYYY-MM-DD|INSTANT] [--patient ID]\n"
    "\n"
    "Prints the AuditEvents (one per hook call) and the feedback that `ppmg serve` stored, as NDJSON:\n"
    "{\"type\":\"AuditEvent\",\"resource\":{...}} lines, then {\"type\":\"feedback\",...} lines, oldest first.\n"
    "  --since D      only what was recorded at or after D (a date is midnight UTC)\n"
    "  --patient ID   only what concerns this Patient.id\n"
    "  --only audit|feedback   one kind only\n"
    "\n"
    "Exit status: 0 printed (maybe nothing), 1 the store cannot be read, 2 bad usage.\n";

}  // namespace

int runAudit(int argc, char** argv) {
    Args args;
    int64_t since = 0;
    try {
        args = parseArgs(argc, argv, 2, {"--store", "--since", "--patient", "--only"}, {"--help", "-h"});
        if (args.has("--help") || args.has("-h")) {
            std::cout << kAuditUsage;
            return kOk;
        }
        if (!args.positional.empty()) throw std::invalid_argument("unexpected argument \"" + args.positional[0] + "\"");
        if (args.get("--store").empty()) throw std::invalid_argument("--store is required");
        if (args.has("--since") && !cds::parseSince(args.get("--since"), since))
            throw std::invalid_argument("--since must be YYYY-MM-DD or an instant, got \"" + args.get("--since") +
                                        "\"");
        const std::string only = args.get("--only");
        if (!only.empty() && only != "audit" && only != "feedback")
            throw std::invalid_argument("--only must be audit or feedback");
    } catch (const std::invalid_argument& e) {
        printError("audit", std::string(e.what()) + " (see ppmg audit --help)");
        return kBadInput;
    }
    const std::string patient = args.get("--patient"), only = args.get("--only");
    try {
        auto store = cds::Store::open(args.get("--store"), 1, false);
        if (only != "feedback")
            for (const cds::AuditRow& row : store->audits(since, patient)) std::cout << cds::auditLine(row) << '\n';
        if (only != "audit")
            for (const cds::FeedbackRow& row : store->feedback(since, patient))
                std::cout << cds::feedbackLine(row) << '\n';
        std::cout.flush();
    } catch (const std::exception& e) {
        printError("audit", e.what());
        return kFailure;
    }
    return std::cout ? kOk : kFailure;
}

}  // namespace ppmg::cli
