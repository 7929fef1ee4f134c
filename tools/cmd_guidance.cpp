// `ppmg assess` and `ppmg render`: one record in, the assessment or the document out.
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"

namespace ppmg::cli {
namespace {

const char* kAssessUsage =
    "usage: ppmg assess [options] FILE\n"
    "\n"
    "Assesses the record in FILE (FHIR R4 JSON or XML; '-' reads stdin) and writes the assessment.\n"
    "\n"
    "  --as-of YYYY-MM-DD    the date the rules evaluate as of (default: today, UTC)\n"
    "  --format json|text    JSON (default), or plain text for people\n"
    "  --patient ID          the Patient.id to assess when the record holds several\n"
    "  --input-format auto|json|xml   default: auto (by the first character)\n"
    "  -o, --output OUT      write OUT (a regular file, replaced whole) instead of stdout\n"
    "  --plugin PATH, --content DIR, --custodian NAME, --custodian-oid OID   (see ppmg --help)\n"
    "\n"
    "Exit status: 0 done, 1 failure of the tool or environment, 2 bad input or usage.\n";

const char* kRenderUsage =
    "usage: ppmg render [options] FILE\n"
    "\n"
    "Writes the HL7 CDA R2 guidance document (or its HTML view) for the record in FILE\n"
    "(FHIR R4 JSON or XML; '-' reads stdin).\n"
    "\n"
    "  --as-of YYYY-MM-DD    the date the rules evaluate as of (default: today, UTC)\n"
    "  --format cda|html     the CDA document (default), or its HTML view\n"
    "  --patient ID          the Patient.id to assess when the record holds several\n"
    "  --input-format auto|json|xml   default: auto (by the first character)\n"
    "  -o, --output OUT      write OUT (a regular file, replaced whole) instead of stdout\n"
    "  --plugin PATH, --content DIR, --custodian NAME, --custodian-oid OID   (see ppmg --help)\n"
    "\n"
    "Exit status: 0 done, 1 failure of the tool or environment, 2 bad input or usage.\n";

struct Job {
    std::string file;
    std::string data;
    ppmg::Request request;
};

int runGuidance(int argc, char** argv, bool render) {
    const char* command = render ? "render" : "assess";
    std::vector<std::string> valued = engineOptions();
    for (const char* o :
         {"--as-of", "--format", "--patient", "--input-format", "-o", "--output", "--audience", "--lang"})
        valued.push_back(o);
    Args args;
    try {
        args = parseArgs(argc, argv, 2, valued, {"--help", "-h"});
    } catch (const std::invalid_argument& e) {
        printError("", std::string(e.what()) + " (see ppmg " + command + " --help)");
        return kBadInput;
    }
    if (args.has("--help") || args.has("-h")) {
        std::cout << (render ? kRenderUsage : kAssessUsage);
        return kOk;
    }
    if (args.positional.size() != 1) {
        printError("", std::string("expected one FILE: ppmg ") + command + " [options] FILE (see ppmg " + command +
                           " --help)");
        return kBadInput;
    }
    Job job;
    job.file = args.positional.front();
    job.request.sourceName = job.file;
    job.request.asOf = args.get("--as-of");
    job.request.patientId = args.get("--patient");
    const std::string format = args.get("--format", render ? "cda" : "json");
    if (render) {
        if (format == "cda" || format == "xml")
            job.request.outputFormat = PPMG_OUTPUT_CDA;
        else if (format == "html")
            job.request.outputFormat = PPMG_OUTPUT_HTML;
        else if (format == "mdm")
            job.request.outputFormat = PPMG_OUTPUT_MDM;
        else {
            printError("", "--format must be cda, html or mdm");
            return kBadInput;
        }
    } else {
        if (format == "json")
            job.request.outputFormat = PPMG_OUTPUT_JSON;
        else if (format == "text")
            job.request.outputFormat = PPMG_OUTPUT_TEXT;
        else {
            printError("", "--format must be json or text");
            return kBadInput;
        }
    }
    if (render) {
        const std::string audience = args.get("--audience", "clinician");
        if (audience == "patient")
            job.request.audience = PPMG_AUDIENCE_PATIENT;
        else if (audience != "clinician") {
            printError("", "--audience must be clinician or patient");
            return kBadInput;
        }
        job.request.language = args.get("--lang");
    }
    const std::string inputFormat = args.get("--input-format", "auto");
    if (inputFormat == "json")
        job.request.inputFormat = PPMG_INPUT_FHIR_JSON;
    else if (inputFormat == "xml")
        job.request.inputFormat = PPMG_INPUT_FHIR_XML;
    else if (inputFormat == "ccda")
        job.request.inputFormat = PPMG_INPUT_CCDA;
    else if (inputFormat == "hl7v2")
        job.request.inputFormat = PPMG_INPUT_HL7V2;
    else if (inputFormat != "auto") {
        printError("", "--input-format must be auto, json, xml, ccda or hl7v2");
        return kBadInput;
    }
    // Only a missing --as-of means today: an empty one is a mistake (an unset shell variable).
    if (args.has("--as-of") &&
        (job.request.asOf.size() != 10 || job.request.asOf[4] != '-' || job.request.asOf[7] != '-')) {
        printError("", "--as-of must be YYYY-MM-DD, got \"" + job.request.asOf + "\"");
        return kBadInput;
    }
    if (args.has("--patient") && job.request.patientId.empty()) {
        printError("", "--patient needs a Patient.id, got \"\"");
        return kBadInput;
    }
    try {
        job.data = readFile(job.file, kDefaultMaxInputBytes);
    } catch (const std::exception& e) {
        printError(job.file, e.what());
        return kBadInput;
    }
    job.request.data = job.data;

    Session session;
    if (!openSessionOrReport(args, session)) return kFailure;
    std::string out;
    try {
        out = render ? session.engine->render(job.request) : session.engine->assess(job.request);
    } catch (const ppmg::Exception& e) {
        // The plugin's messages name no option of this command line; the hint does.
        printException(job.file, e, e.status() == PPMG_E_AMBIGUOUS_PATIENT ? "choose one with --patient ID" : "");
        return isInputError(e.status()) ? kBadInput : kFailure;
    }
    // Text is for a terminal: nothing from the record may reach it as a control character.
    if (job.request.outputFormat == PPMG_OUTPUT_TEXT) out = neutraliseControls(out, true);
    const std::string target = args.get("-o", args.get("--output"));
    try {
        if (target.empty() || target == "-") {
            std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
            std::cout.flush();
            if (!std::cout) throw std::runtime_error("cannot write to standard output");
        } else {
            writeFileAtomic(target, out);
            std::cerr << "ppmg: wrote " << neutraliseControls(target, false) << " (" << out.size() << " bytes)"
                      << std::endl;
        }
    } catch (const std::exception& e) {
        printError(target, e.what());
        return kFailure;
    }
    return kOk;
}

}  // namespace

int runAssess(int argc, char** argv) { return runGuidance(argc, argv, false); }
int runRender(int argc, char** argv) { return runGuidance(argc, argv, true); }

}  // namespace ppmg::cli
