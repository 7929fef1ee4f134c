// `ppmg validate FILE.xml`: checks a CDA document against the HL7 CDA schema (libxml2 XSD).
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include <cstdlib>
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"

namespace ppmg::cli {
namespace {

void collect(void* ctx, xmlErrorPtr err) {
    auto* errors = static_cast<std::vector<std::string>*>(ctx);
    if (!err || errors->size() >= 20) return;
    std::string msg = err->message ? err->message : "schema error";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    errors->push_back("line " + std::to_string(err->line) + ": " + msg);
}

}  // namespace

int runValidate(int argc, char** argv) {
    Args args;
    try {
        args = parseArgs(argc, argv, 2, {"--schema"}, {});
    } catch (const std::invalid_argument& e) {
        printError("", e.what());
        return kBadInput;
    }
    if (args.positional.size() != 1) {
        printError("", "expected one FILE: ppmg validate [--schema XSD] FILE.xml");
        return kBadInput;
    }
    const std::string file = args.positional.front();
    std::string schema = args.get("--schema");
    if (schema.empty() && std::getenv("PPMG_CDA_SCHEMA")) schema = std::getenv("PPMG_CDA_SCHEMA");
    if (schema.empty()) schema = PPMG_DEFAULT_CDA_SCHEMA;

    std::string data;
    try {
        data = readFile(file);
    } catch (const std::exception& e) {
        printError(file, e.what());
        return kBadInput;
    }
    std::vector<std::string> errors;
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(schema.c_str());
    xmlSchemaSetParserStructuredErrors(pctx, collect, &errors);
    xmlSchemaPtr xsd = pctx ? xmlSchemaParse(pctx) : nullptr;
    xmlSchemaFreeParserCtxt(pctx);
    if (!xsd) {
        printError(schema, "cannot load the CDA schema (use --schema PATH or PPMG_CDA_SCHEMA)" +
                               (errors.empty() ? std::string() : ": " + errors.front()));
        return kFailure;
    }
    errors.clear();
    xmlDocPtr doc = xmlReadMemory(data.data(), static_cast<int>(data.size()), file.c_str(), nullptr,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        xmlSchemaFree(xsd);
        printError(file, "not well-formed XML");
        return kBadInput;
    }
    xmlSchemaValidCtxtPtr vctx = xmlSchemaNewValidCtxt(xsd);
    xmlSchemaSetValidStructuredErrors(vctx, collect, &errors);
    int rc = xmlSchemaValidateDoc(vctx, doc);
    xmlSchemaFreeValidCtxt(vctx);
    xmlFreeDoc(doc);
    xmlSchemaFree(xsd);
    if (rc == 0) {
        std::cout << file << ": valid against " << schema << std::endl;
        return kOk;
    }
    for (const auto& e : errors) printError(file, e);
    printError(file, "not valid against the CDA schema");
    return kFailure;
}

}  // namespace ppmg::cli
