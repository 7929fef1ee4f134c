// `ppmg`: the reference host. It loads the plugin built or installed beside it.
#include <cstring>
#include <iostream>
#include <vector>

#include "audit_command.hpp"
#include "bench_command.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "listen_command.hpp"
#include "serve_command.hpp"

namespace {

const char* kUsage =
    "ppmg " PPMG_VERSION
    " - postpartum massage guidance from a FHIR R4 record\n"
    "\n"
    "usage:\n"
    "  ppmg assess [--as-of YYYY-MM-DD] [--format json|text] [--patient ID] FILE\n"
    "  ppmg render [--as-of YYYY-MM-DD] [--format cda|html|mdm] [--audience clinician|patient]\n"
    "              [--lang en|zh-CN] [--patient ID] [-o OUT] FILE\n"
    "  ppmg validate [--schema CDA.xsd] FILE.xml\n"
    "  ppmg serve --listen HOST:PORT --public-url URL --jwks ISSUER=FILE [...]   (see ppmg serve --help)\n"
    "  ppmg listen --mllp HOST:PORT [--forward HOST:PORT] [...]  (see ppmg listen --help)\n"
    "  ppmg audit --store S [--since D] [--patient ID]       (see ppmg audit --help)\n"
    "  ppmg bench [--as-of D] [--json] [--iterations N] [--threads N] FILE...\n"
    "  ppmg version\n"
    "  ppmg COMMAND --help   (or ppmg help COMMAND): the command's own usage\n"
    "\n"
    "FILE is FHIR R4 JSON or XML (a Bundle of any type, or a Patient), a C-CDA document,\n"
    "  or HL7 v2.3-2.8 messages (ER7); '-' reads stdin.\n"
    "Common options: --plugin PATH (default: beside this program), --content DIR,\n"
    "  --custodian NAME, --custodian-oid OID, --input-format auto|json|xml|ccda|hl7v2.\n"
    "Exit status: 0 done, 1 failure of the tool or environment, 2 bad input or usage.\n";

const char* kVersionUsage =
    "usage: ppmg version\n"
    "\n"
    "Prints the version of this program (the plugin's is in every assessment and document).\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace ppmg::cli;
    const bool askedHelp =
        argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help"));
    // `ppmg help COMMAND` is `ppmg COMMAND --help`.
    std::vector<char*> helpArgv;
    char helpFlag[] = "--help";
    if (askedHelp && argc == 3) {
        helpArgv = {argv[0], argv[2], helpFlag, nullptr};
        argc = 3;
        argv = helpArgv.data();
    } else if (argc < 2 || askedHelp) {
        std::cout << kUsage;
        return argc < 2 ? kBadInput : kOk;
    }
    const std::string cmd = argv[1];
    try {
        if (cmd == "assess") return runAssess(argc, argv);
        if (cmd == "render") return runRender(argc, argv);
        if (cmd == "validate") return runValidate(argc, argv);
        if (cmd == "serve") return runServe(argc, argv);
        if (cmd == "listen") return runListen(argc, argv);
        if (cmd == "audit") return runAudit(argc, argv);
        if (cmd == "bench") return runBench(argc, argv);
        if (cmd == "version" || cmd == "--version") {
            if (argc > 2 && (!std::strcmp(argv[2], "--help") || !std::strcmp(argv[2], "-h"))) {
                std::cout << kVersionUsage;
                return kOk;
            }
            if (argc > 2) {
                printError("", std::string("unexpected argument \"") + argv[2] + "\" (see ppmg version --help)");
                return kBadInput;
            }
            std::cout << "ppmg " PPMG_VERSION << std::endl;
            return kOk;
        }
    } catch (const std::exception& e) {
        printError("", std::string("unexpected error: ") + e.what());
        return kFailure;
    }
    printError("", "unknown command \"" + cmd + "\" (see ppmg --help)");
    return kBadInput;
}
