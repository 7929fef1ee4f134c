#include "cda_schema.hpp"

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include <map>
#include <memory>
#include <mutex>

namespace ppmg::test {
namespace {

constexpr int kMaxErrors = 5;

struct Errors {
    std::string text;
    int count = 0;
};

void collect(void* userData, xmlErrorPtr error) {
    auto* errors = static_cast<Errors*>(userData);
    if (error == nullptr || ++errors->count > kMaxErrors) return;
    std::string message = error->message != nullptr ? error->message : "unknown error";
    while (!message.empty() && message.back() == '\n') message.pop_back();
    errors->text += "line " + std::to_string(error->line) + ": " + message + "\n";
}

struct SchemaDeleter {
    void operator()(xmlSchemaPtr s) const { xmlSchemaFree(s); }
};

// Compiled schemas by path, kept for the life of the process. Compiling is serialised; a
// compiled schema is read-only and shared by concurrent validation contexts.
xmlSchemaPtr schemaFor(const std::string& path, std::string& error) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<xmlSchema, SchemaDeleter>> schemas;
    std::lock_guard<std::mutex> lock(mutex);
    auto found = schemas.find(path);
    if (found != schemas.end()) return found->second.get();

    xmlInitParser();
    Errors errors;
    xmlSchemaParserCtxtPtr parser = xmlSchemaNewParserCtxt(path.c_str());
    if (parser == nullptr) {
        error = "cannot read the schema " + path;
        return nullptr;
    }
    xmlSchemaSetParserStructuredErrors(parser, collect, &errors);
    xmlSchemaPtr schema = xmlSchemaParse(parser);
    xmlSchemaFreeParserCtxt(parser);
    if (schema == nullptr) {
        error = "cannot compile the schema " + path + ": " + errors.text;
        return nullptr;
    }
    schemas.emplace(path, std::unique_ptr<xmlSchema, SchemaDeleter>(schema));
    return schema;
}

}  // namespace

std::string validateCda(const std::string& xml, const std::string& xsdPath) {
    std::string error;
    xmlSchemaPtr schema = schemaFor(xsdPath, error);
    if (schema == nullptr) return error;

    std::unique_ptr<xmlParserCtxt, void (*)(xmlParserCtxtPtr)> parser(xmlNewParserCtxt(), xmlFreeParserCtxt);
    if (!parser) return "cannot allocate a parser";
    std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)> doc(
        xmlCtxtReadMemory(parser.get(), xml.data(), static_cast<int>(xml.size()), "cda.xml", nullptr,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
        xmlFreeDoc);
    if (!doc) {
        xmlErrorPtr e = xmlCtxtGetLastError(parser.get());
        return "not well-formed: line " + std::to_string(e != nullptr ? e->line : 0) + ": " +
               (e != nullptr && e->message != nullptr ? e->message : "unknown error");
    }

    std::unique_ptr<xmlSchemaValidCtxt, void (*)(xmlSchemaValidCtxtPtr)> validator(xmlSchemaNewValidCtxt(schema),
                                                                                   xmlSchemaFreeValidCtxt);
    if (!validator) return "cannot allocate a schema validation context";
    Errors errors;
    xmlSchemaSetValidStructuredErrors(validator.get(), collect, &errors);
    const int rc = xmlSchemaValidateDoc(validator.get(), doc.get());
    if (rc == 0) return "";
    if (errors.text.empty()) return "schema validation failed (libxml2 status " + std::to_string(rc) + ")";
    if (errors.count > kMaxErrors) errors.text += "... and " + std::to_string(errors.count - kMaxErrors) + " more\n";
    return errors.text;
}

}  // namespace ppmg::test
