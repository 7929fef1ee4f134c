// FHIR JSON to FHIR XML, for the parity tests: the same record in both formats must give the same
// facts. It converts what ppmg's readers read (resources, elements, primitives, arrays, contained
// and Bundle entry resources); it leaves out what neither reads (extensions, primitive
// extensions "_x", the narrative's div). Element order follows the JSON (ppmg's reader does not
// depend on FHIR's element order).
#pragma once

#include <string>

namespace ppmg::test {

// Throws std::runtime_error when the text is not a JSON object with a resourceType.
std::string fhirJsonToXml(const std::string& json);

}  // namespace ppmg::test
