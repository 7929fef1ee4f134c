// Validates a CDA document against the HL7 CDA XSD with libxml2, for the tests.
#pragma once

#include <string>

namespace ppmg::core {}
namespace ppmg::test {
using namespace ppmg::core;  // the tests read the plugin's internals

// "" when xml is well-formed and valid against the schema at xsdPath; otherwise the first few
// errors, one a line ("line N: message"). The schema is compiled once per path and shared; each
// call validates with its own context, so any thread may call this.
std::string validateCda(const std::string& xml, const std::string& xsdPath);

}  // namespace ppmg::test
