// `ppmg assess` and `ppmg render`: one record in, the assessment or the document out.
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"

namespace ppmg::cli {
namespace {

struct Job {
    std::string file;
    std::string data;
    ppmg::Request request;
};

int runGuidance(int argc, char** argv, bool render) {
    std::vector<std::string> valued = engineOptions();
    for (const char* o :
         {"--as-of", "--format", "--patient", "--input-format", "-o", "--output", "--audience", "--lang"})
        valued.push_back(o);
    Args args;
    try {
        args = parseArgs(argc, argv, 2, valued, {});
    } catch (const std::invalid_argument& e) {
        printError("", std::string(e.what()) + " (see ppmg --help)");
        return kBadInput;
    }
    if (args.positional.size() != 1) {
        printError("", std::string("expected one FILE: ppmg ") + (render ? "render" : "assess") + " [options] FILE");
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
        else {
            printError("", "--format must be cda or html");
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
    else if (inputFormat != "auto") {
        printError("", "--input-format must be auto, json, xml or ccda");
        return kBadInput;
    }
    if (!job.request.asOf.empty() && (job.request.asOf.size() != 10 || job.request.asOf[4] != '-')) {
        printError("", "--as-of must be YYYY-MM-DD, got \"" + job.request.asOf + "\"");
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
        printException(job.file, e);
        return isInputError(e.status()) ? kBadInput : kFailure;
    }
    const std::string target = args.get("-o", args.get("--output"));
    try {
        if (target.empty() || target == "-") {
            std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
            std::cout.flush();
            if (!std::cout) throw std::runtime_error("cannot write to standard output");
        } else {
            writeFileAtomic(target, out);
            std::cerr << "ppmg: wrote " << target << " (" << out.size() << " bytes)" << std::endl;
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
