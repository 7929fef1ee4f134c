// Shared by the fuzz targets: the invariants every input must keep, whatever it is.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/errors.hpp"
#include "ppmg/ppmg.hpp"

namespace ppmg::fuzz {

// A failure the fuzzer must report: abort, so libFuzzer saves the input.
[[noreturn]] inline void bug(const std::string& what) {
    std::fprintf(stderr, "ppmg fuzz invariant broken: %s\n", what.c_str());
    std::abort();
}

// Input may be refused only with an input status; anything else is a plugin bug.
inline void checkRefusal(const core::Error& e) {
    if (!isInputStatus(e.status())) bug(std::string("status ") + std::to_string(e.status()) + ": " + e.what());
    const std::string message = e.what();
    if (message.empty() || message.find('\n') != std::string::npos)
        bug("the message is empty or not one line: " + message);
}

}  // namespace ppmg::fuzz

// Each target's body, callable without libFuzzer by the regression replayer.
int ppmgFuzzFhirJson(const uint8_t* data, size_t size);
int ppmgFuzzFhirXml(const uint8_t* data, size_t size);
int ppmgFuzzHl7v2(const uint8_t* data, size_t size);
int ppmgFuzzRender(const uint8_t* data, size_t size);
int ppmgFuzzCcda(const uint8_t* data, size_t size);

#ifndef PPMG_FUZZ_REPLAY
#define PPMG_FUZZ_TARGET(fn) \
    extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return fn(data, size); }
#else
#define PPMG_FUZZ_TARGET(fn)
#endif
