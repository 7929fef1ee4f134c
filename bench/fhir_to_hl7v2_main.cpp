// ppmg-fhir-to-hl7v2 FILE.json [OUT.hl7]: writes the HL7 v2 twin of a FHIR R4 JSON record
// (bench/fhir_to_hl7v2.hpp), for the benchmark's v2 inputs and for hand checks. Exit status 0
// written, 1 the record has no v2 twin (the reason on stderr), 2 usage or file errors.
#include <fstream>
#include <iostream>
#include <sstream>

#include "fhir_to_hl7v2.hpp"

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: ppmg-fhir-to-hl7v2 FILE.json [OUT.hl7]\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "ppmg-fhir-to-hl7v2: cannot read " << argv[1] << "\n";
        return 2;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string why;
    const auto twin = ppmg::bench::fhirJsonToHl7v2(text.str(), &why);
    if (!twin) {
        std::cerr << "ppmg-fhir-to-hl7v2: " << argv[1] << " has no HL7 v2 twin: " << why << "\n";
        return 1;
    }
    if (argc == 3) {
        std::ofstream out(argv[2], std::ios::binary);
        out << twin->messages;
        if (!out) {
            std::cerr << "ppmg-fhir-to-hl7v2: cannot write " << argv[2] << "\n";
            return 2;
        }
    } else {
        std::cout << twin->messages;
    }
    return 0;
}
